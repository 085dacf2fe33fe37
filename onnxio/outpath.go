package onnxio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is returned (wrapped) when an output path names something
// other than a regular file: shrink writes only regular files, so a
// symbolic link, a device, a FIFO, a socket or a folder is never replaced,
// with or without Overwrite.
var ErrNotRegular = errors.New("not a regular file")

// ErrSameFile is returned (wrapped) when an output path is one of the
// inputs (the same file, whatever the path: links and hard links are
// resolved by device and inode).
var ErrSameFile = errors.New("is an input")

// CheckOutput checks, before any work, that path may be written: its
// folder exists and is writable, path is not a folder nor any other
// non-regular file (a symbolic link, a device, a FIFO, a socket), it is
// not the same file as any of inputs (compared by device and inode after
// resolving links, so another spelling or a hard link of an input is
// caught), and it does not exist unless overwrite is set. Inputs that do
// not exist are skipped. The writers (Save, WriteFileAtomic) check the
// destination again when they write.
func CheckOutput(path string, overwrite bool, inputs ...string) error {
	if path == "" {
		return &Error{Path: path, Err: errors.New("empty output path")}
	}
	st, err := os.Lstat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Error{Path: path, Err: err}
	}
	if exists {
		if target, err := os.Stat(path); err == nil {
			for _, in := range inputs {
				if in == "" {
					continue
				}
				ist, err := os.Stat(in)
				if err == nil && os.SameFile(target, ist) {
					if filepath.Clean(in) == filepath.Clean(path) {
						return &Error{Path: path, Err: fmt.Errorf("%w; write to another file", ErrSameFile)}
					}
					return &Error{Path: path, Err: fmt.Errorf("%w (%s, the same file); write to another file", ErrSameFile, in)}
				}
			}
		}
		if err := regularDest(path, st, overwrite); err != nil {
			return err
		}
	}
	return checkFolderWritable(filepath.Dir(path), path)
}

// regularDest fails unless st (from Lstat of path) is a regular file that
// may be replaced.
func regularDest(path string, st fs.FileInfo, overwrite bool) error {
	mode := st.Mode()
	if !mode.IsRegular() {
		kind := "not a regular file"
		switch {
		case mode&fs.ModeSymlink != 0:
			kind = "a symbolic link (give the file it points to)"
		case mode.IsDir():
			kind = "a folder (give a file name)"
		case mode&fs.ModeCharDevice != 0:
			kind = "a character device"
		case mode&fs.ModeDevice != 0:
			kind = "a block device"
		case mode&fs.ModeNamedPipe != 0:
			kind = "a FIFO"
		case mode&fs.ModeSocket != 0:
			kind = "a socket"
		}
		return &Error{Path: path, Err: fmt.Errorf("%w: it is %s; shrink only replaces regular files", ErrNotRegular, kind)}
	}
	if !overwrite {
		return &Error{Path: path, Err: ErrExists}
	}
	return nil
}

// checkDest is the writers' check of the destination just before they
// write: it may be absent, or a regular file when overwrite is set.
func checkDest(path string, overwrite bool) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return &Error{Path: path, Err: err}
	}
	return regularDest(path, st, overwrite)
}

// checkFolderWritable fails unless dir is an existing folder in which a
// file can be created (the probe is removed at once): permission bits do
// not tell about read-only mounts, and root ignores them.
func checkFolderWritable(dir, path string) error {
	st, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &Error{Path: path, Err: fmt.Errorf("folder %s does not exist", dir)}
		}
		return &Error{Path: path, Err: err}
	}
	if !st.IsDir() {
		return &Error{Path: path, Err: fmt.Errorf("%s is not a folder", dir)}
	}
	f, err := os.CreateTemp(dir, TempPrefix+"probe-*")
	if err != nil {
		return &Error{Path: path, Err: fmt.Errorf("folder %s is not writable: %w", dir, unwrapPath(err))}
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// unwrapPath drops the *PathError wrapper (whose path is a probe name).
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
