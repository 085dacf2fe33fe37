package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/onnxio"
)

// lossOp is NegativeLogLikelihoodLoss or SoftmaxCrossEntropyLoss (the
// latter is the former applied to LogSoftmax over axis 1, whose result is
// its optional second output). Input [N, C, d…], integer target [N, d…],
// optional class weights [C], reduction none, sum or mean (divided by the
// sum of the weights of the targets that are not ignore_index).
type lossOp struct {
	softmax   bool
	reduction string
	ignore    int64
	hasIgnore bool
	nOut      int
	// from the last forward pass
	wsum float64
}

func buildLoss(softmax bool) builder {
	return func(b *buildCtx) (built, error) {
		if err := b.needInputs(2, 3); err != nil {
			return built{}, err
		}
		if err := b.needFloat(0, 2); err != nil {
			return built{}, err
		}
		if d := b.input(1); d != onnxio.Int32 && d != onnxio.Int64 {
			return built{}, b.errorf("target is %s", d)
		}
		o := &lossOp{softmax: softmax, reduction: b.attrString("reduction", "mean"), nOut: b.nOut}
		switch o.reduction {
		case "none", "sum", "mean":
		default:
			return built{}, b.unsupported("reduction=%q", o.reduction)
		}
		if b.hasAttr("ignore_index") {
			o.hasIgnore, o.ignore = true, b.attrInt("ignore_index", 0)
		}
		g := gradSpec{diffIn: 1 | 4, saveIn: 2 | 4}
		if softmax {
			g.saveOut = 2 // backward uses the log-probabilities it computed
		} else {
			g.saveIn |= 1
		}
		return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: g}, nil
	}
}

func init() {
	register("NegativeLogLikelihoodLoss", buildLoss(false))
	register("SoftmaxCrossEntropyLoss", buildLoss(true))
}

// layout checks shapes and returns N, C and the positions per sample.
func (o *lossOp) layout(x, t *tensor) (N, C, D int, err error) {
	if len(x.shape) < 2 || len(t.shape) != len(x.shape)-1 || t.shape[0] != x.shape[0] {
		return 0, 0, 0, fmt.Errorf("loss input %v and target %v", x.shape, t.shape)
	}
	for i := 2; i < len(x.shape); i++ {
		if t.shape[i-1] != x.shape[i] {
			return 0, 0, 0, fmt.Errorf("loss input %v and target %v", x.shape, t.shape)
		}
	}
	return x.shape[0], x.shape[1], prod(x.shape[2:]), nil
}

// weightOf returns the weight of target class k (0 when ignored).
func (o *lossOp) weightOf(k int64, C int, w *tensor) (float32, error) {
	if o.hasIgnore && k == o.ignore {
		return 0, nil
	}
	if k < 0 || k >= int64(C) {
		return 0, fmt.Errorf("target %d outside [0, %d)", k, C)
	}
	if w == nil {
		return 1, nil
	}
	return w.f[k], nil
}

func logSoftmaxAxis1(dst, x []float32, N, C, D int) {
	for n := 0; n < N; n++ {
		for d := 0; d < D; d++ {
			base := n*C*D + d
			m := float32(math.Inf(-1))
			for c := 0; c < C; c++ {
				m = max(m, x[base+c*D])
			}
			var s float64
			for c := 0; c < C; c++ {
				s += math.Exp(float64(x[base+c*D] - m))
			}
			ls := float32(math.Log(s))
			for c := 0; c < C; c++ {
				dst[base+c*D] = x[base+c*D] - m - ls
			}
		}
	}
}

func (o *lossOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, t := in[0], in[1]
	var w *tensor
	if len(in) > 2 {
		w = in[2]
	}
	N, C, D, err := o.layout(x, t)
	if err != nil {
		return nil, err
	}
	if w != nil && w.size() != C {
		return nil, fmt.Errorf("loss weight of shape %v for %d classes", w.shape, C)
	}
	lp := x.f
	var logp *tensor
	if o.softmax {
		logp = c.pool.newFloat(cloneShape(x.shape))
		logSoftmaxAxis1(logp.f, x.f, N, C, D)
		lp = logp.f
	}
	per := make([]float32, N*D)
	var sum, wsum float64
	for n := 0; n < N; n++ {
		for d := 0; d < D; d++ {
			k := t.i[n*D+d]
			wt, err := o.weightOf(k, C, w)
			if err != nil {
				c.pool.release(logp)
				return nil, err
			}
			if wt == 0 {
				continue
			}
			v := -lp[(n*C+int(k))*D+d] * wt
			per[n*D+d] = v
			sum += float64(v)
			wsum += float64(wt)
		}
	}
	o.wsum = wsum
	var y *tensor
	switch o.reduction {
	case "none":
		y = c.pool.newFloat(cloneShape(t.shape))
		copy(y.f, per)
	case "sum":
		y = c.pool.newFloat([]int{})
		y.f[0] = float32(sum)
	default:
		y = c.pool.newFloat([]int{})
		y.f[0] = float32(sum / wsum)
	}
	res := []*tensor{y}
	if o.nOut > 1 {
		res = append(res, logp)
	} else if logp != nil {
		c.pool.release(logp)
	}
	return res, nil
}

func (o *lossOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, t := in[0], in[1]
	var w *tensor
	if len(in) > 2 {
		w = in[2]
	}
	N, C, D, err := o.layout(x, t)
	if err != nil {
		return nil, err
	}
	// d loss / d log-probabilities.
	dlp := c.pool.zeroFloat(cloneShape(x.shape))
	if g := gout[0]; g != nil {
		for n := 0; n < N; n++ {
			for d := 0; d < D; d++ {
				k := t.i[n*D+d]
				wt, err := o.weightOf(k, C, w)
				if err != nil || wt == 0 {
					continue
				}
				var gv float32
				switch o.reduction {
				case "none":
					gv = g.f[n*D+d]
				case "sum":
					gv = g.f[0]
				default:
					gv = float32(float64(g.f[0]) / o.wsum)
				}
				dlp.f[(n*C+int(k))*D+d] -= wt * gv
			}
		}
	}
	res := make([]*tensor, len(in))
	lp := x.f
	if o.softmax {
		if len(out) > 1 && out[1] != nil && out[1].f != nil {
			lp = out[1].f
		} else {
			tmp := c.pool.newFloat(cloneShape(x.shape))
			defer c.pool.release(tmp)
			logSoftmaxAxis1(tmp.f, x.f, N, C, D)
			lp = tmp.f
		}
	}
	if w != nil && len(want) > 2 && want[2] {
		res[2] = o.weightGrad(c, lp, t, w, gout[0], N, C, D)
	}
	if !want[0] {
		c.pool.release(dlp)
		return res, nil
	}
	if !o.softmax {
		res[0] = dlp
		return res, nil
	}
	if len(gout) > 1 && gout[1] != nil {
		for i, v := range gout[1].f {
			dlp.f[i] += v
		}
	}
	// Through LogSoftmax: dx = dlp − softmax · Σ_c dlp.
	for n := 0; n < N; n++ {
		for d := 0; d < D; d++ {
			base := n*C*D + d
			var s float32
			for k := 0; k < C; k++ {
				s += dlp.f[base+k*D]
			}
			for k := 0; k < C; k++ {
				dlp.f[base+k*D] -= float32(math.Exp(float64(lp[base+k*D]))) * s
			}
		}
	}
	res[0] = dlp
	return res, nil
}

// weightGrad is d loss / d class weights: each counted target contributes
// −logp (its weighted term's derivative); the mean's denominator adds
// −loss per counted target.
func (o *lossOp) weightGrad(c *runCtx, lp []float32, t, w, g *tensor, N, C, D int) *tensor {
	gw := c.pool.zeroFloat(cloneShape(w.shape))
	if g == nil {
		return gw
	}
	var loss float64
	if o.reduction == "mean" {
		var s float64
		for n := 0; n < N; n++ {
			for d := 0; d < D; d++ {
				k := t.i[n*D+d]
				if wt, err := o.weightOf(k, C, w); err == nil && wt != 0 {
					s -= float64(lp[(n*C+int(k))*D+d]) * float64(wt)
				}
			}
		}
		loss = s / o.wsum
	}
	for n := 0; n < N; n++ {
		for d := 0; d < D; d++ {
			k := t.i[n*D+d]
			if o.hasIgnore && k == o.ignore || k < 0 || k >= int64(C) {
				continue
			}
			term := -float64(lp[(n*C+int(k))*D+d])
			switch o.reduction {
			case "none":
				gw.f[k] += float32(term * float64(g.f[n*D+d]))
			case "sum":
				gw.f[k] += float32(term * float64(g.f[0]))
			default:
				gw.f[k] += float32((term - loss) / o.wsum * float64(g.f[0]))
			}
		}
	}
	return gw
}
