package validate

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// Task metrics score a model's output against references that are not one
// class label per sample: a text line per sample (CTC), boxes per sample
// (Boxes). They come with their references as a Task.
const (
	// CTC decodes a sequence recognizer's [N, T, C] output greedily (best
	// class per step, repeats merged, blanks dropped) and scores the text
	// against one reference line per sample: character accuracy
	// 1 − Σ edit distance / Σ reference length, and line accuracy.
	CTC Metric = "ctc"
	// Boxes thresholds a detector's probability map, boxes its connected
	// regions (DB post-processing, simplified) and matches them with the
	// reference boxes at IoU ≥ 0.5: recall, precision and their harmonic
	// mean.
	Boxes Metric = "boxes"
)

// IsTask reports whether m is scored by a Task (Options.Task) rather than
// against integer labels.
func (m Metric) IsTask() bool { return m == CTC || m == Boxes }

// Scorer accumulates a task metric of one model, batch by batch. Its
// memory does not depend on the number of samples.
type Scorer interface {
	// Add scores one batch of the model's compared output: out's first
	// dimension holds the n samples of the batch, the first of which is
	// sample number first of the data set.
	Add(out *onnxio.Tensor, first, n int) error
	// Partial returns the sums of the samples added so far (see
	// TaskPartial); Task.Summarize turns them into the metric's figures.
	Partial() TaskPartial
}

// TaskPartial is a task metric's mergeable state: named sums (counts,
// edit distances, reference lengths, box matches) that the parts of a data
// set evaluated apart (shards) add up by name into the sums of the whole.
// A metric's figures are computed from them only, so a merged result is
// computed as an unsharded one is.
type TaskPartial struct {
	Samples int64
	Sums    []Figure
}

// Sum returns the sum named name (0 when absent).
func (t TaskPartial) Sum(name string) float64 {
	for _, f := range t.Sums {
		if f.Name == name {
			return f.Value
		}
	}
	return 0
}

// TaskResult is a task metric's summary.
type TaskResult struct {
	Samples int64
	// Value is the headline figure (higher is better): character
	// accuracy for CTC, the harmonic mean of recall and precision for
	// Boxes.
	Value float64
	// Figures are every figure of the metric, the headline first.
	Figures []Figure
}

// Figure is one named figure of a task metric.
type Figure struct {
	Name  string
	Value float64
}

// Task is a metric with its references. Options.Task makes Run and
// Reference score every model with a Scorer of its own; it is the way to
// plug in a metric of one's own (any Metric name, any Scorer).
type Task struct {
	Metric Metric
	// References is the number of samples the task has references for
	// (-1: unknown); a sample past them is an error.
	References int
	// NewScorer returns a fresh accumulator.
	NewScorer func() Scorer
	// Summarize turns a scorer's sums into the metric's figures; nil
	// means SummarizeTask's for Metric (ctc, boxes).
	Summarize func(TaskPartial) TaskResult
}

// SummarizeTask computes the figures of a built-in task metric (ctc,
// boxes) from its sums: what `shrink report` uses to merge shards.
func SummarizeTask(m Metric, t TaskPartial) (TaskResult, error) {
	switch m {
	case CTC:
		return ctcResult(t), nil
	case Boxes:
		return boxResult(t), nil
	}
	return TaskResult{}, fmt.Errorf("no summary for task metric %q (a plug-in metric summarizes its own sums: Task.Summarize)", m)
}

// Find returns the figure named name.
func (r TaskResult) Find(name string) (float64, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f.Value, true
		}
	}
	return 0, false
}

// readLines reads a UTF-8 text file as lines ("\n" or "\r\n" endings; the
// newline after the last line is optional). Empty lines are kept.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		out = append(out, strings.TrimSuffix(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ReadTexts reads the reference text of each sample, one line per sample
// in the data set's order.
func ReadTexts(path string) ([]string, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no lines", path)
	}
	return lines, nil
}
