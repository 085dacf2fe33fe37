package transform

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/validate"
)

func TestResolveDefaults(t *testing.T) {
	e, err := Env{}.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	if e.Threads != runtime.NumCPU() || e.Provider != "cpu" || e.Progress == nil {
		t.Errorf("resolved %+v", e)
	}
	e, err = Env{Threads: 1, Provider: "cuda"}.Resolve()
	if err != nil || e.Threads != 1 || e.Provider != "cuda" {
		t.Errorf("explicit values changed: %+v %v", e, err)
	}
}

func TestResolveRefuses(t *testing.T) {
	cases := []struct {
		env   Env
		field string
	}{
		{Env{Threads: -1}, "Threads"},
		{Env{Threads: MaxThreadsPerCPU*runtime.NumCPU() + 1}, "Threads"},
		{Env{Provider: "tpu"}, "Provider"},
		{Env{Budget: []validate.Gate{{Kind: validate.MinAgreement, Limit: 0.9}}}, "Val"},
	}
	for _, c := range cases {
		_, err := c.env.Resolve()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: error %v, want a FieldError on %s", c.env, err, c.field)
			continue
		}
		if !strings.HasPrefix(InEnv(err).Error(), "Env."+c.field) {
			t.Errorf("InEnv: %v", InEnv(err))
		}
	}
}
