// Command shrink makes ONNX models smaller and faster, then proves it.
package main

import (
	"os"

	"github.com/shrinkml/shrink/cmd"
)

func main() { os.Exit(cmd.Main()) }
