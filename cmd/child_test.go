package cmd

import "os/exec"

func newChild(exe string, args ...string) *exec.Cmd { return exec.Command(exe, args...) }
