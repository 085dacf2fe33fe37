package validate

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/shrinkml/shrink/onnxio"
)

// Box is an axis-aligned box in pixels of the model input: X0 ≤ X1, Y0 ≤ Y1.
type Box struct{ X0, Y0, X1, Y1 float64 }

func (b Box) area() float64 { return math.Max(0, b.X1-b.X0) * math.Max(0, b.Y1-b.Y0) }

// IoU is the intersection over union of two boxes (0 when both are empty).
func IoU(a, b Box) float64 {
	in := Box{math.Max(a.X0, b.X0), math.Max(a.Y0, b.Y0), math.Min(a.X1, b.X1), math.Min(a.Y1, b.Y1)}.area()
	u := a.area() + b.area() - in
	if u <= 0 {
		return 0
	}
	return in / u
}

// BoxOptions are the post-processing of a detector's probability map,
// PaddleOCR's DB post-processing simplified to axis-aligned boxes. The
// zero value of each field means its default.
type BoxOptions struct {
	// Threshold binarizes the map: p > Threshold is text (default 0.3).
	Threshold float64
	// BoxThreshold drops a region whose box has a mean probability below
	// it (default 0.6).
	BoxThreshold float64
	// Unclip widens each region's box by area × Unclip / perimeter on
	// every side (default 1.5): DB predicts text regions shrunk by that
	// much.
	Unclip float64
	// MinSize drops a region whose box is narrower than this many pixels
	// before widening (default 3).
	MinSize float64
	// IoU is the overlap at which a box matches a reference (default 0.5).
	IoU float64
}

func (o BoxOptions) withDefaults() BoxOptions {
	def := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Threshold, 0.3)
	def(&o.BoxThreshold, 0.6)
	def(&o.Unclip, 1.5)
	def(&o.MinSize, 3)
	def(&o.IoU, 0.5)
	return o
}

// ReadBoxes reads reference boxes, JSON Lines: one line per sample in the
// data set's order, each an array of [x0, y0, x1, y1] boxes in pixels of
// the model input ([] for a sample without text).
func ReadBoxes(path string) ([][]Box, error) {
	lines, err := readLines(path)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%s: no lines", path)
	}
	out := make([][]Box, len(lines))
	for i, l := range lines {
		var raw [][]float64
		if err := json.Unmarshal([]byte(l), &raw); err != nil {
			return nil, fmt.Errorf("%s: line %d: want a JSON array of [x0, y0, x1, y1] boxes: %v", path, i+1, err)
		}
		for j, b := range raw {
			if len(b) != 4 || !(b[0] <= b[2] && b[1] <= b[3]) {
				return nil, fmt.Errorf("%s: line %d: box %d is %v, want [x0, y0, x1, y1] with x0 ≤ x1 and y0 ≤ y1", path, i+1, j, b)
			}
			out[i] = append(out[i], Box{b[0], b[1], b[2], b[3]})
		}
	}
	return out, nil
}

// NewBoxTask returns the box task for a detector whose output is a
// probability map per sample ([N, 1, H, W] or [N, H, W]) and the reference
// boxes of each sample.
func NewBoxTask(boxes [][]Box, o BoxOptions) *Task {
	o = o.withDefaults()
	return &Task{Metric: Boxes, References: len(boxes), NewScorer: func() Scorer {
		return &boxScorer{refs: boxes, o: o}
	}}
}

type boxScorer struct {
	refs    [][]Box
	o       BoxOptions
	samples int64
	matched int64 // reference boxes matched (= predicted boxes matched)
	gt      int64
	pred    int64
	labels  []int32 // scratch: component labels of one map
}

// Add boxes each sample's map and matches the boxes with the references.
func (s *boxScorer) Add(out *onnxio.Tensor, first, n int) error {
	r := len(out.Shape)
	if r < 3 || out.Shape[0] != int64(n) || (r == 4 && out.Shape[1] != 1) || r > 4 {
		return fmt.Errorf("the boxes metric needs a probability map of shape [N, 1, H, W] or [N, H, W] (N = %d samples), got %v", n, out.Shape)
	}
	x, err := out.Float32s()
	if err != nil {
		return err
	}
	h, w := int(out.Shape[r-2]), int(out.Shape[r-1])
	for i := 0; i < n; i++ {
		k := first + i
		if k >= len(s.refs) {
			return fmt.Errorf("sample %d has no reference boxes (%d given)", k, len(s.refs))
		}
		pred := s.boxesOf(x[i*h*w:(i+1)*h*w], h, w)
		m := MatchBoxes(pred, s.refs[k], s.o.IoU)
		s.matched += int64(m)
		s.gt += int64(len(s.refs[k]))
		s.pred += int64(len(pred))
	}
	s.samples += int64(n)
	return nil
}

func (s *boxScorer) Partial() TaskPartial {
	return TaskPartial{Samples: s.samples, Sums: []Figure{
		{"matched", float64(s.matched)}, {"reference_boxes", float64(s.gt)}, {"predicted_boxes", float64(s.pred)},
	}}
}

// boxResult is the box metric's figures from its sums.
func boxResult(t TaskPartial) TaskResult {
	matched, gt, pred := t.Sum("matched"), t.Sum("reference_boxes"), t.Sum("predicted_boxes")
	recall, precision := ratio(matched, gt), ratio(matched, pred)
	hmean := 0.0
	if recall+precision > 0 {
		hmean = 2 * recall * precision / (recall + precision)
	}
	return TaskResult{Samples: t.Samples, Value: hmean, Figures: []Figure{
		{"hmean", hmean}, {"recall", recall}, {"precision", precision},
		{"matched", matched}, {"reference_boxes", gt}, {"predicted_boxes", pred},
	}}
}

// ratio is a/b, and 1 for 0/0 (nothing to find, nothing found).
func ratio(a, b float64) float64 {
	if b == 0 {
		return 1
	}
	return a / b
}

// boxesOf post-processes one h×w map: binarize at Threshold, label the
// 8-connected regions, box each (pixel centres, as OpenCV's contours),
// drop boxes whose mean probability is below BoxThreshold or whose
// shorter side is below MinSize, and widen the rest by the unclip
// distance, clipped to the map.
func (s *boxScorer) boxesOf(p []float32, h, w int) []Box {
	if cap(s.labels) < h*w {
		s.labels = make([]int32, h*w)
	}
	lab := s.labels[:h*w]
	for i := range lab {
		lab[i] = 0
	}
	thr := float32(s.o.Threshold)
	var out []Box
	var stack []int
	next := int32(0)
	for start, v := range p {
		if !(v > thr) || lab[start] != 0 {
			continue
		}
		next++
		lab[start] = next
		stack = append(stack[:0], start)
		x0, y0, x1, y1 := w, h, -1, -1
		for len(stack) > 0 {
			q := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			qy, qx := q/w, q%w
			x0, x1 = min(x0, qx), max(x1, qx)
			y0, y1 = min(y0, qy), max(y1, qy)
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					ny, nx := qy+dy, qx+dx
					if ny < 0 || ny >= h || nx < 0 || nx >= w {
						continue
					}
					j := ny*w + nx
					if lab[j] == 0 && p[j] > thr {
						lab[j] = next
						stack = append(stack, j)
					}
				}
			}
		}
		bw, bh := float64(x1-x0), float64(y1-y0)
		if math.Min(bw, bh) < s.o.MinSize {
			continue
		}
		var sum float64
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				sum += float64(p[y*w+x])
			}
		}
		if sum/float64((x1-x0+1)*(y1-y0+1)) < s.o.BoxThreshold {
			continue
		}
		d := bw * bh * s.o.Unclip / (2 * (bw + bh))
		out = append(out, Box{
			math.Max(0, float64(x0)-d), math.Max(0, float64(y0)-d),
			math.Min(float64(w), float64(x1)+d), math.Min(float64(h), float64(y1)+d),
		})
	}
	return out
}

// MatchBoxes matches predicted boxes with reference boxes one to one,
// pairs of highest IoU first, and returns the number of pairs with
// IoU ≥ minIoU.
func MatchBoxes(pred, ref []Box, minIoU float64) int {
	type pair struct {
		i, j int
		iou  float64
	}
	var pairs []pair
	for i, p := range pred {
		for j, r := range ref {
			if v := IoU(p, r); v >= minIoU {
				pairs = append(pairs, pair{i, j, v})
			}
		}
	}
	sort.SliceStable(pairs, func(a, b int) bool { return pairs[a].iou > pairs[b].iou })
	usedP, usedR := make([]bool, len(pred)), make([]bool, len(ref))
	n := 0
	for _, q := range pairs {
		if !usedP[q.i] && !usedR[q.j] {
			usedP[q.i], usedR[q.j] = true, true
			n++
		}
	}
	return n
}
