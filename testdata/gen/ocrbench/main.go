// Command ocrbench renders the text-line benchmark of the PP-OCRv4 models
// (testdata/ocrbench): lines of text for the recognizer and pages for the
// detector, with their references, deterministically from a seed.
//
//	go run ./testdata/gen/ocrbench            # writes testdata/ocrbench/
//
// Characters come from the recognizer's own dictionary (ppocr_keys_v1.txt,
// fetched by scripts/fetch-ocr-models.sh): common hanzi (those of the
// dictionary in GB 2312 level 1), digits, Latin letters and punctuation.
// Fonts come from Debian packages: fonts-noto-cjk (Noto Sans and Serif CJK
// SC, regular and bold), fonts-wqy-microhei and fonts-dejavu-core. The same
// fonts and seed give the same bytes.
//
// Recognizer lines are cropped around the ink with a margin (as a
// detector's box would crop them), resized to height 48 keeping the aspect
// ratio and padded on the right to width 320 with grey 128, which is
// PaddleOCR's padding value 0 after (x/255-0.5)/0.5 to within 0.004: the
// images are the model input up to that normalization (shrink eval --mean
// 0.5 --std 0.5). Detector pages are 640x480 (multiples of 32, under
// PaddleOCR's 960 side limit, so its resize keeps them as they are); the
// boxes are the ink bounds of each line, in pixels.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/font/sfnt"
	"golang.org/x/image/math/fixed"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const (
	recH, recW   = 48, 320
	pageH, pageW = 480, 640
	padGrey      = 128
)

// fontSpec names a font file (and a font in a collection).
type fontSpec struct {
	path  string
	index int  // in a .ttc collection
	cjk   bool // has the hanzi
}

var fontSpecs = []fontSpec{
	{"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, true}, // Noto Sans CJK SC
	{"/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2, true},
	{"/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, true}, // Noto Serif CJK SC
	{"/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2, true},
	{"/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, true},
	{"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, false},
	{"/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf", 0, false},
	{"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0, false},
	{"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 0, false},
}

type gen struct {
	r      *rand.Rand
	fonts  []*sfnt.Font
	specs  []fontSpec
	hanzi  []rune // common hanzi of the dictionary
	inDict map[rune]bool
	buf    sfnt.Buffer
}

func main() {
	keys := flag.String("keys", "testdata/external/ppocr_keys_v1.txt", "the recognizer's dictionary")
	out := flag.String("out", "testdata/ocrbench", "output folder")
	flag.Parse()
	if err := run(*keys, *out); err != nil {
		fmt.Fprintln(os.Stderr, "ocrbench:", err)
		os.Exit(1)
	}
}

func run(keys, out string) error {
	dict, err := readDict(keys)
	if err != nil {
		return err
	}
	var fonts []*sfnt.Font
	for _, s := range fontSpecs {
		f, err := loadFont(s)
		if err != nil {
			return fmt.Errorf("%s: %w (apt-get install fonts-noto-cjk fonts-wqy-microhei fonts-dejavu-core)", s.path, err)
		}
		fonts = append(fonts, f)
	}
	g := &gen{fonts: fonts, specs: fontSpecs, inDict: map[rune]bool{}}
	enc := simplifiedchinese.GBK.NewEncoder()
	for _, c := range dict {
		g.inDict[c] = true
		if !unicode.Is(unicode.Han, c) {
			continue
		}
		b, err := enc.Bytes([]byte(string(c)))
		if err == nil && len(b) == 2 && b[0] >= 0xB0 && b[0] <= 0xD7 && b[1] >= 0xA1 {
			g.hanzi = append(g.hanzi, c) // GB 2312 level 1: the 3,755 common hanzi
		}
	}
	if len(g.hanzi) < 3000 {
		return fmt.Errorf("%s: only %d common hanzi (not the PP-OCR dictionary?)", keys, len(g.hanzi))
	}
	for _, set := range []struct {
		name string
		n    int
		seed uint64
	}{{"eval", 300, 1}, {"calib", 512, 2}} {
		g.r = rand.New(rand.NewPCG(set.seed, 0x0c7))
		if err := g.writeLines(filepath.Join(out, "rec", set.name), set.n); err != nil {
			return err
		}
	}
	for _, set := range []struct {
		name string
		n    int
		seed uint64
	}{{"eval", 24, 3}, {"calib", 16, 4}} {
		g.r = rand.New(rand.NewPCG(set.seed, 0xde7))
		if err := g.writePages(filepath.Join(out, "det", set.name), set.n); err != nil {
			return err
		}
	}
	return nil
}

func readDict(path string) ([]rune, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run sh scripts/fetch-ocr-models.sh)", err)
	}
	var out []rune
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		r := []rune(l)
		if len(r) != 1 {
			return nil, fmt.Errorf("%s: entry %q is not one character", path, l)
		}
		out = append(out, r[0])
	}
	return out, nil
}

// loadFont reads one font, from a collection when the file is one. Tables
// that are not 4-byte aligned (wqy-microhei's) are realigned first: the
// sfnt package refuses them.
func loadFont(s fontSpec) (*sfnt.Font, error) {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return nil, err
	}
	if string(b[:4]) == "ttcf" {
		if b, err = extractFont(b, s.index); err != nil {
			return nil, err
		}
	}
	return opentype.Parse(b)
}

// extractFont copies font i of a TrueType collection into a standalone
// font file with every table at a 4-byte aligned offset.
func extractFont(b []byte, i int) ([]byte, error) {
	be := binary.BigEndian
	if len(b) < 12 || int(be.Uint32(b[8:])) <= i || len(b) < 12+4*(i+1) {
		return nil, errors.New("bad collection header")
	}
	off := int(be.Uint32(b[12+4*i:]))
	if off+12 > len(b) {
		return nil, errors.New("bad font offset")
	}
	n := int(be.Uint16(b[off+4:]))
	if off+12+16*n > len(b) {
		return nil, errors.New("bad table directory")
	}
	head := append([]byte(nil), b[off:off+12+16*n]...)
	body := []byte{}
	pos := 12 + 16*n
	for t := 0; t < n; t++ {
		rec := head[12+16*t:]
		to, tl := int(be.Uint32(rec[8:])), int(be.Uint32(rec[12:]))
		if to+tl > len(b) {
			return nil, errors.New("table out of range")
		}
		be.PutUint32(rec[8:], uint32(pos+len(body)))
		body = append(body, b[to:to+tl]...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	return append(head, body...), nil
}

func (g *gen) face(f int, size float64) font.Face {
	face, err := opentype.NewFace(g.fonts[f], &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
	if err != nil {
		panic(err) // the options are valid
	}
	return face
}

// has reports whether font f draws c (and the recognizer knows it).
func (g *gen) has(f int, c rune) bool {
	if c == ' ' {
		return true
	}
	if !g.inDict[c] {
		return false
	}
	i, err := g.fonts[f].GlyphIndex(&g.buf, c)
	return err == nil && i != 0
}

var words = strings.Fields(`total price order date city street phone email name number code
invoice amount account bank card station hotel market coffee tea water open close from
to north south east west room floor gate exit enter sale new free best fresh daily menu
page chapter table figure report model data test file line text image video audio shop
park road bridge river hill school office center service help info quick smart power`)

var puncts = []rune("，。、：；！？（）")

// text draws a line of text for font f: kind 0 hanzi (with a digit or a
// Chinese punctuation now and then), 1 hanzi with numbers or a Latin word,
// 2 numbers (dates, amounts, phone numbers, codes), 3 Latin words.
func (g *gen) text(f int, maxChars int) string {
	r := g.r
	kind := r.IntN(4)
	if !g.specs[f].cjk && kind < 2 {
		kind = 2 + r.IntN(2)
	}
	var sb strings.Builder
	hanzi := func(n int) {
		for range n {
			for {
				c := g.hanzi[r.IntN(len(g.hanzi))]
				if g.has(f, c) {
					sb.WriteRune(c)
					break
				}
			}
		}
	}
	switch kind {
	case 0:
		hanzi(2 + r.IntN(maxChars/2))
		if r.IntN(3) == 0 {
			sb.WriteRune(puncts[r.IntN(len(puncts))])
			hanzi(1 + r.IntN(3))
		}
	case 1:
		hanzi(1 + r.IntN(3))
		if r.IntN(2) == 0 {
			fmt.Fprintf(&sb, "%d", r.IntN(10000))
		} else {
			w := words[r.IntN(len(words))]
			if r.IntN(2) == 0 {
				w = strings.ToUpper(w)
			}
			sb.WriteString(w)
		}
		hanzi(1 + r.IntN(3))
	case 2:
		switch r.IntN(5) {
		case 0:
			fmt.Fprintf(&sb, "%d-%02d-%02d", 1990+r.IntN(40), 1+r.IntN(12), 1+r.IntN(28))
		case 1:
			fmt.Fprintf(&sb, "%d.%02d", r.IntN(100000), r.IntN(100))
		case 2:
			fmt.Fprintf(&sb, "1%d%d-%04d-%04d", 3+r.IntN(6), r.IntN(10), r.IntN(10000), r.IntN(10000))
		case 3:
			fmt.Fprintf(&sb, "%c%c%d", 'A'+r.IntN(26), 'A'+r.IntN(26), r.IntN(1000000))
		default:
			fmt.Fprintf(&sb, "%d:%02d", r.IntN(24), r.IntN(60))
		}
	default:
		n := 1 + r.IntN(3)
		for i := range n {
			if i > 0 {
				sb.WriteByte(' ')
			}
			w := words[r.IntN(len(words))]
			switch r.IntN(3) {
			case 0:
				w = strings.ToUpper(w[:1]) + w[1:]
			case 1:
				w = strings.ToUpper(w)
			}
			sb.WriteString(w)
		}
	}
	// Drop what the font or the dictionary lacks.
	var out []rune
	for _, c := range sb.String() {
		if g.has(f, c) {
			out = append(out, c)
		}
	}
	return strings.TrimSpace(string(out))
}

// background fills img with paper: a base grey with a gentle horizontal
// gradient.
func (g *gen) background(img *image.Gray) {
	base := 200 + g.r.Float64()*50
	slope := (g.r.Float64() - 0.5) * 30
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			v := base + slope*float64(x-b.Min.X)/float64(b.Dx())
			img.Pix[img.PixOffset(x, y)] = uint8(min(255, max(0, math.Round(v))))
		}
	}
}

// draw renders s with face at the dot (baseline origin) in ink grey and
// returns the ink bounds.
func drawText(img *image.Gray, face font.Face, s string, dot fixed.Point26_6, ink uint8) image.Rectangle {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(color.Gray{Y: ink}), Face: face, Dot: dot}
	bounds, _ := d.BoundString(s)
	d.DrawString(s)
	return image.Rect(bounds.Min.X.Floor(), bounds.Min.Y.Floor(), bounds.Max.X.Ceil(), bounds.Max.Y.Ceil())
}

// line renders one recognizer sample: the text and its 48x320 image.
func (g *gen) line() (string, *image.Gray) {
	r := g.r
	for {
		f := r.IntN(len(g.fonts))
		size := 26 + r.Float64()*16
		s := g.text(f, 10)
		if s == "" {
			continue
		}
		face := g.face(f, size)
		_, adv := font.BoundString(face, s)
		w := (adv.Ceil() + int(size)) + 8
		h := int(size*2) + 8
		canvas := image.NewGray(image.Rect(0, 0, w, h))
		g.background(canvas)
		ink := uint8(r.IntN(70))
		dot := fixed.P(4+int(size/2), h/2+int(size/3))
		box := drawText(canvas, face, s, dot, ink)
		// Crop around the ink with a margin, as a detector box would.
		mx := 2 + r.IntN(int(size/3)+1)
		my := 2 + r.IntN(int(size/4)+1)
		crop := image.Rect(box.Min.X-mx, box.Min.Y-my, box.Max.X+mx, box.Max.Y+my).Intersect(canvas.Bounds())
		ratio := float64(crop.Dx()) / float64(crop.Dy())
		rw := int(math.Ceil(recH * ratio))
		if rw > recW {
			continue // too long for one 320-wide input: draw another
		}
		out := image.NewGray(image.Rect(0, 0, recW, recH))
		for i := range out.Pix {
			out.Pix[i] = padGrey
		}
		resizeInto(out, image.Rect(0, 0, rw, recH), canvas, crop)
		return s, out
	}
}

// resizeInto resizes src's rectangle sr into dst's rectangle dr with
// bilinear interpolation at pixel centres (OpenCV's INTER_LINEAR, which
// PaddleOCR's cv2.resize uses).
func resizeInto(dst *image.Gray, dr image.Rectangle, src *image.Gray, sr image.Rectangle) {
	sx := float64(sr.Dx()) / float64(dr.Dx())
	sy := float64(sr.Dy()) / float64(dr.Dy())
	at := func(x, y int) float64 {
		x = min(max(x, 0), sr.Dx()-1)
		y = min(max(y, 0), sr.Dy()-1)
		return float64(src.Pix[src.PixOffset(sr.Min.X+x, sr.Min.Y+y)])
	}
	for y := 0; y < dr.Dy(); y++ {
		fy := (float64(y)+0.5)*sy - 0.5
		y0 := int(math.Floor(fy))
		wy := fy - float64(y0)
		for x := 0; x < dr.Dx(); x++ {
			fx := (float64(x)+0.5)*sx - 0.5
			x0 := int(math.Floor(fx))
			wx := fx - float64(x0)
			v := (1-wy)*((1-wx)*at(x0, y0)+wx*at(x0+1, y0)) + wy*((1-wx)*at(x0, y0+1)+wx*at(x0+1, y0+1))
			dst.Pix[dst.PixOffset(dr.Min.X+x, dr.Min.Y+y)] = uint8(min(255, max(0, math.Round(v))))
		}
	}
}

// page renders one detector sample and the ink box of each line.
func (g *gen) page() (*image.Gray, [][4]int) {
	r := g.r
	img := image.NewGray(image.Rect(0, 0, pageW, pageH))
	g.background(img)
	var boxes [][4]int
	y := 20 + r.IntN(30)
	for {
		f := r.IntN(len(g.fonts))
		size := 14 + r.Float64()*26
		if y+int(size*1.5) > pageH-16 {
			break
		}
		face := g.face(f, size)
		s := g.text(f, 16)
		_, adv := font.BoundString(face, s)
		if s == "" || adv.Ceil() > pageW-40 {
			continue
		}
		x := 16 + r.IntN(pageW-32-adv.Ceil())
		box := drawText(img, face, s, fixed.P(x, y+int(size)), uint8(r.IntN(110)))
		box = box.Intersect(img.Bounds())
		boxes = append(boxes, [4]int{box.Min.X, box.Min.Y, box.Max.X, box.Max.Y})
		// Rows apart enough that a thresholded map keeps them separate.
		y += int(size*1.4) + r.IntN(int(size)+8)
		if r.IntN(5) == 0 && y+6 < pageH-16 {
			// A ruled line (not text): the detector must not box it.
			x0 := 16 + r.IntN(pageW/2)
			draw.Draw(img, image.Rect(x0, y-int(size/2), x0+80+r.IntN(pageW/2-96), y-int(size/2)+2), image.NewUniform(color.Gray{Y: uint8(90 + r.IntN(60))}), image.Point{}, draw.Src)
		}
	}
	return img, boxes
}

func (g *gen) writeLines(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var labels strings.Builder
	for i := range n {
		s, img := g.line()
		if err := writePNG(filepath.Join(dir, fmt.Sprintf("%05d.png", i)), img); err != nil {
			return err
		}
		labels.WriteString(s + "\n")
	}
	return os.WriteFile(dir+".txt", []byte(labels.String()), 0o644)
}

func (g *gen) writePages(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(dir + ".jsonl")
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range n {
		img, boxes := g.page()
		if err := writePNG(filepath.Join(dir, fmt.Sprintf("%05d.png", i)), img); err != nil {
			f.Close()
			return err
		}
		b, _ := json.Marshal(boxes)
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
