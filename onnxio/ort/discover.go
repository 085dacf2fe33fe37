// Package ort is shrink's one boundary to ONNX Runtime (through cgo, via
// github.com/yalue/onnxruntime_go): finding the shared library, sessions with
// dynamic shapes and chosen (also intermediate) outputs, threads, graph
// optimization levels, execution providers, profiling.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibVersion is the ONNX Runtime release shrink is built and tested against.
const LibVersion = "1.29.0"

// LibFile is the file name `make setup` installs.
const LibFile = "libonnxruntime.so." + LibVersion

// Candidate is one place the library was looked for.
type Candidate struct {
	Source string `json:"source"`
	Path   string `json:"path"`
	Found  bool   `json:"found"`
}

// Candidates lists, in order, where the library is looked for: the
// --ort-lib flag, $SHRINK_ORT_LIB, $ONNXRUNTIME_SHARED_LIBRARY_PATH, lib/
// beside the binary, $XDG_CACHE_HOME/shrink (default ~/.cache/shrink).
func Candidates(flag string) []Candidate {
	var cs []Candidate
	add := func(src, p string) {
		if p == "" {
			cs = append(cs, Candidate{Source: src})
			return
		}
		st, err := os.Stat(p)
		if err == nil && st.IsDir() {
			if found := findInDir(p); found != "" {
				p = found
			} else {
				err = os.ErrNotExist
			}
		}
		cs = append(cs, Candidate{Source: src, Path: p, Found: err == nil})
	}
	add("--ort-lib", flag)
	add("SHRINK_ORT_LIB", os.Getenv("SHRINK_ORT_LIB"))
	add("ONNXRUNTIME_SHARED_LIBRARY_PATH", os.Getenv("ONNXRUNTIME_SHARED_LIBRARY_PATH"))
	if exe, err := os.Executable(); err == nil {
		add("lib/ beside the binary", filepath.Join(filepath.Dir(exe), "lib"))
	} else {
		add("lib/ beside the binary", "")
	}
	add("cache", cacheDir())
	return cs
}

func cacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "shrink")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".cache", "shrink")
	}
	return ""
}

func findInDir(dir string) string {
	if p := filepath.Join(dir, LibFile); fileExists(p) {
		return p
	}
	m, _ := filepath.Glob(filepath.Join(dir, "libonnxruntime.so*"))
	sort.Sort(sort.Reverse(sort.StringSlice(m)))
	for _, p := range m {
		if fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ErrNoLibrary means no ONNX Runtime library was found anywhere.
var ErrNoLibrary = errors.New("ONNX Runtime library not found")

// Discover returns the first existing library among Candidates(flag). A flag
// or environment variable that names a missing file is an error of its own
// (the user asked for that file).
func Discover(flag string) (string, error) {
	cs := Candidates(flag)
	var tried []string
	for i, c := range cs {
		if c.Path == "" {
			continue
		}
		if c.Found {
			return c.Path, nil
		}
		if i < 3 {
			return "", fmt.Errorf("%w: %s names %s, which does not exist", ErrNoLibrary, c.Source, c.Path)
		}
		tried = append(tried, c.Path)
	}
	return "", fmt.Errorf("%w (looked in %s); run `make setup`, or pass --ort-lib / set SHRINK_ORT_LIB to a libonnxruntime.so %s", ErrNoLibrary, strings.Join(tried, ", "), LibVersion)
}

var (
	initMu   sync.Mutex
	initPath string
	initErr  error
)

// Init loads the library (found with Discover(flag)) and creates the ORT
// environment, once per process. Later calls return the first result; a
// later call naming a different library is an error.
func Init(flag string) (string, error) {
	initMu.Lock()
	defer initMu.Unlock()
	if initPath != "" || initErr != nil {
		if flag != "" && initPath != "" && flag != initPath {
			if p, _ := Discover(flag); p != initPath {
				return initPath, fmt.Errorf("ONNX Runtime already loaded from %s", initPath)
			}
		}
		return initPath, initErr
	}
	p, err := Discover(flag)
	if err != nil {
		initErr = err
		return "", err
	}
	ort.SetSharedLibraryPath(p)
	if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
		initErr = fmt.Errorf("loading ONNX Runtime from %s: %w", p, err)
		return "", initErr
	}
	_ = ort.DisableTelemetry()
	initPath = p
	return p, nil
}

// Version is the loaded library's version string ("" before Init).
func Version() string {
	if !ort.IsInitialized() {
		return ""
	}
	return ort.GetVersion()
}

// Providers lists the execution providers this library can create, by
// trying each known one on a throwaway session options object.
func Providers() []string {
	out := []string{"cpu"}
	for _, p := range []string{"cuda", "tensorrt"} {
		o, err := ort.NewSessionOptions()
		if err != nil {
			break
		}
		if appendProvider(o, p) == nil {
			out = append(out, p)
		}
		o.Destroy()
	}
	return out
}
