package report

import (
	"encoding/json"
	"fmt"
	"math"
)

// ReportSchema is the merged report's "schema" (docs/schemas/report.schema.json).
const ReportSchema = "shrink.report/v1"

// Document is the merged report of several results (shrink report): one
// row per model, the gates, per-layer tables and training curves. It is
// the canonical form: the HTML and Markdown are rendered from it.
//
// A figure no input carries is null (shown as "—"), never 0.
type Document struct {
	Schema string `json:"schema"`
	Tool   string `json:"tool"`
	Title  string `json:"title"`
	// Sources are the input files, in the order given.
	Sources []Source `json:"sources"`
	// Models are the rows of the models table, in order of first
	// appearance (measurement results first, then transform results).
	Models []Row      `json:"models"`
	Gates  []GateRow  `json:"gates"`
	Tables []Table    `json:"tables"`
	Curves []Curves   `json:"curves"`
	Steps  []StepNote `json:"steps"`
	// Pareto says how the Pareto front of the models table was chosen.
	Pareto *Pareto `json:"pareto"`
	// Shards are the sharded runs merged before reading (see
	// ShardGroup).
	Shards []ShardGroup `json:"shards"`
	// Passed is false when any gate failed (true with no gates).
	Passed bool     `json:"passed"`
	Notes  []string `json:"notes"`
}

// Source is one input file.
type Source struct {
	Path   string `json:"path"`
	Schema string `json:"schema"`
	Tool   string `json:"tool"`
}

// Row is one model in the models table. Each figure comes from the first
// input that carries it, measurement results (eval, compare) before
// transform results (quantize, prune, distill).
type Row struct {
	Name string `json:"name"`
	Path string `json:"path"`
	// Role is "baseline", "candidate", "model" (eval), "input" or
	// "output" (of a transform), from the first input naming the model.
	Role string `json:"role"`
	// Sources are the indices in Document.Sources of the inputs that
	// name this model.
	Sources    []int  `json:"sources"`
	SizeBytes  *int64 `json:"size_bytes"`
	GzipBytes  *int64 `json:"gzip_bytes"`
	Parameters *int64 `json:"parameters"`
	NonZero    *int64 `json:"nonzero_parameters"`
	// Metric names Accuracy: top1 or top5 (a fraction), mse or mae (an
	// error: lower is better).
	Metric   *string  `json:"metric"`
	Accuracy *float64 `json:"accuracy"`
	// AccuracyDrop is against the baseline named by Against, in points.
	AccuracyDrop *float64 `json:"accuracy_drop_points"`
	// Agreement is the share of samples whose top-1 class matches the
	// baseline's.
	Agreement *float64    `json:"agreement"`
	Latency   *RowLatency `json:"latency"`
	// Speedup is the baseline's time over this model's (median of
	// paired ratios).
	Speedup *float64 `json:"speedup"`
	// Against is the path of the model that AccuracyDrop, Agreement and
	// Speedup compare with.
	Against *string `json:"against"`
	// ParetoFront marks the models no other model beats on both accuracy
	// and latency (Document.Pareto says on which metric and batch).
	ParetoFront bool `json:"pareto_front"`
	// Passed is null when no gate concerns the model.
	Passed *bool `json:"passed"`
}

// RowLatency is a model's latency per batch, in milliseconds.
type RowLatency struct {
	P50Ms     float64  `json:"p50_ms"`
	P99Ms     *float64 `json:"p99_ms"`
	BatchSize int      `json:"batch_size"`
	Threads   int      `json:"threads"`
	// Source is the index in Document.Sources of the input it came from.
	Source int `json:"source"`
}

// Pareto names the comparable set the front was computed on.
type Pareto struct {
	Metric    string `json:"metric"`
	BatchSize int    `json:"batch_size"`
	// Models counts the rows with both figures on that metric and batch.
	Models int `json:"models"`
}

// GateRow is one gate's outcome.
type GateRow struct {
	// Source is the index in Document.Sources of the input it came from.
	Source int    `json:"source"`
	Gate   string `json:"gate"`
	// Model is the path of the model the gate judged.
	Model  string   `json:"model"`
	Figure *float64 `json:"figure"`
	Limit  float64  `json:"limit"`
	Unit   string   `json:"unit"`
	// AtLeast is true when the figure must reach the limit, false when
	// it must stay under it.
	AtLeast bool   `json:"at_least"`
	Passed  bool   `json:"passed"`
	Message string `json:"message"`
}

// Table is a per-layer table (quantize's nodes, prune's layers): named
// columns and rows of cells, each a string, number, boolean or null.
type Table struct {
	// Kind says what the table is ("quantize.nodes", "prune.layers").
	Kind    string   `json:"kind"`
	Title   string   `json:"title"`
	Model   string   `json:"model"`
	Source  int      `json:"source"`
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Column is a table column; Unit may be empty. A column whose unit is
// "MACs" or "count" is printed with k/M/G suffixes.
type Column struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
}

// Curves is one chart of series over a common x axis, such as loss and
// accuracy per epoch of a distillation.
type Curves struct {
	Kind   string   `json:"kind"`
	Title  string   `json:"title"`
	Model  string   `json:"model"`
	Source int      `json:"source"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	Series []Series `json:"series"`
}

// Series is one line of a Curves chart. A point with a null y (not
// measured that epoch) is skipped.
type Series struct {
	Name   string  `json:"name"`
	Points []Point `json:"points"`
}

// Point is one (x, y) of a series.
type Point struct {
	X float64  `json:"x"`
	Y *float64 `json:"y"`
}

// StepNote is a one-line summary of what a transform result did
// ("quantize: 5 of 6 nodes int8, 1.9× faster on the calibration batch").
type StepNote struct {
	Source int    `json:"source"`
	Kind   string `json:"kind"`
	Text   string `json:"text"`
}

// cell formats a table cell for HTML and Markdown.
func cell(v any, col Column) string {
	switch x := v.(type) {
	case nil:
		return dash
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case string:
		if x == "" {
			return dash
		}
		return x
	case int:
		return cellNum(float64(x), col)
	case int64:
		return cellNum(float64(x), col)
	case float32:
		return cellNum(float64(x), col)
	case float64:
		return cellNum(x, col)
	case *float64:
		if x == nil {
			return dash
		}
		return cellNum(*x, col)
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return cellNum(f, col)
	}
	return fmt.Sprint(v)
}

func cellNum(f float64, col Column) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return dash
	}
	if col.Unit == "MACs" || col.Unit == "count" {
		return humanCount(f)
	}
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.4g", f)
}

func humanCount(f float64) string {
	switch a := math.Abs(f); {
	case a >= 1e9:
		return fmt.Sprintf("%.1fG", f/1e9)
	case a >= 1e6:
		return fmt.Sprintf("%.1fM", f/1e6)
	case a >= 1e3:
		return fmt.Sprintf("%.1fk", f/1e3)
	}
	return fmt.Sprintf("%d", int64(f))
}
