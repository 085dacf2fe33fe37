package train

import (
	"fmt"
	"math"
)

// The losses take a batch of rows (row-major, classes or features per row),
// return the loss averaged over the batch and, when grad is not nil (it
// must then have the length of the predictions), write d loss / d
// prediction into it. They compute in float64.

// CrossEntropy is the mean over rows of -log softmax(logits)[label], from
// raw logits and integer labels in [0, classes).
func CrossEntropy(logits []float32, classes int, labels []int64, grad []float32) (float32, error) {
	rows, err := checkRows("CrossEntropy", logits, classes, grad)
	if err != nil {
		return 0, err
	}
	if len(labels) != rows {
		return 0, fmt.Errorf("CrossEntropy: %d labels for %d rows", len(labels), rows)
	}
	var total float64
	p := make([]float64, classes)
	for r := 0; r < rows; r++ {
		l := labels[r]
		if l < 0 || l >= int64(classes) {
			return 0, fmt.Errorf("CrossEntropy: label %d of row %d outside [0, %d)", l, r, classes)
		}
		lse := softmax64(logits[r*classes:(r+1)*classes], 1, p)
		total += lse - float64(logits[r*classes+int(l)])
		if grad != nil {
			g := grad[r*classes : (r+1)*classes]
			for i := range g {
				g[i] = float32(p[i] / float64(rows))
			}
			g[l] -= float32(1 / float64(rows))
		}
	}
	return float32(total / float64(rows)), nil
}

// softmax64 writes softmax(x/T) into p and returns logsumexp(x/T).
func softmax64(x []float32, T float64, p []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v)/T)
	}
	var s float64
	for i, v := range x {
		p[i] = math.Exp(float64(v)/T - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return m + math.Log(s)
}

// KLDivergence is Hinton et al.'s distillation loss: T² times the mean over
// rows of KL(softmax(teacher/T) ‖ softmax(student/T)). Scaling by T² keeps
// the gradient's magnitude independent of the temperature; the gradient
// with respect to the student logits is T·(softmax(student/T) −
// softmax(teacher/T)) / rows.
func KLDivergence(student, teacher []float32, classes int, temperature float32, grad []float32) (float32, error) {
	rows, err := checkRows("KLDivergence", student, classes, grad)
	if err != nil {
		return 0, err
	}
	if len(teacher) != len(student) {
		return 0, fmt.Errorf("KLDivergence: %d teacher logits for %d student logits", len(teacher), len(student))
	}
	if !(temperature > 0) {
		return 0, fmt.Errorf("KLDivergence: temperature %g must be positive", temperature)
	}
	T := float64(temperature)
	ps := make([]float64, classes)
	pt := make([]float64, classes)
	var total float64
	for r := 0; r < rows; r++ {
		lses := softmax64(student[r*classes:(r+1)*classes], T, ps)
		lset := softmax64(teacher[r*classes:(r+1)*classes], T, pt)
		for i := 0; i < classes; i++ {
			if pt[i] == 0 {
				continue
			}
			// log pt - log ps = (t/T - lset) - (s/T - lses)
			lt := float64(teacher[r*classes+i])/T - lset
			ls := float64(student[r*classes+i])/T - lses
			total += pt[i] * (lt - ls)
		}
		if grad != nil {
			g := grad[r*classes : (r+1)*classes]
			for i := range g {
				g[i] = float32(T * (ps[i] - pt[i]) / float64(rows))
			}
		}
	}
	return float32(T * T * total / float64(rows)), nil
}

// MSE is the mean over all elements of (pred − target)².
func MSE(pred, target []float32, grad []float32) (float32, error) {
	if len(pred) != len(target) {
		return 0, fmt.Errorf("MSE: %d predictions for %d targets", len(pred), len(target))
	}
	if grad != nil && len(grad) != len(pred) {
		return 0, fmt.Errorf("MSE: gradient of length %d for %d predictions", len(grad), len(pred))
	}
	if len(pred) == 0 {
		return 0, fmt.Errorf("MSE of nothing")
	}
	n := float64(len(pred))
	var s float64
	for i, p := range pred {
		d := float64(p) - float64(target[i])
		s += d * d
		if grad != nil {
			grad[i] = float32(2 * d / n)
		}
	}
	return float32(s / n), nil
}

// Cosine is the mean over rows of 1 − cos(pred_r, target_r), rows of dim
// features (feature distillation). A zero row counts as orthogonal.
func Cosine(pred, target []float32, dim int, grad []float32) (float32, error) {
	rows, err := checkRows("Cosine", pred, dim, grad)
	if err != nil {
		return 0, err
	}
	if len(target) != len(pred) {
		return 0, fmt.Errorf("Cosine: %d targets for %d predictions", len(target), len(pred))
	}
	var total float64
	for r := 0; r < rows; r++ {
		a, b := pred[r*dim:(r+1)*dim], target[r*dim:(r+1)*dim]
		var ab, aa, bb float64
		for i := range a {
			ab += float64(a[i]) * float64(b[i])
			aa += float64(a[i]) * float64(a[i])
			bb += float64(b[i]) * float64(b[i])
		}
		na, nb := math.Sqrt(aa), math.Sqrt(bb)
		if na == 0 || nb == 0 {
			total++
			if grad != nil {
				clear(grad[r*dim : (r+1)*dim])
			}
			continue
		}
		cos := ab / (na * nb)
		total += 1 - cos
		if grad != nil {
			// d(1-cos)/da = -(b/(|a||b|) - cos·a/|a|²)
			g := grad[r*dim : (r+1)*dim]
			for i := range g {
				g[i] = float32(-(float64(b[i])/(na*nb) - cos*float64(a[i])/aa) / float64(rows))
			}
		}
	}
	return float32(total / float64(rows)), nil
}

func checkRows(name string, x []float32, dim int, grad []float32) (int, error) {
	if dim <= 0 {
		return 0, fmt.Errorf("%s: row size %d", name, dim)
	}
	if len(x) == 0 || len(x)%dim != 0 {
		return 0, fmt.Errorf("%s: %d values are not whole rows of %d", name, len(x), dim)
	}
	if grad != nil && len(grad) != len(x) {
		return 0, fmt.Errorf("%s: gradient of length %d for %d values", name, len(grad), len(x))
	}
	return len(x) / dim, nil
}
