package dataset

import (
	"context"
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// Classer is implemented by sources that know their class names (image
// folders: the subfolder names, sorted; label i is Classes()[i]).
type Classer interface {
	Classes() []string
}

func isImageFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".png", ".jpg", ".jpeg":
		return true
	}
	return false
}

// imagePrep is the preprocessing of an image folder for one model input.
type imagePrep struct {
	c, h, w   int // channels, output height and width
	nhwc      bool
	dtype     onnxio.DType
	resize    []int
	crop      []int
	scale     float32 // 0: divide by 255
	mean, std []float32
}

type imageFolder struct {
	*rowSource
	classes []string
}

func (f *imageFolder) Classes() []string { return f.classes }

func openImages(dir string, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	files, labels, classes, err := listImages(dir)
	if err != nil {
		return nil, err
	}
	if err := needOneInput(dir, "image folder", inputs); err != nil {
		return nil, err
	}
	in := inputs[0]
	plan, err := planBatches(dir, inputs, opts)
	if err != nil {
		return nil, err
	}
	p, err := newImagePrep(dir, in, opts)
	if err != nil {
		return nil, err
	}
	// Check every image's size (from its header only) before any run.
	for _, f := range files {
		if err := p.checkFile(f, in); err != nil {
			return nil, err
		}
	}
	n, err := plan.checkCount(dir, len(files), opts)
	if err != nil {
		return nil, err
	}
	labels, err = attachLabels(dir, len(files), n, labels, opts)
	if err != nil {
		return nil, err
	}
	r := &imageReader{files: files, prep: p, input: in.Name}
	return &imageFolder{rowSource: &rowSource{path: dir, total: n, plan: plan, r: r, labels: labels}, classes: classes}, nil
}

// listImages finds the images of dir: in one subfolder per class (labels
// are the classes' indices in name order), or directly in dir (no labels).
// Names starting with '.' and files that are not .png/.jpg/.jpeg are
// skipped.
func listImages(dir string) (files []string, labels []int64, classes []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	var top []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if e.IsDir() {
			classes = append(classes, name)
		} else if isImageFile(name) {
			top = append(top, filepath.Join(dir, name))
		}
	}
	sort.Strings(classes)
	sort.Strings(top)
	if len(classes) > 0 && len(top) > 0 {
		return nil, nil, nil, fmt.Errorf("%s: holds both images (%s) and class subfolders; use one or the other", dir, filepath.Base(top[0]))
	}
	if len(classes) == 0 {
		if len(top) == 0 {
			return nil, nil, nil, fmt.Errorf("%s: empty: no test_data_set_* folders, input_*.pb files or images (.png, .jpg, .jpeg) found", dir)
		}
		return top, nil, nil, nil
	}
	for i, c := range classes {
		sub, err := os.ReadDir(filepath.Join(dir, c))
		if err != nil {
			return nil, nil, nil, err
		}
		var names []string
		for _, e := range sub {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && isImageFile(e.Name()) {
				names = append(names, e.Name())
			}
		}
		sort.Strings(names)
		for _, n := range names {
			files = append(files, filepath.Join(dir, c, n))
			labels = append(labels, int64(i))
		}
	}
	if len(files) == 0 {
		return nil, nil, nil, fmt.Errorf("%s: empty: its %d class subfolders hold no images (.png, .jpg, .jpeg)", dir, len(classes))
	}
	return files, labels, classes, nil
}

func newImagePrep(dir string, in onnxio.ValueInfo, opts Options) (*imagePrep, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%s: input %q: %s", dir, in.Name, fmt.Sprintf(format, a...))
	}
	p := &imagePrep{dtype: in.DType, resize: opts.Resize, crop: opts.Crop, scale: opts.Scale, mean: opts.Mean, std: opts.Std}
	if in.DType != onnxio.Float32 && in.DType != onnxio.Uint8 {
		return nil, bad("expected %s %s, an image folder gives float32 or uint8", in.DType, shapeString(in.Shape))
	}
	shape := in.Shape
	if shape == nil {
		shape = []onnxio.Dim{{Value: -1}, {Value: -1}, {Value: -1}, {Value: -1}}
	}
	if len(shape) != 4 {
		return nil, bad("expected %s %s, an image folder gives rank-4 images (NCHW or NHWC)", in.DType, shapeString(in.Shape))
	}
	rgbOrGray := func(d onnxio.Dim) bool { return d.Value == 1 || d.Value == 3 }
	switch opts.Layout {
	case "nchw":
	case "nhwc":
		p.nhwc = true
	case "":
		p.nhwc = shape[1].Value > 0 && !rgbOrGray(shape[1]) && rgbOrGray(shape[3])
	default:
		return nil, fmt.Errorf("%s: layout %q: want nchw or nhwc", dir, opts.Layout)
	}
	cd, hd, wd := shape[1], shape[2], shape[3]
	if p.nhwc {
		hd, wd, cd = shape[1], shape[2], shape[3]
	}
	p.c = 3
	if cd.Value > 0 {
		p.c = int(cd.Value)
	}
	if p.c != 1 && p.c != 3 {
		layout := "nchw"
		if p.nhwc {
			layout = "nhwc"
		}
		return nil, bad("expected %s %s: %d channels in layout %s, an image gives 1 (gray) or 3 (RGB); check --layout", in.DType, shapeString(in.Shape), p.c, layout)
	}
	p.h, p.w = int(hd.Value), int(wd.Value)
	if len(p.resize) > 2 || len(p.crop) > 2 {
		return nil, fmt.Errorf("%s: resize %v and crop %v take one value (a side) or two (height, width)", dir, opts.Resize, opts.Crop)
	}
	for _, v := range append(append([]int(nil), p.resize...), p.crop...) {
		if v <= 0 {
			return nil, fmt.Errorf("%s: resize %v and crop %v must be positive", dir, opts.Resize, opts.Crop)
		}
	}
	for _, v := range [][]float32{p.mean, p.std} {
		if len(v) != 0 && len(v) != 1 && len(v) != p.c {
			return nil, bad("mean %v and std %v need 1 or %d values (one per channel)", opts.Mean, opts.Std, p.c)
		}
	}
	for _, s := range p.std {
		if s == 0 || math.IsNaN(float64(s)) {
			return nil, fmt.Errorf("%s: std %v: values must be non-zero", dir, opts.Std)
		}
	}
	if p.dtype == onnxio.Uint8 && (opts.Scale != 0 || len(p.mean) > 0 || len(p.std) > 0) {
		return nil, bad("the model takes uint8 pixels; scale, mean and std do not apply")
	}
	return p, nil
}

// sizes computes the size after resize and after crop of an h×w image.
func (p *imagePrep) sizes(h, w int) (rh, rw, ch, cw int) {
	rh, rw = h, w
	switch len(p.resize) {
	case 1:
		s := p.resize[0]
		if h <= w {
			rh, rw = s, int(int64(s)*int64(w)/int64(h))
		} else {
			rh, rw = int(int64(s)*int64(h)/int64(w)), s
		}
	case 2:
		rh, rw = p.resize[0], p.resize[1]
	}
	ch, cw = rh, rw
	switch len(p.crop) {
	case 1:
		ch, cw = p.crop[0], p.crop[0]
	case 2:
		ch, cw = p.crop[0], p.crop[1]
	}
	return
}

// checkFile reads an image's header and checks its final size against the
// model's (or, for a dynamic size, against the first image's).
func (p *imagePrep) checkFile(path string, in onnxio.ValueInfo) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, _, err := image.DecodeConfig(f)
	if err != nil {
		return fmt.Errorf("%s: not a PNG or JPEG image: %v", path, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > 1<<28 {
		return fmt.Errorf("%s: image size %dx%d out of range", path, cfg.Width, cfg.Height)
	}
	rh, rw, ch, cw := p.sizes(cfg.Height, cfg.Width)
	if rh <= 0 || rw <= 0 || int64(rh)*int64(rw) > 1<<28 {
		return fmt.Errorf("%s: resized size %dx%d out of range", path, rh, rw)
	}
	if ch > rh || cw > rw {
		return fmt.Errorf("%s: crop %dx%d is larger than the image (%dx%d after resize)", path, ch, cw, rh, rw)
	}
	if p.h <= 0 && p.w <= 0 {
		// A dynamic size: the first image fixes it for all.
		p.h, p.w = ch, cw
	}
	if (p.h > 0 && ch != p.h) || (p.w > 0 && cw != p.w) {
		return fmt.Errorf("%s: input %q: expected %s images of %dx%d, found %dx%d (from %dx%d; use --resize and --crop)", path, in.Name, in.DType, p.h, p.w, ch, cw, cfg.Height, cfg.Width)
	}
	if p.h <= 0 {
		p.h = ch
	}
	if p.w <= 0 {
		p.w = cw
	}
	return nil
}

type imageReader struct {
	files []string
	prep  *imagePrep
	input string
}

func (r *imageReader) reset() error { return nil }
func (r *imageReader) close() error { return nil }

func (r *imageReader) read(ctx context.Context, pos, n int) (map[string]*onnxio.Tensor, error) {
	p := r.prep
	per := p.c * p.h * p.w
	var shape []int64
	if p.nhwc {
		shape = []int64{int64(n), int64(p.h), int64(p.w), int64(p.c)}
	} else {
		shape = []int64{int64(n), int64(p.c), int64(p.h), int64(p.w)}
	}
	var f32 []float32
	var u8 []uint8
	if p.dtype == onnxio.Uint8 {
		u8 = make([]uint8, n*per)
	} else {
		f32 = make([]float32, n*per)
	}
	for k := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path := r.files[pos+k]
		planes, err := p.load(path)
		if err != nil {
			return nil, err
		}
		hw := p.h * p.w
		for c := range p.c {
			plane := planes[c*hw : (c+1)*hw]
			for i, v := range plane {
				var idx int
				if p.nhwc {
					idx = k*per + i*p.c + c
				} else {
					idx = k*per + c*hw + i
				}
				if u8 != nil {
					u8[idx] = uint8(min(max(math.Round(float64(v)), 0), 255))
					continue
				}
				if p.scale == 0 {
					v /= 255 // the default: bit-identical to x.float()/255
				} else {
					v *= p.scale
				}
				if len(p.mean) > 0 {
					v -= p.mean[min(c, len(p.mean)-1)]
				}
				if len(p.std) > 0 {
					v /= p.std[min(c, len(p.std)-1)]
				}
				f32[idx] = v
			}
		}
	}
	t := &onnxio.Tensor{Name: r.input, DType: p.dtype, Shape: shape}
	if u8 != nil {
		t.Data = u8
	} else {
		t.Data = f32
	}
	return map[string]*onnxio.Tensor{r.input: t}, nil
}

// load decodes an image and returns its c planes of h×w pixel values in
// 0..255, resized and cropped.
func (p *imagePrep) load(path string) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	rh, rw, ch, cw := p.sizes(h, w)
	if ch != p.h || cw != p.w {
		return nil, fmt.Errorf("%s: image size changed since the data set was opened", path)
	}
	src := toPlanes(img, p.c)
	out := make([]float32, p.c*ch*cw)
	// Center crop offsets, rounded half to even like torchvision.
	top := int(math.RoundToEven(float64(rh-ch) / 2))
	left := int(math.RoundToEven(float64(rw-cw) / 2))
	for c := range p.c {
		plane := src[c*h*w : (c+1)*h*w]
		if rh != h || rw != w {
			plane = bilinear(plane, h, w, rh, rw)
		}
		dst := out[c*ch*cw : (c+1)*ch*cw]
		for y := range ch {
			copy(dst[y*cw:(y+1)*cw], plane[(top+y)*rw+left:])
		}
	}
	return out, nil
}

// toPlanes returns an image's pixel values 0..255 as c planes: gray (c=1,
// with Go's color.GrayModel luma for colour images) or R, G, B (c=3).
// Alpha is dropped (colours are taken premultiplied, i.e. over black).
func toPlanes(img image.Image, c int) []float32 {
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	out := make([]float32, c*h*w)
	if g, ok := img.(*image.Gray); ok && c == 1 {
		for y := range h {
			row := g.Pix[y*g.Stride : y*g.Stride+w]
			for x, v := range row {
				out[y*w+x] = float32(v)
			}
		}
		return out
	}
	for y := range h {
		for x := range w {
			px := img.At(b.Min.X+x, b.Min.Y+y)
			i := y*w + x
			if c == 1 {
				out[i] = float32(color.GrayModel.Convert(px).(color.Gray).Y)
				continue
			}
			r, g, bl, _ := px.RGBA()
			out[i] = float32(r >> 8)
			out[h*w+i] = float32(g >> 8)
			out[2*h*w+i] = float32(bl >> 8)
		}
	}
	return out
}

// bilinear resizes an h×w plane to oh×ow with half-pixel centers and no
// antialiasing: the same sampling as PyTorch's
// F.interpolate(mode="bilinear", align_corners=False). Reference:
// out[y][x] = lerp over the 2×2 source pixels around
// ((y+0.5)·h/oh − 0.5, (x+0.5)·w/ow − 0.5), clamped at 0 and the edges.
func bilinear(src []float32, h, w, oh, ow int) []float32 {
	type tap struct {
		i0, i1 int
		l      float32
	}
	taps := func(in, out int) []tap {
		t := make([]tap, out)
		scale := float32(in) / float32(out)
		for o := range t {
			s := scale*(float32(o)+0.5) - 0.5
			if s < 0 {
				s = 0
			}
			i0 := int(s)
			if i0 > in-1 {
				i0 = in - 1
			}
			i1 := i0
			if i0 < in-1 {
				i1 = i0 + 1
			}
			t[o] = tap{i0, i1, s - float32(i0)}
		}
		return t
	}
	ty, tx := taps(h, oh), taps(w, ow)
	out := make([]float32, oh*ow)
	for y, a := range ty {
		r0, r1 := src[a.i0*w:(a.i0+1)*w], src[a.i1*w:(a.i1+1)*w]
		for x, b := range tx {
			top := r0[b.i0] + (r0[b.i1]-r0[b.i0])*b.l
			bot := r1[b.i0] + (r1[b.i1]-r1[b.i0])*b.l
			out[y*ow+x] = top + (bot-top)*a.l
		}
	}
	return out
}
