package quantize

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/onnxio"
	"github.com/shrinkml/shrink/validate"
)

// benchTiming is quantize's own timing: 2 threads, about timingBudget.
var benchTiming = validate.TimingOptions{Budget: timingBudget, Threads: 2}

// BenchmarkDefaultsMatrix measures every combination of format,
// calibration method, weight granularity and activation type on the MNIST
// fixtures (512 training images for calibration, the 10,000 test images for
// accuracy, ORT at batch 64 with 2 threads for the interleaved speedup) and
// logs the table docs/quantize.md quotes. The defaults are the fastest
// configuration that keeps both fixtures within 0.3 points of float.
//
//	go test ./quantize -run '^$' -bench DefaultsMatrix -benchtime 1x -v
func BenchmarkDefaultsMatrix(b *testing.B) {
	needORT(b)
	type model struct {
		name    string
		m       *onnxio.Model
		correct int
	}
	var models []model
	for _, n := range []string{"mnist_mlp", "mnist_cnn"} {
		m := fixture(b, n+".onnx")
		models = append(models, model{n, m, countCorrect(b, m)})
	}
	in := mnistSource(b, 0, 64, 64).batches[0].Inputs
	var rows []string
	for i := 0; i < b.N; i++ {
		for _, f := range []Format{QDQ, QOperator} {
			for _, cm := range []CalibMethod{MinMax, Percentile, Entropy} {
				for _, pt := range []bool{false, true} {
					for _, at := range []onnxio.DType{onnxio.Uint8, onnxio.Int8} {
						row := fmt.Sprintf("| %-9s | %-10s | %-11s | %-5s |", f, cm, map[bool]string{false: "per-channel", true: "per-tensor"}[pt], at)
						for _, mo := range models {
							qm, rep, err := Quantize(context.Background(), mo.m, Options{Calib: trainSource(b, 512, 64), Format: f, CalibMethod: cm, PerTensor: pt, ActivationType: at, SpeedAware: true})
							if err != nil {
								b.Fatal(err)
							}
							c := countCorrect(b, qm)
							tm, err := validate.TimeModels(context.Background(), []*onnxio.Model{mo.m, qm}, in, benchTiming)
							if err != nil {
								b.Fatal(err)
							}
							row += fmt.Sprintf(" %+.2f | %.2f× | %d |", float64(c-mo.correct)/100, tm.Speedup(1), rep.Quantized)
						}
						rows = append(rows, row)
						b.Log(row)
					}
				}
			}
		}
	}
	b.Log("\n| format | calibration | weights | acts | MLP Δtop1 | MLP speedup | MLP int8 nodes | CNN Δtop1 | CNN speedup | CNN int8 nodes |\n" + strings.Join(rows, "\n"))
}

// BenchmarkDefaultsSpeed times, in one interleaved session per fixture (so
// every candidate sees the same machine load), the float model and the
// uint8 configurations whose speed the matrix could not tell apart: QDQ or
// QOperator, per-channel or per-tensor weights, plus the first of them a
// second time as a control for the session-to-session spread.
//
//	go test ./quantize -run '^$' -bench DefaultsSpeed -benchtime 1x -v
func BenchmarkDefaultsSpeed(b *testing.B) {
	needORT(b)
	in := mnistSource(b, 0, 64, 64).batches[0].Inputs
	for i := 0; i < b.N; i++ {
		for _, n := range []string{"mnist_mlp", "mnist_cnn"} {
			m := fixture(b, n+".onnx")
			models := []*onnxio.Model{m}
			var names []string
			for _, f := range []Format{QDQ, QOperator} {
				for _, pt := range []bool{false, true} {
					qm, _, err := Quantize(context.Background(), m, Options{Calib: trainSource(b, 512, 64), Format: f, PerTensor: pt, SpeedAware: true})
					if err != nil {
						b.Fatal(err)
					}
					models = append(models, qm)
					names = append(names, fmt.Sprintf("%s/%s", f, map[bool]string{false: "per-channel", true: "per-tensor"}[pt]))
				}
			}
			// A control: the first candidate again, in its own session.
			models = append(models, models[1].Clone())
			names = append(names, names[0]+" (again)")
			for round := 0; round < 3; round++ {
				tm, err := validate.TimeModels(context.Background(), models, in, benchTiming)
				if err != nil {
					b.Fatal(err)
				}
				line := fmt.Sprintf("%s round %d: float %.3f ms", n, round, tm.MedianMs(0))
				for k, name := range names {
					line += fmt.Sprintf("; %s %.3f ms %.2f×", name, tm.MedianMs(k+1), tm.Speedup(k+1))
				}
				b.Log(line)
			}
		}
	}
}
