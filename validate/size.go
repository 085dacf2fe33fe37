package validate

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shrinkml/shrink/internal/progress"
	"github.com/shrinkml/shrink/onnxio"
)

// Size describes what a model costs to store and ship.
type Size struct {
	// FileBytes is the .onnx file; ExternalBytes its external data files
	// (as stored on disk); TotalBytes their sum.
	FileBytes     int64
	ExternalBytes int64
	TotalBytes    int64
	// GzipBytes is the size of the file and its external data compressed
	// with gzip at the default level: zeros left by unstructured pruning
	// do not shrink a file, but they do compress.
	GzipBytes int64
	// Parameters counts every weight (initializers and Constant nodes);
	// NonZero those that are not zero.
	Parameters int64
	NonZero    int64
	ByDType    []onnxio.DTypeStats
	// SHA256 is "sha256:" and the hex SHA-256 of the file followed by its
	// external data files: what tells two copies of a model apart (shards
	// of an evaluation must have measured the same models).
	SHA256 string
}

// MeasureSize measures the model file at path (m is the same model, loaded).
func MeasureSize(ctx context.Context, path string, m *onnxio.Model, rep progress.Reporter) (*Size, error) {
	rep = progress.Or(rep)
	files := []string{path}
	dir := filepath.Dir(path)
	for _, loc := range m.ExternalFiles {
		p, err := onnxio.ConfinedPath(dir, loc)
		if err != nil {
			return nil, err
		}
		files = append(files, p)
	}
	s := &Size{}
	for i, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			s.FileBytes = st.Size()
		} else {
			s.ExternalBytes += st.Size()
		}
	}
	s.TotalBytes = s.FileBytes + s.ExternalBytes
	ps, _, err := m.ParamStats()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Parameters, s.NonZero, s.ByDType = ps.Count, ps.Count-ps.Zero, ps.ByDType

	ph := rep.Phase("size "+filepath.Base(path), s.TotalBytes)
	defer ph.Done()
	var cw countWriter
	zw, err := gzip.NewWriterLevel(&cw, gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	sum := sha256.New()
	w := io.MultiWriter(zw, sum)
	buf := make([]byte, 1<<20)
	for _, f := range files {
		if err := copyFile(ctx, w, f, buf, ph); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	s.GzipBytes = cw.n
	s.SHA256 = "sha256:" + hex.EncodeToString(sum.Sum(nil))
	return s, nil
}

func copyFile(ctx context.Context, w io.Writer, path string, buf []byte, ph progress.Phase) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := f.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			ph.Add(int64(n))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
