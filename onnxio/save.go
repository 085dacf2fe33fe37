package onnxio

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"
)

// SaveOptions controls Save.
type SaveOptions struct {
	// Overwrite allows replacing an existing output file (the CLI's --force).
	Overwrite bool
	// ExternalThreshold, when > 0, moves every initializer of at least that
	// many bytes into one external-data file beside the model. When 0, data
	// stays inline unless the model would exceed the 2 GiB protobuf limit, in
	// which case DefaultExternalThreshold is used.
	ExternalThreshold int64
	// ExternalFile names the external-data file, relative to the model's
	// folder; default: the model's file name + ".data".
	ExternalFile string
}

// DefaultExternalThreshold is used when a model is too big to save inline.
const DefaultExternalThreshold = 1024

// ErrExists is returned (wrapped) by Save when the output exists and
// Overwrite is not set.
var ErrExists = errors.New("already exists (use --force to overwrite)")

// Save writes the model to path atomically: the bytes go to a temporary file
// in the same folder that is renamed over path only once complete, so a
// failure or interruption leaves no partial file. Only a regular file is
// ever replaced (and only with Overwrite): a symbolic link, a device or a
// FIFO at path is an ErrNotRegular error. The output is deterministic: the
// same model gives the same bytes.
func (m *Model) Save(path string, opts SaveOptions) error {
	if err := checkDest(path, opts.Overwrite); err != nil {
		return err
	}
	threshold := opts.ExternalThreshold
	if threshold <= 0 && proto.Size(m.Proto) > MaxProtoBytes {
		threshold = DefaultExternalThreshold
	}
	dir := filepath.Dir(path)
	var x *externalized
	var dataPath string
	if threshold > 0 {
		loc := opts.ExternalFile
		if loc == "" {
			loc = filepath.Base(path) + ".data"
		}
		var err error
		dataPath, err = confinedOutput(dir, loc)
		if err != nil {
			return &Error{Path: path, Err: err}
		}
		if err := checkDest(dataPath, opts.Overwrite); err != nil {
			return err
		}
		x, err = externalize(m.Proto, threshold, filepath.ToSlash(loc))
		if err != nil {
			return &Error{Path: path, Err: err}
		}
		defer x.restore()
	}
	b, err := m.Marshal()
	if err != nil {
		return &Error{Path: path, Err: err}
	}
	var dataTmp string
	if x != nil && len(x.tensors) > 0 {
		dataTmp, err = writeTemp(dir, filepath.Base(dataPath), func(w *bufio.Writer) error { return x.writeTo(w) })
		if err != nil {
			return &Error{Path: dataPath, Err: err}
		}
	}
	modelTmp, err := writeTemp(dir, filepath.Base(path), func(w *bufio.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		if dataTmp != "" {
			os.Remove(dataTmp)
		}
		return &Error{Path: path, Err: err}
	}
	if dataTmp != "" {
		// Checked again at the last moment: a rename replaces a link or a
		// device node as readily as a file.
		if err := checkDest(dataPath, opts.Overwrite); err != nil {
			os.Remove(dataTmp)
			os.Remove(modelTmp)
			return err
		}
		if err := os.Rename(dataTmp, dataPath); err != nil {
			os.Remove(dataTmp)
			os.Remove(modelTmp)
			return &Error{Path: dataPath, Err: err}
		}
	}
	if err := checkDest(path, opts.Overwrite); err != nil {
		os.Remove(modelTmp)
		return err
	}
	if err := os.Rename(modelTmp, path); err != nil {
		os.Remove(modelTmp)
		return &Error{Path: path, Err: err}
	}
	return nil
}

// TempPrefix starts the names of the temporary files Save writes; a crash
// can leave one behind, never a partial output.
const TempPrefix = ".shrink-tmp-"

func writeTemp(dir, base string, fill func(w *bufio.Writer) error) (string, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return "", fmt.Errorf("folder %s does not exist", dir)
	}
	f, err := os.CreateTemp(dir, TempPrefix+base+"-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	w := bufio.NewWriterSize(f, 1<<20)
	err = fill(w)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(name, 0o644)
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

func confinedOutput(dir, loc string) (string, error) {
	clean := filepath.Clean(filepath.FromSlash(loc))
	if filepath.IsAbs(clean) || clean == ".." || len(clean) > 2 && clean[:3] == ".."+string(filepath.Separator) {
		return "", fmt.Errorf("external data file %q must be a path inside the model's folder", loc)
	}
	return filepath.Join(dir, clean), nil
}

// WriteFileAtomic writes b to path through a temporary file and a rename,
// refusing to replace an existing file unless overwrite is set, and
// anything but a regular file (a link, a device, a FIFO) in any case. Reports and
// other outputs use it so that no partial file is ever left behind.
func WriteFileAtomic(path string, b []byte, overwrite bool) error {
	if err := checkDest(path, overwrite); err != nil {
		return err
	}
	tmp, err := writeTemp(filepath.Dir(path), filepath.Base(path), func(w *bufio.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return &Error{Path: path, Err: err}
	}
	if err := checkDest(path, overwrite); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return &Error{Path: path, Err: err}
	}
	return nil
}
