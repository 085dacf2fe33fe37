package dataset

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Fingerprint identifies a data set as a shard reads it, so that shards
// of different data are not merged. It is cheap on data of any size, a
// check and not a proof: SHA-256 over the options that change what the
// model is fed (Limit, the preprocessing, the CSV columns; not the batch
// size, which a shard's range records) and over each path's content
// summary: for a file, its size and its first and last 64 KiB; for a
// folder, the relative path and size of every file in it, in lexical
// order. Paths are not part of it (the same data mounted elsewhere has the
// same fingerprint); file names inside a folder are.
type Fingerprint struct {
	// SHA256 is "sha256:" and the hash in hex.
	SHA256 string
	// Bytes and Files count what was summarized (labels included).
	Bytes int64
	Files int
}

// edge is how much of each end of a file the fingerprint reads.
const edge = 64 << 10

// FingerprintOf fingerprints the data at path, its labels (a file; ""
// for none) and the options it is read with.
func FingerprintOf(path, labels string, o Options) (Fingerprint, error) {
	h := sha256.New()
	fmt.Fprintf(h, "shrink data v1\nlimit %d\nresize %v\ncrop %v\nmean %v\nstd %v\nlayout %q\nscale %v\ncolumns %q\nlabel-column %q\n",
		o.Limit, o.Resize, o.Crop, o.Mean, o.Std, o.Layout, o.Scale, o.Columns, o.LabelColumn)
	var f Fingerprint
	for _, p := range []string{path, labels} {
		if p == "" {
			fmt.Fprintf(h, "none\n")
			continue
		}
		if err := summarize(h, p, &f); err != nil {
			return Fingerprint{}, err
		}
	}
	f.SHA256 = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return f, nil
}

// summarize adds path's content summary to h.
func summarize(h hash.Hash, path string, f *Fingerprint) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		fmt.Fprintf(h, "file %d\n", st.Size())
		f.Files++
		f.Bytes += st.Size()
		return fileEdges(h, path, st.Size())
	}
	fmt.Fprintf(h, "folder\n")
	return filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(path, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%q %d\n", filepath.ToSlash(rel), info.Size())
		f.Files++
		f.Bytes += info.Size()
		return nil
	})
}

// fileEdges adds the first and last edge bytes of a file of the given
// size to h (the whole file when it is smaller than two edges).
func fileEdges(h hash.Hash, path string, size int64) error {
	r, err := os.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	if size <= 2*edge {
		_, err = io.Copy(h, r)
	} else if _, err = io.Copy(h, io.NewSectionReader(r, 0, edge)); err == nil {
		_, err = io.Copy(h, io.NewSectionReader(r, size-edge, edge))
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
