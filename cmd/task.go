package cmd

import (
	"fmt"
	"sort"
	"strings"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/report"
	"github.com/shrinkml/shrink/validate"
	"github.com/spf13/pflag"
)

// The task metrics (ctc, boxes) read their references from --labels (text
// lines, or JSON Lines of boxes) instead of class labels, and ctc reads the
// recognizer's dictionary from --dict.

func addDictFlag(fs *pflag.FlagSet, dict *string) {
	fs.StringVar(dict, "dict", "", "--metric ctc: the recognizer's character dictionary, one entry a line (class 0 is the CTC blank; one class more than blank + entries is the space)")
}

// checkTaskFlags reports missing or stray task-metric flags as usage
// errors, before any work.
func checkTaskFlags(m validate.Metric, dict, labels string) error {
	switch m {
	case validate.CTC:
		if dict == "" {
			return usagef("--metric ctc needs --dict: the recognizer's character dictionary")
		}
		if labels == "" {
			return usagef("--metric ctc needs --labels: a text file with each sample's reference text, one a line")
		}
	case validate.Boxes:
		if labels == "" {
			return usagef("--metric boxes needs --labels: a JSON Lines file with each sample's reference boxes")
		}
	}
	if dict != "" && m != validate.CTC {
		return usagef("--dict is for --metric ctc")
	}
	return nil
}

// loadTask reads a task metric's references (nil for the other metrics).
func loadTask(m validate.Metric, dict, labels string) (*validate.Task, error) {
	switch m {
	case validate.CTC:
		d, err := validate.ReadCTCDict(dict)
		if err != nil {
			return nil, err
		}
		texts, err := validate.ReadTexts(labels)
		if err != nil {
			return nil, err
		}
		return validate.NewCTCTask(d, texts), nil
	case validate.Boxes:
		boxes, err := validate.ReadBoxes(labels)
		if err != nil {
			return nil, err
		}
		return validate.NewBoxTask(boxes, validate.BoxOptions{}), nil
	}
	return nil, nil
}

// openTaskData opens the data for a model; with a task, --labels holds the
// task's references, so the data set is opened without labels, and the
// references must cover its samples (exactly, without --limit).
func openTaskData(d DataOptions, task *validate.Task, m *onnxio.Model) (dataset.Source, error) {
	if task == nil {
		return d.open(m)
	}
	labels := d.Labels
	d.Labels = ""
	src, err := d.open(m)
	if err != nil {
		return nil, err
	}
	n := src.Len()
	if n >= 0 && (task.References < n || (d.Limit == 0 && task.References != n)) {
		src.Close()
		return nil, fmt.Errorf("%s: %d references for the %d samples of %s", labels, task.References, n, d.Path)
	}
	return src, nil
}

// printFigures prints a task metric's figures, the headline first.
func printFigures(p func(string, ...any), a *report.Accuracy) {
	names := make([]string, 0, len(a.Figures))
	for k := range a.Figures {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		v := a.Figures[k]
		switch {
		case v == nil:
			parts = append(parts, k+" —")
		case strings.HasSuffix(k, "accuracy") || k == "recall" || k == "precision" || k == "hmean":
			parts = append(parts, fmt.Sprintf("%s %.2f%%", k, 100**v))
		default:
			parts = append(parts, fmt.Sprintf("%s %g", k, *v))
		}
	}
	p("%-10s %s (%d samples): %s\n", a.Metric, evalPercent(a.Value), a.Samples, strings.Join(parts, ", "))
}
