package train

import (
	"fmt"
	"math"

	"github.com/shrinkml/shrink/kernels"
	"github.com/shrinkml/shrink/onnxio"
)

// batchNormOp is BatchNormalization over dimension 1. With batch
// statistics (Training mode, or a node with training_mode=1) it normalizes
// with the batch's mean and population variance and, in Training mode,
// moves the running statistics toward them: running = running*momentum +
// batch*(1-momentum), as the ONNX spec defines it. Otherwise it uses the
// running statistics. A Relu that follows it can be fused in (see
// fuseRelu): the op then outputs the Relu's result.
type batchNormOp struct {
	eps, momentum float32
	nodeTraining  bool // training_mode=1 on the node
	updateState   bool // mean and var are weights: Training mode updates them
	nOut          int
	relu          bool // a following Relu is fused in
	// from the last forward pass
	batch bool
	normStats
	coefA, coefB []float32 // per channel: y = x*a + b before the Relu
}

func buildBatchNorm(b *buildCtx) (built, error) {
	if err := b.needInputs(5, 5); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1, 2, 3, 4); err != nil {
		return built{}, err
	}
	if b.opset < 9 && b.attrInt("spatial", 1) == 0 {
		return built{}, b.unsupported("spatial=0")
	}
	o := &batchNormOp{eps: b.attrFloat("epsilon", 1e-5), momentum: b.attrFloat("momentum", 0.9),
		nodeTraining: b.opset >= 14 && b.attrInt("training_mode", 0) != 0,
		updateState:  b.consts[3] != nil && b.consts[4] != nil, nOut: b.nOut}
	res := built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 7, saveIn: 3, constOut: ^uint64(1)}}
	if o.updateState {
		res.stateInputs = []int{3, 4}
	}
	return res, nil
}

// normStats holds the per-group mean and 1/sqrt(var+eps) of the last
// forward pass of a normalization, for backward.
type normStats struct {
	mean, invstd []float32
}

// resize makes mean and invstd n long, reusing their memory.
func (s *normStats) resize(n int) {
	if cap(s.mean) < n {
		s.mean, s.invstd = make([]float32, n), make([]float32, n)
	}
	s.mean, s.invstd = s.mean[:n], s.invstd[:n]
}

// meanInvStd returns the mean of xs and 1/sqrt(var+eps) of its population
// variance, accumulated in float64 in two passes.
func meanInvStd(xs []float32, eps float32) (mean, invstd float32) {
	var s float64
	for _, v := range xs {
		s += float64(v)
	}
	mu := s / float64(len(xs))
	var q float64
	for _, v := range xs {
		d := float64(v) - mu
		q += d * d
	}
	return float32(mu), float32(1 / math.Sqrt(q/float64(len(xs))+float64(eps)))
}

func init() {
	register("BatchNormalization", buildBatchNorm)
	register("LayerNormalization", buildLayerNorm)
	register("InstanceNormalization", buildInstanceNorm)
}

// fuseRelu makes the op apply a Relu to its output (forward) and mask
// its output gradient where that Relu was inactive (backward, recomputed
// from the kept input), when the op has no other output.
func (o *batchNormOp) fuseRelu(g gradSpec) (gradSpec, bool) {
	if o.nOut != 1 {
		return g, false
	}
	o.relu = true
	return g, true
}

func (o *batchNormOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, scale, bias, rmean, rvar := in[0], in[1], in[2], in[3], in[4]
	if len(x.shape) < 2 {
		return nil, fmt.Errorf("input of rank %d", len(x.shape))
	}
	C := x.shape[1]
	for _, p := range []*tensor{scale, bias, rmean, rvar} {
		if p.size() != C {
			return nil, fmt.Errorf("parameter of shape %v for %d channels", p.shape, C)
		}
	}
	N := x.shape[0]
	S := prod(x.shape[2:])
	m := N * S
	o.batch = c.train || o.nodeTraining
	o.resize(C)
	if cap(o.coefA) < C {
		o.coefA, o.coefB = make([]float32, C), make([]float32, C)
	}
	o.coefA, o.coefB = o.coefA[:C], o.coefB[:C]
	// The batch variance, then the new running mean and variance.
	stats := c.pool.floats(3 * C)
	defer c.pool.putFloats(stats)
	bvar, newMean, newVar := stats[:C], stats[C:2*C], stats[2*C:]
	if o.batch {
		if m == 0 {
			return nil, fmt.Errorf("batch statistics of an empty batch")
		}
		// One pass of float64 moments about the channel's first value,
		// which is near enough to the mean to avoid cancellation.
		parallelFor(c.threads, C, 1, func(lo, hi int) {
			for ch := lo; ch < hi; ch++ {
				shift := x.f[ch*S]
				var s, q float64
				for n := 0; n < N; n++ {
					ps, pq := kernels.Moments(x.f[(n*C+ch)*S:(n*C+ch+1)*S], shift)
					s, q = s+ps, q+pq
				}
				d := s / float64(m)
				v := max(q/float64(m)-d*d, 0)
				o.mean[ch] = float32(float64(shift) + d)
				bvar[ch] = float32(v)
				o.invstd[ch] = float32(1 / math.Sqrt(v+float64(o.eps)))
			}
		})
	} else {
		for ch := 0; ch < C; ch++ {
			o.mean[ch] = rmean.f[ch]
			bvar[ch] = rvar.f[ch]
			o.invstd[ch] = float32(1 / math.Sqrt(float64(rvar.f[ch])+float64(o.eps)))
		}
	}
	for ch := 0; ch < C; ch++ {
		o.coefA[ch] = scale.f[ch] * o.invstd[ch]
		o.coefB[ch] = bias.f[ch] - o.mean[ch]*o.coefA[ch]
	}
	y := c.pool.newFloat(cloneShape(x.shape))
	parallelFor(c.threads, N*C, max(1, elemGrain/max(S, 1)), func(lo, hi int) {
		for nc := lo; nc < hi; nc++ {
			ch := nc % C
			kernels.Affine(y.f[nc*S:(nc+1)*S], x.f[nc*S:(nc+1)*S], o.coefA[ch], o.coefB[ch], o.relu)
		}
	})
	res := []*tensor{y}
	// Optional outputs: running mean and variance (updated when batch
	// statistics were used), then (opset < 14) the batch mean and variance.
	for ch := 0; ch < C; ch++ {
		newMean[ch], newVar[ch] = rmean.f[ch], rvar.f[ch]
		if o.batch {
			newMean[ch] = rmean.f[ch]*o.momentum + o.mean[ch]*(1-o.momentum)
			newVar[ch] = rvar.f[ch]*o.momentum + bvar[ch]*(1-o.momentum)
		}
	}
	for k := 1; k < o.nOut; k++ {
		t := c.pool.newFloat([]int{C})
		switch k {
		case 1:
			copy(t.f, newMean)
		case 2:
			copy(t.f, newVar)
		case 3:
			copy(t.f, o.mean)
		case 4:
			copy(t.f, bvar)
		}
		res = append(res, t)
	}
	if c.train && o.updateState {
		copy(rmean.f, newMean)
		copy(rvar.f, newVar)
	}
	return res, nil
}

// backward: with g' the output gradient (masked by the fused Relu), xh =
// (x−μ)·inv and m values per channel, dbias = Σg', dscale = Σg'·xh and,
// with batch statistics, dx = scale·inv/m · (m·g' − dbias − xh·dscale),
// which kernels.AffineBackward computes as c1·g' + c2·x + c3; with fixed
// statistics dx = scale·inv·g'.
func (o *batchNormOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, scale, g := in[0], in[1], gout[0]
	C := x.shape[1]
	N := x.shape[0]
	S := prod(x.shape[2:])
	m := float64(N * S)
	dscale := make([]float32, C)
	dbias := make([]float32, C)
	coef := make([][3]float32, C)
	parallelFor(c.threads, C, 1, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			a, b, mu, inv := o.coefA[ch], o.coefB[ch], o.mean[ch], float64(o.invstd[ch])
			var sg, sgx float64
			for n := 0; n < N; n++ {
				ps, px := kernels.AffineGradSums(g.f[(n*C+ch)*S:(n*C+ch+1)*S], x.f[(n*C+ch)*S:(n*C+ch+1)*S], a, b, o.relu, mu)
				sg, sgx = sg+ps, sgx+px
			}
			ss := sgx * inv
			dbias[ch], dscale[ch] = float32(sg), float32(ss)
			if !o.batch {
				coef[ch] = [3]float32{a, 0, 0}
				continue
			}
			k := float64(scale.f[ch]) * inv / m
			c2 := -k * ss * inv
			coef[ch] = [3]float32{float32(k * m), float32(c2), float32(-k*sg - c2*float64(mu))}
		}
	})
	res := make([]*tensor, len(in))
	if want[0] {
		dx := c.pool.newFloat(cloneShape(x.shape))
		parallelFor(c.threads, N*C, max(1, elemGrain/max(S, 1)), func(lo, hi int) {
			for nc := lo; nc < hi; nc++ {
				ch := nc % C
				k := coef[ch]
				kernels.AffineBackward(dx.f[nc*S:(nc+1)*S], g.f[nc*S:(nc+1)*S], x.f[nc*S:(nc+1)*S], o.coefA[ch], o.coefB[ch], o.relu, k[0], k[1], k[2])
			}
		})
		res[0] = dx
	}
	if want[1] {
		t := c.pool.newFloat(cloneShape(in[1].shape))
		copy(t.f, dscale)
		res[1] = t
	}
	if want[2] {
		t := c.pool.newFloat(cloneShape(in[2].shape))
		copy(t.f, dbias)
		res[2] = t
	}
	return res, nil
}

// layerNormOp is LayerNormalization over the dimensions from axis on.
type layerNormOp struct {
	axis      int
	eps       float32
	nOut      int
	normStats // per normalized row
}

func buildLayerNorm(b *buildCtx) (built, error) {
	if err := b.needInputs(2, 3); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1, 2); err != nil {
		return built{}, err
	}
	o := &layerNormOp{axis: int(b.attrInt("axis", -1)), eps: b.attrFloat("epsilon", 1e-5), nOut: b.nOut}
	return built{op: o, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 7, saveIn: 3}}, nil
}

// layout returns the number of rows, their length, and the normalized
// shape.
func (o *layerNormOp) layout(x *tensor) (rows, n, axis int, err error) {
	axis, err = normAxis(o.axis, len(x.shape))
	if err != nil {
		return 0, 0, 0, err
	}
	return prod(x.shape[:axis]), prod(x.shape[axis:]), axis, nil
}

// full returns p broadcast to the normalized shape (p itself when it
// already has that many elements).
func full(p *tensor, norm []int) ([]float32, error) {
	if p.size() == prod(norm) {
		return p.f, nil
	}
	bs, err := broadcastShapes(p.shape, norm)
	if err != nil || !shapeEq(bs, norm) {
		return nil, fmt.Errorf("parameter of shape %v for normalized shape %v", p.shape, norm)
	}
	f := make([]float32, prod(norm))
	expandTo(f, p.f, p.shape, norm)
	return f, nil
}

func (o *layerNormOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x := in[0]
	rows, n, axis, err := o.layout(x)
	if err != nil {
		return nil, err
	}
	norm := x.shape[axis:]
	scale, err := full(in[1], norm)
	if err != nil {
		return nil, err
	}
	var bias []float32
	if len(in) > 2 && in[2] != nil {
		if bias, err = full(in[2], norm); err != nil {
			return nil, err
		}
	}
	o.resize(rows)
	y := c.pool.newFloat(cloneShape(x.shape))
	parallelFor(c.threads, rows, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xs, ys := x.f[r*n:(r+1)*n], y.f[r*n:(r+1)*n]
			m32, i32 := meanInvStd(xs, o.eps)
			o.mean[r], o.invstd[r] = m32, i32
			for i, v := range xs {
				ys[i] = (v - m32) * i32 * scale[i]
				if bias != nil {
					ys[i] += bias[i]
				}
			}
		}
	})
	res := []*tensor{y}
	statShape := cloneShape(x.shape)
	for i := axis; i < len(statShape); i++ {
		statShape[i] = 1
	}
	for k := 1; k < o.nOut; k++ {
		t := c.pool.newFloat(cloneShape(statShape))
		if k == 1 {
			copy(t.f, o.mean)
		} else {
			copy(t.f, o.invstd)
		}
		res = append(res, t)
	}
	return res, nil
}

func (o *layerNormOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, g := in[0], gout[0]
	rows, n, axis, err := o.layout(x)
	if err != nil {
		return nil, err
	}
	norm := x.shape[axis:]
	scale, err := full(in[1], norm)
	if err != nil {
		return nil, err
	}
	res := make([]*tensor, len(in))
	var gmean, ginv *tensor
	if len(gout) > 1 {
		gmean = gout[1]
	}
	if len(gout) > 2 {
		ginv = gout[2]
	}
	if want[0] {
		dx := c.pool.newFloat(cloneShape(x.shape))
		parallelFor(c.threads, rows, max(1, elemGrain/max(n, 1)), func(lo, hi int) {
			for r := lo; r < hi; r++ {
				xs, gs, ds := x.f[r*n:(r+1)*n], g.f[r*n:(r+1)*n], dx.f[r*n:(r+1)*n]
				mu, inv := o.mean[r], o.invstd[r]
				var s1, s2 float64
				for i, gv := range gs {
					gsc := float64(gv * scale[i])
					s1 += gsc
					s2 += gsc * float64((xs[i]-mu)*inv)
				}
				m1, m2 := float32(s1/float64(n)), float32(s2/float64(n))
				// Gradients reaching the Mean and InvStdDev outputs:
				// dmean/dx = 1/n, dinv/dx = -inv³(x-mean)/n.
				var gm, gi float32
				if gmean != nil {
					gm = gmean.f[r] / float32(n)
				}
				if ginv != nil {
					gi = -ginv.f[r] * inv * inv * inv / float32(n)
				}
				for i, gv := range gs {
					xh := (xs[i] - mu) * inv
					ds[i] = inv*(gv*scale[i]-m1-xh*m2) + gm + gi*(xs[i]-mu)
				}
			}
		})
		res[0] = dx
	}
	if want[1] || (len(in) > 2 && in[2] != nil && want[2]) {
		ds := make([]float32, n)
		db := make([]float32, n)
		for r := 0; r < rows; r++ {
			xs, gs := x.f[r*n:(r+1)*n], g.f[r*n:(r+1)*n]
			mu, inv := o.mean[r], o.invstd[r]
			for i, gv := range gs {
				ds[i] += gv * (xs[i] - mu) * inv
				db[i] += gv
			}
		}
		for k, d := range [][]float32{ds, db} {
			if k+1 >= len(in) || in[k+1] == nil || !want[k+1] {
				continue
			}
			t := c.pool.newFloat(cloneShape(in[k+1].shape))
			if t.size() == n {
				copy(t.f, d)
			} else {
				reduceTo(t.f, d, norm, in[k+1].shape)
			}
			res[k+1] = t
		}
	}
	return res, nil
}

// instanceNormOp is InstanceNormalization: each (image, channel) plane is
// normalized over its spatial positions, then scaled and shifted per
// channel.
type instanceNormOp struct {
	eps       float32
	normStats // per plane
}

func buildInstanceNorm(b *buildCtx) (built, error) {
	if err := b.needInputs(3, 3); err != nil {
		return built{}, err
	}
	if err := b.needFloat(0, 1, 2); err != nil {
		return built{}, err
	}
	return built{op: &instanceNormOp{eps: b.attrFloat("epsilon", 1e-5)}, out: outs(onnxio.Float32, b.nOut), grad: gradSpec{diffIn: 7, saveIn: 3}}, nil
}

func (o *instanceNormOp) forward(c *runCtx, in []*tensor) ([]*tensor, error) {
	x, scale, bias := in[0], in[1], in[2]
	if len(x.shape) < 3 {
		return nil, fmt.Errorf("input of rank %d", len(x.shape))
	}
	C := x.shape[1]
	if scale.size() != C || bias.size() != C {
		return nil, fmt.Errorf("scale %v and bias %v for %d channels", scale.shape, bias.shape, C)
	}
	planes, S := x.shape[0]*C, prod(x.shape[2:])
	o.resize(planes)
	y := c.pool.newFloat(cloneShape(x.shape))
	parallelFor(c.threads, planes, max(1, elemGrain/max(S, 1)), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs, ys := x.f[pl*S:(pl+1)*S], y.f[pl*S:(pl+1)*S]
			mu, inv := meanInvStd(xs, o.eps)
			o.mean[pl], o.invstd[pl] = mu, inv
			a := scale.f[pl%C] * inv
			b := bias.f[pl%C] - mu*a
			for i, v := range xs {
				ys[i] = v*a + b
			}
		}
	})
	return []*tensor{y}, nil
}

func (o *instanceNormOp) backward(c *runCtx, in, out, gout []*tensor, want []bool) ([]*tensor, error) {
	x, scale, g := in[0], in[1], gout[0]
	C := x.shape[1]
	planes, S := x.shape[0]*C, prod(x.shape[2:])
	sg := make([]float64, planes)  // Σ g per plane
	sgx := make([]float64, planes) // Σ g·xhat per plane
	for pl := 0; pl < planes; pl++ {
		mu, inv := o.mean[pl], o.invstd[pl]
		for i, gv := range g.f[pl*S : (pl+1)*S] {
			sg[pl] += float64(gv)
			sgx[pl] += float64(gv) * float64((x.f[pl*S+i]-mu)*inv)
		}
	}
	res := make([]*tensor, 3)
	if want[0] {
		dx := c.pool.newFloat(cloneShape(x.shape))
		m := float32(S)
		for pl := 0; pl < planes; pl++ {
			mu, inv := o.mean[pl], o.invstd[pl]
			k := scale.f[pl%C] * inv / m
			a, b := float32(sg[pl]), float32(sgx[pl])
			for i, gv := range g.f[pl*S : (pl+1)*S] {
				xh := (x.f[pl*S+i] - mu) * inv
				dx.f[pl*S+i] = k * (m*gv - a - xh*b)
			}
		}
		res[0] = dx
	}
	for k, sums := range [][]float64{sgx, sg} {
		if !want[k+1] {
			continue
		}
		t := c.pool.zeroFloat(cloneShape(in[k+1].shape))
		for pl, v := range sums {
			t.f[pl%C] += float32(v)
		}
		res[k+1] = t
	}
	return res, nil
}
