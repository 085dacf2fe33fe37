// Package archtest holds the test that enforces the layout's dependency
// rules (docs/architecture.md): which package may import which, and that
// library packages never print or exit. It has no non-test code.
package archtest
