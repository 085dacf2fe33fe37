package report

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"time"

	"github.com/shrinkml/shrink/validate"
)

// ShardInfo is the "shard" object of an eval or compare result written
// with --shard: which part of which data set it measured.
type ShardInfo struct {
	Index int `json:"index"`
	Count int `json:"count"`
	// The shard's batches [first_batch, end_batch) and samples
	// [first_sample, end_sample) of the whole data set's.
	FirstBatch   int `json:"first_batch"`
	EndBatch     int `json:"end_batch"`
	FirstSample  int `json:"first_sample"`
	EndSample    int `json:"end_sample"`
	TotalBatches int `json:"total_batches"`
	TotalSamples int `json:"total_samples"`
	// BatchSize is the whole data set's first batch size.
	BatchSize int `json:"batch_size"`
	// Empty flags a shard without samples (more shards than batches).
	Empty bool `json:"empty"`
	// Fingerprint summarizes the data, its labels and preprocessing
	// (dataset.FingerprintOf): shards of other data do not merge.
	Fingerprint string `json:"data_fingerprint"`
	DataBytes   int64  `json:"data_bytes"`
	DataFiles   int    `json:"data_files"`
}

// Sum is a float64 that survives JSON whatever its value: NaN and the
// infinities, which a sum of non-finite outputs holds, are written as the
// strings "NaN", "Infinity" and "-Infinity".
type Sum float64

// MarshalJSON writes the number, or the string of a non-finite value.
func (s Sum) MarshalJSON() ([]byte, error) {
	v := float64(s)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads a number or one of the three strings.
func (s *Sum) UnmarshalJSON(b []byte) error {
	var str string
	if json.Unmarshal(b, &str) == nil {
		switch str {
		case "NaN":
			*s = Sum(math.NaN())
		case "Infinity":
			*s = Sum(math.Inf(1))
		case "-Infinity":
			*s = Sum(math.Inf(-1))
		default:
			return &json.UnmarshalTypeError{Value: fmt.Sprintf("string %q", str), Type: typeOfFloat}
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return &json.UnmarshalTypeError{Value: firstLine(string(b)), Type: typeOfFloat}
	}
	*s = Sum(v)
	return nil
}

var typeOfFloat = reflect.TypeOf(float64(0))

// PartialDoc is the "partial" object of a shard result: validate.Partial,
// every count and sum the figures are computed from, so that `shrink
// report` merges shards exactly.
type PartialDoc struct {
	Samples    int64                 `json:"samples"`
	BatchSize  int                   `json:"batch_size"`
	Labels     bool                  `json:"labels"`
	Metric     string                `json:"metric"`
	Tensors    []string              `json:"tensors"`
	Models     []ModelPartialDoc     `json:"models"`
	Candidates []CandidatePartialDoc `json:"candidates"`
	Timings    []TimingDoc           `json:"timings"`
}

// ModelPartialDoc is validate.ModelPartial.
type ModelPartialDoc struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Output    string `json:"output"`
	NonFinite int64  `json:"non_finite"`
	// Classification counts (top-k metrics): samples scored, correct at
	// top-1 and top-5, samples with non-finite scores.
	Classified     int64 `json:"classified"`
	Top1Correct    int64 `json:"top1_correct"`
	Top5Correct    int64 `json:"top5_correct"`
	ClassNonFinite int64 `json:"class_non_finite"`
	// Regression sums (mse/mae): values compared, Σ error², Σ |error|.
	Values int64 `json:"values"`
	SumSq  Sum   `json:"sum_sq"`
	SumAbs Sum   `json:"sum_abs"`
	// Task is a task metric's sums (null without one).
	Task *TaskPartialDoc `json:"task"`
}

// TaskPartialDoc is validate.TaskPartial.
type TaskPartialDoc struct {
	Samples int64      `json:"samples"`
	Sums    []NamedSum `json:"sums"`
}

// NamedSum is one named sum of a task metric.
type NamedSum struct {
	Name  string `json:"name"`
	Value Sum    `json:"value"`
}

// CandidatePartialDoc is validate.CandidatePartial.
type CandidatePartialDoc struct {
	Fidelity FidelitySums `json:"fidelity"`
	Tensors  []TensorSums `json:"tensors"`
}

// FidelitySums is validate.Fidelity's state.
type FidelitySums struct {
	Samples   int64 `json:"samples"`
	Width     int   `json:"width"`
	ClassAxis int   `json:"class_axis"`
	Classes   int   `json:"classes"`
	Positions int64 `json:"positions"`
	Agree     int64 `json:"agree"`
	CosSum    Sum   `json:"cos_sum"`
	MaxAbs    Sum   `json:"max_abs"`
	Signal    Sum   `json:"signal"`
	Noise     Sum   `json:"noise"`
	ErrAbs    Sum   `json:"err_abs"`
	KLSum     Sum   `json:"kl_sum"`
	Values    int64 `json:"values"`
}

// TensorSums is one compared tensor's SQNR sums.
type TensorSums struct {
	Name       string `json:"name"`
	Signal     Sum    `json:"signal"`
	Noise      Sum    `json:"noise"`
	Comparable bool   `json:"comparable"`
}

// TimingDoc is one part's latency samples: times_ns[model][round].
type TimingDoc struct {
	BatchSize int       `json:"batch_size"`
	Threads   int       `json:"threads"`
	Warmup    int       `json:"warmup"`
	TimesNs   [][]int64 `json:"times_ns"`
}

// newPartialDoc is p as JSON.
func newPartialDoc(p *validate.Partial) *PartialDoc {
	d := &PartialDoc{Samples: p.Samples, BatchSize: p.BatchSize, Labels: p.Labels, Metric: string(p.Metric), Tensors: p.Tensors,
		Models: []ModelPartialDoc{}, Candidates: []CandidatePartialDoc{}, Timings: []TimingDoc{}}
	if d.Tensors == nil {
		d.Tensors = []string{}
	}
	for _, m := range p.Models {
		md := ModelPartialDoc{Name: m.Name, Path: m.Path, Output: m.Output, NonFinite: m.NonFinite,
			Classified: m.Class.Samples, Top1Correct: m.Class.Top1, Top5Correct: m.Class.Top5, ClassNonFinite: m.Class.NonFinite,
			Values: m.Reg.Values, SumSq: Sum(m.Reg.SumSq), SumAbs: Sum(m.Reg.SumAbs)}
		if t := m.Task; t != nil {
			md.Task = &TaskPartialDoc{Samples: t.Samples, Sums: []NamedSum{}}
			for _, s := range t.Sums {
				md.Task.Sums = append(md.Task.Sums, NamedSum{s.Name, Sum(s.Value)})
			}
		}
		d.Models = append(d.Models, md)
	}
	for _, c := range p.Candidates {
		f := c.Fidelity
		cd := CandidatePartialDoc{Fidelity: FidelitySums{Samples: f.Samples, Width: f.Width, ClassAxis: f.ClassAxis, Classes: f.Classes,
			Positions: f.Positions, Agree: f.Agree, CosSum: Sum(f.CosSum), MaxAbs: Sum(f.MaxAbs), Signal: Sum(f.Energy.Signal),
			Noise: Sum(f.Energy.Noise), ErrAbs: Sum(f.ErrAbs), KLSum: Sum(f.KLSum), Values: f.Values}, Tensors: []TensorSums{}}
		for k, t := range c.Tensors {
			cd.Tensors = append(cd.Tensors, TensorSums{Name: p.Tensors[k], Signal: Sum(t.Sum.Signal), Noise: Sum(t.Sum.Noise), Comparable: t.Comparable})
		}
		d.Candidates = append(d.Candidates, cd)
	}
	for _, t := range p.Timings {
		td := TimingDoc{BatchSize: t.BatchSize, Threads: t.Threads, Warmup: t.Warmup, TimesNs: [][]int64{}}
		for _, times := range t.Times {
			ns := make([]int64, len(times))
			for i, d := range times {
				ns[i] = int64(d)
			}
			td.TimesNs = append(td.TimesNs, ns)
		}
		d.Timings = append(d.Timings, td)
	}
	return d
}

// partial reads d back; errors name the field.
func (d *PartialDoc) partial() (*validate.Partial, error) {
	if len(d.Models) == 0 {
		return nil, fmt.Errorf("partial.models: no models")
	}
	if len(d.Candidates) != len(d.Models)-1 {
		return nil, fmt.Errorf("partial.candidates: %d for %d models", len(d.Candidates), len(d.Models))
	}
	if d.Samples < 0 {
		return nil, fmt.Errorf("partial.samples: %d", d.Samples)
	}
	p := &validate.Partial{Samples: d.Samples, BatchSize: d.BatchSize, Labels: d.Labels, Metric: validate.Metric(d.Metric), Tensors: d.Tensors}
	for _, m := range d.Models {
		mp := validate.ModelPartial{Name: m.Name, Path: m.Path, Output: m.Output, NonFinite: m.NonFinite,
			Class: validate.Classification{Samples: m.Classified, Top1: m.Top1Correct, Top5: m.Top5Correct, NonFinite: m.ClassNonFinite},
			Reg:   validate.Regression{Values: m.Values, SumSq: float64(m.SumSq), SumAbs: float64(m.SumAbs)}}
		if t := m.Task; t != nil {
			mp.Task = &validate.TaskPartial{Samples: t.Samples}
			for _, s := range t.Sums {
				mp.Task.Sums = append(mp.Task.Sums, validate.Figure{Name: s.Name, Value: float64(s.Value)})
			}
		}
		p.Models = append(p.Models, mp)
	}
	for i, c := range d.Candidates {
		f := c.Fidelity
		cp := validate.CandidatePartial{Fidelity: validate.Fidelity{ClassAxis: f.ClassAxis, Samples: f.Samples, Width: f.Width, Classes: f.Classes,
			Positions: f.Positions, Agree: f.Agree, CosSum: float64(f.CosSum), MaxAbs: float64(f.MaxAbs),
			Energy: validate.SQNRSum{Signal: float64(f.Signal), Noise: float64(f.Noise)}, ErrAbs: float64(f.ErrAbs), KLSum: float64(f.KLSum), Values: f.Values}}
		if len(c.Tensors) != len(d.Tensors) {
			return nil, fmt.Errorf("partial.candidates[%d].tensors: %d for %d compared tensors", i, len(c.Tensors), len(d.Tensors))
		}
		for k, t := range c.Tensors {
			if t.Name != d.Tensors[k] {
				return nil, fmt.Errorf("partial.candidates[%d].tensors[%d]: %q, want %q", i, k, t.Name, d.Tensors[k])
			}
			cp.Tensors = append(cp.Tensors, validate.TensorPartial{Sum: validate.SQNRSum{Signal: float64(t.Signal), Noise: float64(t.Noise)}, Comparable: t.Comparable})
		}
		p.Candidates = append(p.Candidates, cp)
	}
	for i, t := range d.Timings {
		if len(t.TimesNs) != len(d.Models) {
			return nil, fmt.Errorf("partial.timings[%d].times_ns: %d series for %d models", i, len(t.TimesNs), len(d.Models))
		}
		tp := validate.TimingPartial{BatchSize: t.BatchSize, Threads: t.Threads, Warmup: t.Warmup}
		for _, ns := range t.TimesNs {
			times := make([]time.Duration, len(ns))
			for j, v := range ns {
				times[j] = time.Duration(v)
			}
			tp.Times = append(tp.Times, times)
		}
		if len(tp.Times[0]) == 0 {
			return nil, fmt.Errorf("partial.timings[%d].times_ns: no runs", i)
		}
		p.Timings = append(p.Timings, tp)
	}
	return p, nil
}
