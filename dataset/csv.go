package dataset

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
)

// csvReader streams the chosen columns of a CSV file as float32 rows.
type csvReader struct {
	path  string
	input string
	cols  []int // indices of the input columns
	f     *os.File
	r     *csv.Reader
	line  int // rows consumed (after the header)
}

func openCSV(path string, inputs []onnxio.ValueInfo, opts Options) (Source, error) {
	if err := needOneInput(path, ".csv file", inputs); err != nil {
		return nil, err
	}
	in := inputs[0]
	plan, err := planBatches(path, inputs, opts)
	if err != nil {
		return nil, err
	}
	return withFile(path, func(f *os.File, _ int64) (Source, error) {
		r := &csvReader{path: path, input: in.Name, f: f}
		header, err := r.start()
		if err != nil {
			return nil, err
		}
		index := map[string]int{}
		for i, h := range header {
			if _, dup := index[h]; dup {
				return nil, fmt.Errorf("%s: column %q appears twice in the header", path, h)
			}
			index[h] = i
		}
		label := -1
		if opts.LabelColumn != "" {
			i, ok := index[opts.LabelColumn]
			if !ok {
				return nil, fmt.Errorf("%s: no label column %q (columns: %s)", path, opts.LabelColumn, strings.Join(header, ", "))
			}
			label = i
		}
		if len(opts.Columns) > 0 {
			for _, c := range opts.Columns {
				i, ok := index[c]
				if !ok {
					return nil, fmt.Errorf("%s: no column %q (columns: %s)", path, c, strings.Join(header, ", "))
				}
				if i == label {
					return nil, fmt.Errorf("%s: column %q is both an input and the label column", path, c)
				}
				r.cols = append(r.cols, i)
			}
		} else {
			for i := range header {
				if i != label {
					r.cols = append(r.cols, i)
				}
			}
		}
		if len(r.cols) == 0 {
			return nil, fmt.Errorf("%s: no input columns", path)
		}
		shape := []int64{-1, int64(len(r.cols))}
		if err := checkInput(path, in, onnxio.Float32, shape, plan.skip(in.Name)); err != nil {
			return nil, fmt.Errorf("%s (%d columns)", err, len(r.cols))
		}
		// One pass over the file before any run: count the rows, check
		// every cell parses, and collect the labels.
		var labels []int64
		if label >= 0 {
			labels = []int64{}
		}
		row := make([]float32, len(r.cols))
		n := 0
		for {
			rec, err := r.r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %v", path, err)
			}
			if err := r.parse(rec, row); err != nil {
				return nil, err
			}
			if label >= 0 {
				v, err := parseLabel(rec[label])
				if err != nil {
					line, _ := r.r.FieldPos(label)
					return nil, fmt.Errorf("%s:%d: label column %q: %v", path, line, opts.LabelColumn, err)
				}
				labels = append(labels, v)
			}
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: no data rows after the header", path)
		}
		total, err := plan.checkCount(path, n, opts)
		if err != nil {
			return nil, err
		}
		labels, err = attachLabels(path, n, total, labels, opts)
		if err != nil {
			return nil, err
		}
		if _, err := r.start(); err != nil {
			return nil, err
		}
		return &rowSource{path: path, total: total, plan: plan, r: r, labels: labels}, nil
	})
}

// start rewinds to the first row and returns the header.
func (r *csvReader) start() ([]string, error) {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	r.r = csv.NewReader(bufio.NewReaderSize(r.f, 1<<16))
	r.r.ReuseRecord = true
	r.r.TrimLeadingSpace = true
	h, err := r.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: empty: no header row", r.path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", r.path, err)
	}
	r.line = 0
	return append([]string(nil), h...), nil
}

func (r *csvReader) parse(rec []string, row []float32) error {
	for k, c := range r.cols {
		s := strings.TrimSpace(rec[c])
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			line, col := r.r.FieldPos(c)
			if s == "" {
				return fmt.Errorf("%s:%d:%d: empty cell (missing values are not filled in)", r.path, line, col)
			}
			return fmt.Errorf("%s:%d:%d: %q is not a number", r.path, line, col, s)
		}
		row[k] = float32(v)
	}
	return nil
}

func parseLabel(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int64(f), nil
}

func (r *csvReader) read(ctx context.Context, pos, n int) (map[string]*onnxio.Tensor, error) {
	if pos != r.line {
		if _, err := r.start(); err != nil {
			return nil, err
		}
		for r.line < pos {
			if _, err := r.r.Read(); err != nil {
				return nil, fmt.Errorf("%s: %v", r.path, err)
			}
			r.line++
		}
	}
	nc := len(r.cols)
	data := make([]float32, n*nc)
	for k := range n {
		if k%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := r.r.Read()
		if err != nil {
			return nil, fmt.Errorf("%s: row %d: %v (the file changed since it was opened?)", r.path, pos+k+1, err)
		}
		if err := r.parse(rec, data[k*nc:(k+1)*nc]); err != nil {
			return nil, err
		}
		r.line++
	}
	t := &onnxio.Tensor{Name: r.input, DType: onnxio.Float32, Shape: []int64{int64(n), int64(nc)}, Data: data}
	return map[string]*onnxio.Tensor{r.input: t}, nil
}

func (r *csvReader) reset() error {
	_, err := r.start()
	return err
}

func (r *csvReader) close() error { return r.f.Close() }
