package progress

import (
	"slices"
	"testing"
	"time"
)

func TestTreeEventsCarryPaths(t *testing.T) {
	rec := &Recorder{}
	clk := time.Unix(0, 0)
	root := NewWithClock(rec, func() time.Time { return clk })
	step := root.Phase("quantize", 0)
	cal := step.Phase("calibrate", 10)
	cal.Add(4)
	cal.Add(6)
	clk = clk.Add(2 * time.Second)
	cal.Done()
	cal.Done() // a second Done does nothing
	val := step.Phase("validate", 3)
	val.Log("a note")
	val.Add(1)
	step.Done() // closes validate first
	root.Log("top")

	want := []struct {
		kind        Kind
		path        string
		total, done int64
	}{
		{Start, "quantize", 0, 0},
		{Start, "quantize › calibrate", 10, 0},
		{Progress, "quantize › calibrate", 10, 4},
		{Progress, "quantize › calibrate", 10, 10},
		{End, "quantize › calibrate", 10, 10},
		{Start, "quantize › validate", 3, 0},
		{Note, "quantize › validate", 0, 0},
		{Progress, "quantize › validate", 3, 1},
		{End, "quantize › validate", 3, 1},
		{End, "quantize", 0, 0},
		{Note, "", 0, 0},
	}
	if len(rec.Events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(rec.Events), len(want), rec.Events)
	}
	for i, w := range want {
		e := rec.Events[i]
		if e.Kind != w.kind || JoinPath(e.Path) != w.path || e.Total != w.total || e.Done != w.done {
			t.Errorf("event %d = %s %q %d/%d, want %s %q %d/%d", i, e.Kind, JoinPath(e.Path), e.Done, e.Total, w.kind, w.path, w.done, w.total)
		}
	}
	if e, ok := rec.Ended("quantize › calibrate"); !ok || e.Elapsed != 2*time.Second {
		t.Errorf("calibrate ended %v after %v, want 2s", ok, e.Elapsed)
	}
	if got := rec.Phases(); !slices.Equal(got, []string{"quantize", "quantize › calibrate", "quantize › validate"}) {
		t.Errorf("phases %q", got)
	}
	if rec.Events[6].Message != "a note" || rec.Events[10].Message != "top" {
		t.Errorf("log messages %q %q", rec.Events[6].Message, rec.Events[10].Message)
	}
}

func TestSiblingPathsDoNotAlias(t *testing.T) {
	rec := &Recorder{}
	root := New(rec)
	a := root.Phase("a", 0)
	x := a.Phase("x", 0)
	y := a.Phase("y", 0)
	x.Done()
	y.Done()
	a.Done()
	if got := rec.Phases(); !slices.Equal(got, []string{"a", "a › x", "a › y"}) {
		t.Errorf("phases %q", got)
	}
	if _, ok := rec.Ended("a › x"); !ok {
		t.Error("x not ended under its own path")
	}
}

func TestNop(t *testing.T) {
	r := Or(nil)
	p := r.Phase("p", 3)
	p.Add(1)
	p.Phase("q", 0).Done()
	p.Log("x")
	p.Done()
}
