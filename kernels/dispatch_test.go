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
		if m := im.missing(); len(m) > 0 {
			t.Errorf("implementation %q lacks %v", im.name, m)
		}
		if m := (&impl{}).missing(); len(m) < 18 {
			t.Errorf("an empty implementation lacks only %v: missing does not see every kernel", m)
		}
		if g := im.gemm; g.mr <= 0 || g.nr <= 0 || g.kc <= 0 || g.nb < g.nr || g.mc < g.mr {
			t.Errorf("implementation %q has bad GEMM blocking %+v", im.name, g)
		}
	}
}
