// Package report turns validation results into documents: JSON (schemas in
// docs/schemas: shrink.eval/v1, shrink.compare/v1), Markdown for a pull
// request comment or a GitHub step summary, and JUnit XML with one test
// case per gate. The JSON documents are the canonical form: Markdown and
// JUnit are rendered from them, so a saved JSON file can be re-rendered.
//
// Merge reads several such results (and other verbs' --json results, by
// their "schema" through a registry of result kinds) into one Document,
// shrink.report/v1, rendered as JSON, Markdown, or a self-contained HTML
// page with charts drawn by gonum/plot as inline SVG.
//
// JSON has no NaN or infinity. A figure that was not measured or is not
// defined is null; an SQNR of +∞ (candidate identical to the baseline) is
// null with "sqnr_infinite": true.
package report

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/validate"
)

// Schema identifiers, the documents' "schema" field.
const (
	EvalSchema    = "shrink.eval/v1"
	CompareSchema = "shrink.compare/v1"
)

// Meta is what the results do not know about their run.
type Meta struct {
	// Tool names the program and its version ("shrink 0.1.0").
	Tool string
	// Data and Labels are the paths given with --data and --labels.
	Data, Labels string
	// DataFingerprint, DataBytes and DataFiles summarize the data
	// (dataset.FingerprintOf) for a shard's result.
	DataFingerprint string
	DataBytes       int64
	DataFiles       int
}

// Data describes the data set.
type Data struct {
	Path      string `json:"path"`
	Labels    string `json:"labels"`
	HasLabels bool   `json:"has_labels"`
	Samples   int    `json:"samples"`
	BatchSize int    `json:"batch_size"`
}

// Model is what was measured of one model.
type Model struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Output string `json:"output"`
	// Accuracy is null when the data has no labels.
	Accuracy *Accuracy `json:"accuracy"`
	// Latency is null when it was not measured.
	Latency *Latency `json:"latency"`
	// Size is null for a model without a file.
	Size *Size `json:"size"`
	// NonFinite counts the samples whose output holds a NaN or an
	// infinity (with labels they count as wrong).
	NonFinite int64 `json:"non_finite_outputs"`
}

// Accuracy against the labels.
type Accuracy struct {
	Metric string `json:"metric"`
	// Value is the metric: a fraction for top1/top5, the error for mse/mae.
	Value   *float64 `json:"value"`
	Samples int64    `json:"samples"`
	// Correct is the number of samples right under the metric; the top-k
	// fields are null for mse/mae, mse and mae null for top1/top5.
	Correct     *int64   `json:"correct"`
	Top1Correct *int64   `json:"top1_correct"`
	Top5Correct *int64   `json:"top5_correct"`
	Top1        *float64 `json:"top1"`
	Top5        *float64 `json:"top5"`
	MSE         *float64 `json:"mse"`
	MAE         *float64 `json:"mae"`
	// Figures are a task metric's figures by name (ctc: char_accuracy,
	// line_accuracy, …; boxes: hmean, recall, precision, …); null for the
	// other metrics.
	Figures map[string]*float64 `json:"figures"`
}

// Latency of one model; times in milliseconds per batch.
type Latency struct {
	BatchSize int     `json:"batch_size"`
	Threads   int     `json:"threads"`
	Warmup    int     `json:"warmup"`
	Runs      int     `json:"runs"`
	MeanMs    float64 `json:"mean_ms"`
	MinMs     float64 `json:"min_ms"`
	MaxMs     float64 `json:"max_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P90Ms     float64 `json:"p90_ms"`
	P99Ms     float64 `json:"p99_ms"`
	// Throughput is samples per second.
	Throughput *float64 `json:"throughput_sps"`
}

// Size of a model.
type Size struct {
	FileBytes     int64               `json:"file_bytes"`
	ExternalBytes int64               `json:"external_bytes"`
	TotalBytes    int64               `json:"total_bytes"`
	GzipBytes     int64               `json:"gzip_bytes"`
	Parameters    int64               `json:"parameters"`
	NonZero       int64               `json:"nonzero_parameters"`
	ByDType       []onnxio.DTypeStats `json:"by_dtype"`
	// SHA256 is "sha256:…" of the file and its external data.
	SHA256 string `json:"sha256,omitempty"`
}

// Fidelity of a candidate to the baseline.
type Fidelity struct {
	Samples int64 `json:"samples"`
	// ClassAxis is the output axis agreement and KL read the classes
	// along (null: the whole sample is one score vector); Positions the
	// score vectors per sample (1 for a classifier, T for a sequence).
	ClassAxis *int `json:"class_axis"`
	Positions int  `json:"positions"`
	// Agreement and KL are null for outputs of one value per position.
	Agreement  *float64 `json:"agreement"`
	Cosine     *float64 `json:"cosine"`
	MaxAbsDiff *float64 `json:"max_abs_diff"`
	// SQNRdB is null when infinite (SQNRInfinite: the outputs are
	// identical) or undefined (a zero baseline output).
	SQNRdB       *float64 `json:"sqnr_db"`
	SQNRInfinite bool     `json:"sqnr_infinite"`
	KL           *float64 `json:"kl_divergence"`
	MSE          *float64 `json:"mse"`
	MAE          *float64 `json:"mae"`
}

// Gate is the outcome of one gate for one candidate.
type Gate struct {
	Gate      string `json:"gate"`
	Candidate string `json:"candidate"`
	// CandidateIndex is the candidate's position in "candidates".
	CandidateIndex int `json:"candidate_index"`
	// Figure is null when it could not be measured (the gate then fails
	// and Reason says why).
	Figure  *float64 `json:"figure"`
	Limit   float64  `json:"limit"`
	Unit    string   `json:"unit"`
	Passed  bool     `json:"passed"`
	Reason  string   `json:"reason,omitempty"`
	Message string   `json:"message"`
}

// figure writes the gate's figure with prec significant digits. A null
// figure without a reason was infinite (an SQNR of identical outputs, or of
// an output holding NaN): its sign follows from the outcome.
func (g Gate) figure(prec int) string {
	switch {
	case g.Figure != nil:
		return strconv.FormatFloat(*g.Figure, 'g', prec, 64)
	case g.Reason != "":
		return "not measured"
	case g.Passed == g.atLeast():
		return "∞"
	}
	return "-∞"
}

// atLeast reports whether the figure must reach the limit (a "min-" gate)
// rather than stay under it, from the gate's name as the document has it.
func (g Gate) atLeast() bool { return strings.HasPrefix(g.Gate, "min-") }

// Eval is the shrink.eval/v1 document.
type Eval struct {
	Schema   string  `json:"schema"`
	Tool     string  `json:"tool"`
	Data     Data    `json:"data"`
	Model    Model   `json:"model"`
	ElapsedS float64 `json:"elapsed_s"`
	// Shard and Partial are set in a shard's result (--shard): the part
	// of the data measured and the counts and sums `shrink report` merges.
	Shard   *ShardInfo  `json:"shard,omitempty"`
	Partial *PartialDoc `json:"partial,omitempty"`
}

// Settings are the measurement settings of a comparison.
type Settings struct {
	Metric    *string `json:"metric"`
	BatchSize int     `json:"batch_size"`
	Threads   int     `json:"threads"`
	Provider  string  `json:"provider"`
	Warmup    int     `json:"warmup"`
	Runs      int     `json:"runs"`
}

// Candidate is one candidate compared with the baseline.
type Candidate struct {
	Model
	Fidelity Fidelity `json:"fidelity"`
	// AccuracyDrop is the baseline's accuracy minus the candidate's in
	// percentage points (null without labels or for mse/mae).
	AccuracyDrop *float64 `json:"accuracy_drop_points"`
	// Speedup is the median of paired ratios baseline time / candidate time.
	Speedup *float64 `json:"speedup"`
	// SizeRatio is the candidate's total bytes over the baseline's.
	SizeRatio *float64 `json:"size_ratio"`
	Passed    bool     `json:"passed"`
}

// Compare is the shrink.compare/v1 document.
type Compare struct {
	Schema     string      `json:"schema"`
	Tool       string      `json:"tool"`
	Data       Data        `json:"data"`
	Settings   Settings    `json:"settings"`
	Baseline   Model       `json:"baseline"`
	Candidates []Candidate `json:"candidates"`
	Gates      []Gate      `json:"gates"`
	Passed     bool        `json:"passed"`
	ElapsedS   float64     `json:"elapsed_s"`
	// Shard and Partial: see Eval.
	Shard   *ShardInfo  `json:"shard,omitempty"`
	Partial *PartialDoc `json:"partial,omitempty"`
}

// num is v, or nil when v is NaN or infinite.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func i64(v int64) *int64 { return &v }

func data(ev *validate.Evaluation, meta Meta) Data {
	return Data{Path: meta.Data, Labels: meta.Labels, HasLabels: ev.Labels, Samples: ev.Samples, BatchSize: ev.BatchSize}
}

func model(r validate.ModelResult) Model {
	m := Model{Name: r.Name, Path: r.Path, Output: r.Output, NonFinite: r.NonFinite}
	if a := r.Accuracy; a != nil {
		d := &Accuracy{Metric: string(a.Metric), Value: num(a.Value), Samples: a.Samples}
		switch {
		case a.Task != nil:
			d.Figures = map[string]*float64{}
			for _, f := range a.Task.Figures {
				d.Figures[f.Name] = num(f.Value)
			}
		case a.Metric.IsClassification():
			d.Top1Correct, d.Top5Correct = i64(a.Top1Correct), i64(a.Top5Correct)
			d.Top1, d.Top5 = num(a.Top1), num(a.Top5)
			d.Correct = d.Top1Correct
			if a.Metric == validate.Top5 {
				d.Correct = d.Top5Correct
			}
		default:
			d.MSE, d.MAE = num(a.MSE), num(a.MAE)
		}
		m.Accuracy = d
	}
	if l := r.Latency; l != nil {
		m.Latency = &Latency{BatchSize: l.BatchSize, Threads: l.Threads, Warmup: l.Warmup, Runs: l.Runs,
			MeanMs: l.MeanMs, MinMs: l.MinMs, MaxMs: l.MaxMs, P50Ms: l.P50Ms, P90Ms: l.P90Ms, P99Ms: l.P99Ms,
			Throughput: num(l.Throughput)}
	}
	if s := r.Size; s != nil {
		by := s.ByDType
		if by == nil {
			by = []onnxio.DTypeStats{}
		}
		m.Size = &Size{FileBytes: s.FileBytes, ExternalBytes: s.ExternalBytes, TotalBytes: s.TotalBytes, GzipBytes: s.GzipBytes,
			Parameters: s.Parameters, NonZero: s.NonZero, ByDType: by, SHA256: s.SHA256}
	}
	return m
}

// NewEval builds the eval document of a one-model evaluation.
func NewEval(ev *validate.Evaluation, meta Meta) *Eval {
	d := &Eval{Schema: EvalSchema, Tool: meta.Tool, Data: data(ev, meta), Model: model(ev.Models[0]), ElapsedS: ev.Elapsed.Seconds()}
	d.Shard, d.Partial = shardOf(ev, meta)
	return d
}

// shardOf is a shard's "shard" and "partial" objects (nil, nil for an
// evaluation of the whole data set).
func shardOf(ev *validate.Evaluation, meta Meta) (*ShardInfo, *PartialDoc) {
	r := ev.Shard
	if r == nil || ev.Partial == nil {
		return nil, nil
	}
	return &ShardInfo{Index: r.Shard.Index, Count: r.Shard.Count, FirstBatch: r.FirstBatch, EndBatch: r.EndBatch,
		FirstSample: r.FirstSample, EndSample: r.EndSample, TotalBatches: r.TotalBatches, TotalSamples: r.TotalSamples,
		BatchSize: r.BatchSize, Empty: r.Empty(), Fingerprint: meta.DataFingerprint, DataBytes: meta.DataBytes, DataFiles: meta.DataFiles}, newPartialDoc(ev.Partial)
}

// NewCompare builds the compare document from an evaluation of a baseline
// and candidates and the gate results (validate.CheckGates).
func NewCompare(ev *validate.Evaluation, gates []validate.GateResult, meta Meta) *Compare {
	d := &Compare{
		Schema: CompareSchema, Tool: meta.Tool, Data: data(ev, meta),
		Settings: Settings{BatchSize: ev.BatchSize, Threads: ev.Threads, Provider: providerName(ev.Provider), Warmup: ev.Warmup, Runs: ev.Runs},
		Baseline: model(ev.Models[0]), Candidates: []Candidate{}, Gates: []Gate{}, Passed: true,
		ElapsedS: ev.Elapsed.Seconds(),
	}
	if ev.Metric != "" {
		m := string(ev.Metric)
		d.Settings.Metric = &m
	}
	failed := map[int]bool{}
	for _, g := range gates {
		d.Gates = append(d.Gates, Gate{Gate: string(g.Gate), Candidate: g.Candidate, CandidateIndex: g.Index, Figure: num(g.Figure), Limit: g.Limit,
			Unit: g.Gate.Unit(), Passed: g.Passed, Reason: g.Reason, Message: g.String()})
		if !g.Passed {
			failed[g.Index] = true
			d.Passed = false
		}
	}
	for i, c := range ev.Candidates {
		f := c.Fidelity
		cd := Candidate{
			Model: model(ev.Models[i+1]),
			Fidelity: Fidelity{Samples: f.Samples, ClassAxis: axisPtr(f.ClassAxis), Positions: f.Positions, Agreement: num(f.Agreement), Cosine: num(f.Cosine), MaxAbsDiff: num(f.MaxAbsDiff),
				SQNRdB: num(f.SQNR), SQNRInfinite: math.IsInf(f.SQNR, 1), KL: num(f.KL), MSE: num(f.MSE), MAE: num(f.MAE)},
			AccuracyDrop: num(c.AccuracyDrop), Speedup: num(c.Speedup), SizeRatio: num(c.SizeRatio),
		}
		cd.Passed = !failed[i]
		d.Candidates = append(d.Candidates, cd)
	}
	d.Shard, d.Partial = shardOf(ev, meta)
	return d
}

// JSON encodes a document as indented JSON with a final newline.
func JSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// WriteFile writes b to path atomically (a temporary file renamed into
// place: never a partial file), refusing to replace an existing file
// unless force is set.
func WriteFile(path string, b []byte, force bool) error {
	return onnxio.WriteFileAtomic(filepath.Clean(path), b, force)
}

// providerName is the execution provider a report names ("cpu" when the
// evaluation did not say).
func providerName(p string) string {
	if p == "" {
		return "cpu"
	}
	return p
}

// axisPtr is a class axis for JSON: null when there is none (0).
func axisPtr(a int) *int {
	if a == 0 {
		return nil
	}
	return &a
}
