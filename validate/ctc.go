package validate

import (
	"fmt"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// ReadCTCDict reads a recognizer's character dictionary: one entry a line
// (PaddleOCR's ppocr_keys_v1.txt format). Class 0 of the model is the CTC
// blank, class i the dictionary's entry i−1; a model with one class more
// than that has the space as its last class (PaddleOCR's use_space_char).
func ReadCTCDict(path string) ([]string, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	for i, l := range lines {
		if l == "" {
			return nil, fmt.Errorf("%s: line %d is empty (every line is one dictionary entry)", path, i+1)
		}
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: the dictionary is empty", path)
	}
	return lines, nil
}

// NewCTCTask returns the CTC task for a recognizer with dictionary dict
// (see ReadCTCDict) and the reference text of each sample. Spaces are
// ignored when comparing (as PaddleOCR's recognition metric does).
func NewCTCTask(dict, texts []string) *Task {
	return &Task{Metric: CTC, References: len(texts), NewScorer: func() Scorer {
		return &ctcScorer{dict: dict, texts: texts}
	}}
}

// ctcScorer accumulates character and line accuracy.
type ctcScorer struct {
	dict  []string
	texts []string
	// classes maps a class index to its text ("" for the blank), set on
	// the first batch from the output's class count.
	classes []string
	samples int64
	correct int64 // lines decoded exactly
	edits   int64 // Σ edit distance
	chars   int64 // Σ reference length
}

func (c *ctcScorer) setClasses(k int) error {
	d := len(c.dict)
	switch k {
	case d + 1:
	case d + 2:
	default:
		return fmt.Errorf("the output has %d classes per step, the dictionary %d entries: want %d (blank + entries) or %d (blank + entries + space)", k, d, d+1, d+2)
	}
	c.classes = make([]string, k)
	copy(c.classes[1:], c.dict)
	if k == d+2 {
		c.classes[k-1] = " "
	}
	return nil
}

// Add decodes each sample of an [N, T, C] output greedily and compares it
// with its reference.
func (c *ctcScorer) Add(out *onnxio.Tensor, first, n int) error {
	if len(out.Shape) != 3 || out.Shape[0] != int64(n) {
		return fmt.Errorf("the ctc metric needs an output of shape [N, T, C] (N = %d samples), got %v", n, out.Shape)
	}
	x, err := out.Float32s()
	if err != nil {
		return err
	}
	steps, k := int(out.Shape[1]), int(out.Shape[2])
	if c.classes == nil {
		if err := c.setClasses(k); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		s := first + i
		if s >= len(c.texts) {
			return fmt.Errorf("sample %d has no reference text (%d given)", s, len(c.texts))
		}
		got := CTCDecode(x[i*steps*k:(i+1)*steps*k], steps, k, c.classes)
		want := dropSpaces(c.texts[s])
		got = dropSpaces(got)
		d := EditDistance(got, want)
		c.edits += int64(d)
		c.chars += int64(len([]rune(want)))
		if d == 0 {
			c.correct++
		}
	}
	c.samples += int64(n)
	return nil
}

func (c *ctcScorer) Partial() TaskPartial {
	return TaskPartial{Samples: c.samples, Sums: []Figure{
		{"edit_distance", float64(c.edits)}, {"chars", float64(c.chars)}, {"lines_correct", float64(c.correct)},
	}}
}

// ctcResult is the CTC metric's figures from its sums.
func ctcResult(t TaskPartial) TaskResult {
	edits, chars, correct := t.Sum("edit_distance"), t.Sum("chars"), t.Sum("lines_correct")
	r := TaskResult{Samples: t.Samples}
	charAcc := 1 - edits/chars
	if chars == 0 {
		charAcc = 0
		if edits == 0 {
			charAcc = 1
		}
	}
	line := correct / float64(t.Samples)
	r.Value = charAcc
	r.Figures = []Figure{
		{"char_accuracy", charAcc}, {"line_accuracy", line},
		{"edit_distance", edits}, {"chars", chars}, {"lines_correct", correct},
	}
	return r
}

// CTCDecode decodes one sample's [T, C] scores greedily: the best class of
// each step (the first maximum), runs of the same class merged, the blank
// (class 0) dropped; classes[i] is class i's text.
func CTCDecode(x []float32, steps, k int, classes []string) string {
	var sb strings.Builder
	prev := -1
	for t := 0; t < steps; t++ {
		best := argmax(x[t*k : (t+1)*k])
		if best != prev && best != 0 {
			sb.WriteString(classes[best])
		}
		prev = best
	}
	return sb.String()
}

func dropSpaces(s string) string { return strings.ReplaceAll(s, " ", "") }

// EditDistance is the Levenshtein distance between a and b in characters
// (runes): the fewest insertions, deletions and substitutions that turn
// one into the other.
func EditDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			sub := prev[j-1]
			if x[i-1] != y[j-1] {
				sub++
			}
			cur[j] = min(sub, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(y)]
}
