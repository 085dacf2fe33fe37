package cmd

import "fmt"

// plural writes a count with its noun in the right number: "1 tensor",
// "2 tensors" (never "tensor(s)").
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
