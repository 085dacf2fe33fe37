package kernels

import (
	"strings"
	"testing"
)

func TestDispatch(t *testing.T) {
	names := Impls()
	if len(names) == 0 || names[0] != "generic" {
		t.Fatalf("Impls() = %v, want generic first", names)
	}
	if ImplName() != names[len(names)-1] {
		t.Fatalf("ImplName() = %q, want the fastest available, %q", ImplName(), names[len(names)-1])
	}
	if Features() == "" {
		t.Fatal("Features() is empty")
	}
	defer SetImpl("")
	for _, n := range names {
		if err := SetImpl(n); err != nil {
			t.Fatalf("SetImpl(%q): %v", n, err)
		}
		if ImplName() != n {
			t.Fatalf("after SetImpl(%q), ImplName() = %q", n, ImplName())
		}
	}
	if err := SetImpl("sse9"); err == nil || !strings.Contains(err.Error(), "unknown") {
		t.Fatalf("SetImpl(unknown) = %v", err)
	}
	for _, e := range implTable {
		if !e.available {
			if err := SetImpl(e.impl.name); err == nil {
				t.Fatalf("SetImpl(%q) succeeded on a CPU lacking %s", e.impl.name, e.missing)
			}
		}
	}
	if err := SetImpl("auto"); err != nil || ImplName() != names[len(names)-1] {
		t.Fatalf("SetImpl(auto) = %v, ImplName() = %q", err, ImplName())
	}
}

// TestImplComplete checks that every implementation has every kernel.
func TestImplComplete(t *testing.T) {
	for _, e := range implTable {
		im := e.impl
		if im.quantizeU8 == nil || im.quantizeI8 == nil || im.dequantizeU8 == nil || im.dequantizeI8 == nil ||
			im.minMax == nil || im.absMax == nil || im.histogram == nil || im.dot == nil || im.axpy == nil || im.sum == nil || im.gemm.kern == nil {
			t.Errorf("implementation %q lacks a kernel", im.name)
		}
		if g := im.gemm; g.mr <= 0 || g.nr <= 0 || g.kc <= 0 || g.nb < g.nr || g.mc < g.mr {
			t.Errorf("implementation %q has bad GEMM blocking %+v", im.name, g)
		}
	}
}
