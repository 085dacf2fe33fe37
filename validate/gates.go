package validate

import (
	"fmt"
	"math"
	"strconv"
)

// GateKind names a gate; the names are the CLI flags (and recipe keys)
// that set them. A gate means the same wherever it is checked: `shrink
// compare` and the accuracy budget of a transform (transform.Env.Budget)
// both evaluate it with CheckGates.
type GateKind string

// The gates.
const (
	// MaxAccuracyDrop: the baseline's accuracy minus the candidate's, in
	// percentage points, must be at most the limit (top-1/top-5 metrics, or
	// the headline figure of a task metric such as ctc or boxes).
	MaxAccuracyDrop GateKind = "max-accuracy-drop"
	// MinAgreement: the fraction of samples on which the candidate's top-1
	// class is the baseline's must be at least the limit.
	MinAgreement GateKind = "min-agreement"
	// MinSpeedup: the median of paired time ratios baseline / candidate
	// must be at least the limit.
	MinSpeedup GateKind = "min-speedup"
	// MaxSizeRatio: the candidate's bytes on disk (file and external data)
	// over the baseline's must be at most the limit.
	MaxSizeRatio GateKind = "max-size-ratio"
	// MinSQNR: the lowest SQNR, in dB, over the candidate's float outputs
	// against the baseline's (CandidateResult.MinSQNR) must be at least
	// the limit. It needs no labels: for detectors, regressors and any
	// model without classes.
	MinSQNR GateKind = "min-sqnr"
)

// Gate is one limit a candidate must meet.
type Gate struct {
	Kind  GateKind
	Limit float64
}

// String is the gate as its flag or recipe key reads: "min-agreement 0.99".
func (g Gate) String() string { return string(g.Kind) + " " + fmtFig(g.Limit) }

// Unit is how the gate's figure is expressed.
func (k GateKind) Unit() string {
	switch k {
	case MaxAccuracyDrop:
		return "points"
	case MinAgreement:
		return "fraction"
	case MinSpeedup, MaxSizeRatio:
		return "×"
	case MinSQNR:
		return "dB"
	}
	return ""
}

// AtMost reports whether the figure must stay at or below the limit.
func (k GateKind) AtMost() bool { return k == MaxAccuracyDrop || k == MaxSizeRatio }

// GateResult is the outcome of one gate for one candidate.
type GateResult struct {
	Gate      GateKind
	Candidate string // the candidate's name
	Index     int    // the candidate's index in Evaluation.Candidates
	// Figure is the candidate's measured value; NaN when it could not be
	// measured (then the gate fails, and Reason says why).
	Figure float64
	Limit  float64
	Passed bool
	Reason string
}

// String is one line: the candidate, the gate, the figure and the limit,
// e.g. "int8.onnx: max-accuracy-drop: 1.62 points > limit 1 points".
func (r GateResult) String() string {
	if math.IsNaN(r.Figure) {
		return fmt.Sprintf("%s: %s: not measured (%s), limit %s", r.Candidate, r.Gate, r.Reason, r.Gate.format(r.Limit))
	}
	op := "<="
	if !r.Gate.AtMost() {
		op = ">="
	}
	if !r.Passed {
		op = map[string]string{"<=": ">", ">=": "<"}[op]
	}
	return fmt.Sprintf("%s: %s: %s %s limit %s", r.Candidate, r.Gate, r.Gate.format(r.Figure), op, r.Gate.format(r.Limit))
}

// format writes v with the gate's unit: "1.5 points", "0.97", "1.2×".
func (k GateKind) format(v float64) string {
	switch k.Unit() {
	case "points":
		return fmtFig(v) + " points"
	case "×":
		return fmtFig(v) + "×"
	case "dB":
		return fmtFig(v) + " dB"
	}
	return fmtFig(v)
}

func fmtFig(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// LimitError is a gate whose limit cannot be used. Its text starts with
// the gate's name, which is also its flag and recipe key.
type LimitError struct {
	Gate Gate
	Msg  string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s: %s", e.Gate, e.Msg)
}

// ValidateGates checks that limits are usable numbers in each gate's range
// and that a gate can be evaluated with the chosen metric ("": decided by
// the data). Errors are *LimitError.
func ValidateGates(gates []Gate, metric Metric) error {
	for _, g := range gates {
		bad := func(format string, a ...any) error { return &LimitError{Gate: g, Msg: fmt.Sprintf(format, a...)} }
		if math.IsNaN(g.Limit) || math.IsInf(g.Limit, 0) {
			return bad("the limit must be a finite number")
		}
		switch g.Kind {
		case MaxAccuracyDrop:
			if metric != "" && !metric.IsClassification() && !metric.IsTask() {
				return bad("needs a top1, top5, ctc or boxes metric (got %s)", metric)
			}
		case MinAgreement:
			if g.Limit < 0 || g.Limit > 1 {
				return bad("not a fraction in [0, 1]")
			}
		case MinSpeedup, MaxSizeRatio:
			if g.Limit <= 0 {
				return bad("must be > 0")
			}
		case MinSQNR:
			if g.Limit < 0 {
				return bad("must be >= 0 dB")
			}
		default:
			return bad("unknown gate")
		}
	}
	return nil
}

// CheckGates evaluates every gate for every candidate of ev, in the order
// candidates × gates.
func CheckGates(ev *Evaluation, gates []Gate) []GateResult {
	var out []GateResult
	for ci, c := range ev.Candidates {
		name := ev.Models[ci+1].Name
		for _, g := range gates {
			r := GateResult{Gate: g.Kind, Candidate: name, Index: ci, Limit: g.Limit, Figure: math.NaN()}
			switch g.Kind {
			case MaxAccuracyDrop:
				r.Figure = c.AccuracyDrop
				if math.IsNaN(r.Figure) {
					r.Reason = "no labels, or not a top-k or task metric"
				}
			case MinAgreement:
				r.Figure = c.Fidelity.Agreement
				if math.IsNaN(r.Figure) {
					r.Reason = "the output has one value per sample"
				}
			case MinSpeedup:
				r.Figure = c.Speedup
				if math.IsNaN(r.Figure) {
					r.Reason = "latency not measured (--runs 0)"
				}
			case MaxSizeRatio:
				r.Figure = c.SizeRatio
				if math.IsNaN(r.Figure) {
					r.Reason = "size not measured (no model file)"
				}
			case MinSQNR:
				r.Figure = c.MinSQNR
				if math.IsNaN(r.Figure) {
					r.Reason = "no float output to compare"
				}
			}
			r.Passed = passes(g.Kind, r.Figure, g.Limit)
			out = append(out, r)
		}
	}
	return out
}

// passes is the one comparison of a figure with a limit: with a tolerance
// of a few ulps, so that a figure computed to equal the limit (a drop of
// exactly 1 point, say) passes; a NaN figure (not measured) fails; ±Inf
// compare as numbers (an identical output's +Inf dB passes any min-sqnr).
func passes(k GateKind, fig, limit float64) bool {
	if math.IsNaN(fig) {
		return false
	}
	tol := 1e-12 * math.Max(1, math.Abs(limit))
	if k.AtMost() {
		return fig <= limit+tol
	}
	return fig >= limit-tol
}

// Failed returns the results that did not pass.
func Failed(rs []GateResult) []GateResult {
	var out []GateResult
	for _, r := range rs {
		if !r.Passed {
			out = append(out, r)
		}
	}
	return out
}
