package cmd

// kernelsPath names the SIMD path the kernels package uses on this CPU.
func kernelsPath() string { return "generic Go" }
