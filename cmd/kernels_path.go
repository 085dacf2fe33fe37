package cmd

import "github.com/shrinkml/shrink/kernels"

// kernelsPath names the SIMD path the kernels package uses on this CPU.
func kernelsPath() string { return kernels.ImplName() + " (" + kernels.Features() + ")" }
