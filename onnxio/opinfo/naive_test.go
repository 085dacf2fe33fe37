package opinfo

import (
	"fmt"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/onnxio/onnxpb"
)

// naive runs node n by the ONNX definition with plain loops, counting
// every multiply-accumulate it performs (padding positions included, as
// an im2col/GEMM kernel computes them). It returns the output values
// (row-major) and the count. outShape is the expected output's shape,
// which ConvTranspose needs when its pads come from output_shape.
func naive(n *onnxpb.NodeProto, ins []*onnxio.Tensor, outShape []int64) ([]float64, int64, error) {
	vals := make([][]float64, max(len(ins), 3))
	for i, t := range ins {
		if t == nil {
			continue
		}
		f, err := t.Float32s()
		if err != nil {
			return nil, 0, err
		}
		vals[i] = make([]float64, len(f))
		for j, v := range f {
			vals[i][j] = float64(v)
		}
	}
	shape := func(i int) []int64 {
		if i < len(ins) && ins[i] != nil {
			return ins[i].Shape
		}
		return nil
	}
	switch n.GetOpType() {
	case "Conv":
		return naiveConv(n, vals, shape(0), shape(1), outShape)
	case "ConvTranspose":
		return naiveConvTranspose(n, vals, shape(0), shape(1), outShape)
	case "Gemm":
		return naiveGemm(n, vals, shape(0), shape(1), shape(2))
	case "MatMul":
		return naiveMatMul(vals, shape(0), shape(1))
	}
	return nil, 0, fmt.Errorf("no naive %s", n.GetOpType())
}

// unravel turns a flat row-major index into a multi-index.
func unravel(flat int64, shape []int64) []int64 {
	idx := make([]int64, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		idx[d], flat = flat%shape[d], flat/shape[d]
	}
	return idx
}

func ravel(idx, shape []int64) int64 {
	var f int64
	for d := range shape {
		f = f*shape[d] + idx[d]
	}
	return f
}

func ints(n *onnxpb.NodeProto, name string, k int, def int64) []int64 {
	v := onnxio.AttrInts(n, name, nil)
	if v == nil {
		v = make([]int64, k)
		for i := range v {
			v[i] = def
		}
	}
	return v
}

// convGeometry returns strides, dilations, kernel, begin pads and the
// output's spatial size of a Conv.
func convGeometry(n *onnxpb.NodeProto, in, kernel []int64) (s, d, pb, out []int64) {
	k := len(kernel)
	s, d = ints(n, "strides", k, 1), ints(n, "dilations", k, 1)
	pads := ints(n, "pads", 2*k, 0)
	auto := onnxio.AttrString(n, "auto_pad", "NOTSET")
	pb, out = make([]int64, k), make([]int64, k)
	for i := range k {
		ext := (kernel[i]-1)*d[i] + 1
		switch auto {
		case "SAME_UPPER", "SAME_LOWER":
			out[i] = (in[i] + s[i] - 1) / s[i]
			total := max(0, (out[i]-1)*s[i]+ext-in[i])
			pb[i] = total / 2
			if auto == "SAME_LOWER" {
				pb[i] = total - total/2
			}
		case "VALID":
			out[i] = (in[i]-ext)/s[i] + 1
		default:
			pb[i] = pads[i]
			out[i] = (in[i]+pads[i]+pads[i+k]-ext)/s[i] + 1
		}
	}
	return
}

func naiveConv(n *onnxpb.NodeProto, v [][]float64, xs, ws, want []int64) ([]float64, int64, error) {
	N, C, M := xs[0], xs[1], ws[0]
	G := max(onnxio.AttrInt(n, "group", 1), 1)
	kernel := ws[2:]
	s, d, pb, sp := convGeometry(n, xs[2:], kernel)
	ys := append([]int64{N, M}, sp...)
	if fmt.Sprint(ys) != fmt.Sprint(want) {
		return nil, 0, fmt.Errorf("computed output shape %v, the test expects %v", ys, want)
	}
	y := make([]float64, prod(ys))
	var count int64
	cg, mg := C/G, M/G
	for f := range int64(len(y)) {
		yi := unravel(f, ys)
		b, m, o := yi[0], yi[1], yi[2:]
		acc := 0.0
		if v[2] != nil {
			acc = v[2][m]
		}
		g := m / mg
		for c := range cg {
			for kf := range prod(kernel) {
				kk := unravel(kf, kernel)
				xi := []int64{b, g*cg + c}
				inside := true
				for i := range kk {
					p := o[i]*s[i] + kk[i]*d[i] - pb[i]
					inside = inside && p >= 0 && p < xs[2+i]
					xi = append(xi, p)
				}
				count++
				if inside {
					acc += v[0][ravel(xi, xs)] * v[1][ravel(append([]int64{m, c}, kk...), ws)]
				}
			}
		}
		y[f] = acc
	}
	return y, count, nil
}

func naiveConvTranspose(n *onnxpb.NodeProto, v [][]float64, xs, ws, want []int64) ([]float64, int64, error) {
	N, C := xs[0], xs[1]
	G := max(onnxio.AttrInt(n, "group", 1), 1)
	mg := ws[1]
	kernel := ws[2:]
	k := len(kernel)
	s, d := ints(n, "strides", k, 1), ints(n, "dilations", k, 1)
	opad := ints(n, "output_padding", k, 0)
	pb := make([]int64, k)
	auto := onnxio.AttrString(n, "auto_pad", "NOTSET")
	if p := onnxio.AttrInts(n, "pads", nil); p != nil {
		copy(pb, p[:k])
	} else if auto == "SAME_UPPER" || auto == "SAME_LOWER" {
		// Pads generated from the output shape; with output_shape and no
		// auto_pad the pads are 0 and the output extends at the end.
		upper := auto == "SAME_UPPER"
		for i := range k {
			total := s[i]*(xs[2+i]-1) + opad[i] + (kernel[i]-1)*d[i] + 1 - want[2+i]
			pb[i] = total - total/2
			if upper {
				pb[i] = total / 2
			}
		}
	}
	ys := want
	if ys[0] != N || ys[1] != mg*G {
		return nil, 0, fmt.Errorf("output shape %v for input %v and weight %v", ys, xs, ws)
	}
	y := make([]float64, prod(ys))
	var count int64
	cg := C / G
	for f := range prod(xs) {
		xi := unravel(f, xs)
		b, c, i0 := xi[0], xi[1], xi[2:]
		g := c / cg
		for m := range mg {
			for kf := range prod(kernel) {
				kk := unravel(kf, kernel)
				yi := []int64{b, g*mg + m}
				inside := true
				for i := range kk {
					p := i0[i]*s[i] + kk[i]*d[i] - pb[i]
					inside = inside && p >= 0 && p < ys[2+i]
					yi = append(yi, p)
				}
				count++
				if inside {
					y[ravel(yi, ys)] += v[0][f] * v[1][ravel(append([]int64{c, m}, kk...), ws)]
				}
			}
		}
	}
	if v[2] != nil {
		per := prod(ys[2:])
		for f := range y {
			y[f] += v[2][(int64(f)/per)%ys[1]]
		}
	}
	return y, count, nil
}

func naiveGemm(n *onnxpb.NodeProto, v [][]float64, as, bs, cs []int64) ([]float64, int64, error) {
	ta, tb := onnxio.AttrInt(n, "transA", 0) != 0, onnxio.AttrInt(n, "transB", 0) != 0
	alpha, beta := float64(onnxio.AttrFloat(n, "alpha", 1)), float64(onnxio.AttrFloat(n, "beta", 1))
	M, K := as[0], as[1]
	if ta {
		M, K = K, M
	}
	N := bs[1]
	if tb {
		N = bs[0]
	}
	y := make([]float64, M*N)
	var count int64
	for i := range M {
		for j := range N {
			acc := 0.0
			for k := range K {
				var a, b float64
				if ta {
					a = v[0][k*as[1]+i]
				} else {
					a = v[0][i*as[1]+k]
				}
				if tb {
					b = v[1][j*bs[1]+k]
				} else {
					b = v[1][k*bs[1]+j]
				}
				acc += a * b
				count++
			}
			y[i*N+j] = alpha * acc
			if v[2] != nil {
				// C broadcasts to [M, N] from the back.
				ci, cj := int64(0), int64(0)
				switch len(cs) {
				case 1:
					cj = j % cs[0]
				case 2:
					ci, cj = i%cs[0], j%cs[1]
				}
				cols := int64(1)
				if len(cs) == 2 {
					cols = cs[1]
				} else if len(cs) == 1 {
					cols = cs[0]
				}
				y[i*N+j] += beta * v[2][ci*cols+cj]
			}
		}
	}
	return y, count, nil
}

func naiveMatMul(v [][]float64, as, bs []int64) ([]float64, int64, error) {
	a, b := as, bs
	if len(a) == 1 {
		a = []int64{1, a[0]}
	}
	if len(b) == 1 {
		b = []int64{b[0], 1}
	}
	M, K, N := a[len(a)-2], a[len(a)-1], b[len(b)-1]
	if b[len(b)-2] != K {
		return nil, 0, fmt.Errorf("inner dimensions %v × %v", as, bs)
	}
	ba, bb := a[:len(a)-2], b[:len(b)-2]
	nb := max(len(ba), len(bb))
	batch := make([]int64, nb)
	dimAt := func(s []int64, i int) int64 { // i counts from the back
		if j := len(s) - nb + i; j >= 0 {
			return s[j]
		}
		return 1
	}
	for i := range nb {
		batch[i] = max(dimAt(ba, i), dimAt(bb, i))
	}
	y := make([]float64, prod(batch)*M*N)
	var count int64
	for f := range prod(batch) {
		bi := unravel(f, batch)
		ia, ib := make([]int64, len(ba)), make([]int64, len(bb))
		for i := range nb {
			if j := len(ba) - nb + i; j >= 0 {
				ia[j] = bi[i] % ba[j]
			}
			if j := len(bb) - nb + i; j >= 0 {
				ib[j] = bi[i] % bb[j]
			}
		}
		offA, offB := ravel(ia, ba)*M*K, ravel(ib, bb)*K*N
		for i := range M {
			for j := range N {
				acc := 0.0
				for k := range K {
					acc += v[0][offA+i*K+k] * v[1][offB+k*N+j]
					count++
				}
				y[f*M*N+i*N+j] = acc
			}
		}
	}
	return y, count, nil
}
