package dataset_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/onnxio"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		want dataset.Shard
		err  string
	}{
		{"0/1", dataset.Shard{Index: 0, Count: 1}, ""},
		{" 3/4 ", dataset.Shard{Index: 3, Count: 4}, ""},
		{"4/4", dataset.Shard{}, "the index must be in [0, 4)"},
		{"-1/4", dataset.Shard{}, "the index must be in [0, 4)"},
		{"0/0", dataset.Shard{}, "the shard count must be >= 1"},
		{"1", dataset.Shard{}, "want i/N"},
		{"a/b", dataset.Shard{}, "want i/N"},
		{"1/2/3", dataset.Shard{}, "want i/N"},
		{"", dataset.Shard{}, "want i/N"},
	} {
		got, err := dataset.ParseShard(c.in)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%q: %+v %v, want %+v", c.in, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%q: error %v, want %q", c.in, err, c.err)
		}
	}
}

// TestShardBatchesPartition: for any number of batches and shards, the
// shards' ranges are contiguous, in order, cover every batch once, and
// differ in size by at most one batch.
func TestShardBatchesPartition(t *testing.T) {
	for k := 0; k <= 40; k++ {
		for n := 1; n <= 12; n++ {
			next, small, large := 0, k, 0
			for i := 0; i < n; i++ {
				lo, hi := dataset.Shard{Index: i, Count: n}.Batches(k)
				if lo != next || hi < lo {
					t.Fatalf("k=%d n=%d shard %d: [%d,%d) after %d", k, n, i, lo, hi, next)
				}
				next = hi
				small, large = min(small, hi-lo), max(large, hi-lo)
			}
			if next != k || large-small > 1 {
				t.Fatalf("k=%d n=%d: ends at %d, sizes %d..%d", k, n, next, small, large)
			}
		}
	}
	if lo, hi := (dataset.Shard{}).Batches(7); lo != 0 || hi != 7 {
		t.Errorf("the whole data set: [%d,%d)", lo, hi)
	}
}

// TestShardOfReadsTheUnshardedBatches: the shards of a .npy file (dynamic
// batch, a partial last batch) and of test_data_set folders read, one
// after the other, exactly the batches of the whole data set, with their
// positions and labels; Reset returns to a shard's first batch; more
// shards than batches leaves some empty.
func TestShardOfReadsTheUnshardedBatches(t *testing.T) {
	dir := t.TempDir()
	const n = 10
	x := writeNpy(t, filepath.Join(dir, "x.npy"), tensor(t, "x", []int64{n, 2}, iota32(2*n)))
	y := writeText(t, filepath.Join(dir, "y.txt"), "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n")
	in := []onnxio.ValueInfo{vi("x", onnxio.Float32, -1, 2)}
	open := func() dataset.Source {
		s, err := dataset.Open(x, in, dataset.Options{BatchSize: 3, Labels: y})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	whole := open()
	all := drain(t, whole)
	whole.Close()
	wantData, wantLabels := concat(t, all, "x")
	for shards := 1; shards <= 6; shards++ {
		var bs []*dataset.Batch
		for i := 0; i < shards; i++ {
			s, r, err := dataset.ShardOf(open(), dataset.Shard{Index: i, Count: shards})
			if err != nil {
				t.Fatal(err)
			}
			lo, hi := dataset.Shard{Index: i, Count: shards}.Batches(4)
			if r.TotalBatches != 4 || r.TotalSamples != n || r.BatchSize != 3 || r.FirstBatch != lo || r.EndBatch != hi ||
				r.FirstSample != min(3*lo, n) || r.EndSample != min(3*hi, n) || s.Len() != r.Samples() || r.Empty() != (lo == hi) {
				t.Fatalf("%d/%d: range %+v, Len %d", i, shards, r, s.Len())
			}
			got := drain(t, s)
			if err := s.Reset(); err != nil {
				t.Fatal(err)
			}
			again := drain(t, s)
			if len(again) != len(got) || (len(got) > 0 && again[0].Index != got[0].Index) {
				t.Fatalf("%d/%d: Reset read %d batches, first at %v", i, shards, len(again), again)
			}
			s.Close()
			bs = append(bs, got...)
		}
		if got := sizes(bs); !slices.Equal(got, sizes(all)) {
			t.Fatalf("%d shards: batch sizes %v, want %v", shards, got, sizes(all))
		}
		data, labels := concat(t, bs, "x") // checks the Index of each batch
		if !sameBits(data, wantData) || !slices.Equal(labels, wantLabels) {
			t.Fatalf("%d shards: data %v labels %v", shards, data, labels)
		}
	}

	// test_data_set folders: one batch per set, of any size.
	pb := t.TempDir()
	pos := 0
	for i, k := range []int{2, 3, 1} {
		writePB(t, filepath.Join(pb, "test_data_set_"+string(rune('0'+i)), "input_0.pb"), tensor(t, "x", []int64{int64(k), 2}, iota32(2 * (pos + k))[2*pos:]))
		pos += k
	}
	for i, want := range [][2]int{{0, 2}, {2, 5}, {5, 6}} {
		src, err := dataset.Open(pb, in, dataset.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, r, err := dataset.ShardOf(src, dataset.Shard{Index: i, Count: 3})
		if err != nil {
			t.Fatal(err)
		}
		got := drain(t, s)
		s.Close()
		if r.FirstSample != want[0] || r.EndSample != want[1] || len(got) != 1 || got[0].Index != want[0] || got[0].N != want[1]-want[0] {
			t.Errorf("set shard %d: range %+v, batches %v", i, r, sizes(got))
		}
	}

	// Sources that do not know their batches up front are refused.
	if _, _, err := dataset.ShardOf(struct{ dataset.Source }{open()}, dataset.Shard{Index: 0, Count: 2}); err == nil || !strings.Contains(err.Error(), "cannot be sharded") {
		t.Errorf("a foreign source: %v", err)
	}
	if _, _, err := dataset.ShardOf(open(), dataset.Shard{Index: 2, Count: 2}); err == nil {
		t.Error("shard 2/2 accepted")
	}
	// In-memory batches shard too.
	mem := dataset.Batches(all...)
	s, r, err := dataset.ShardOf(mem, dataset.Shard{Index: 1, Count: 2})
	if err != nil || r.FirstSample != 6 || r.EndSample != n || len(drain(t, s)) != 2 {
		t.Errorf("memory: %+v %v", r, err)
	}
}

// TestFingerprint: the same content under another path has the same
// fingerprint; a byte changed at either end of a file, another size, a
// renamed file in a folder, other labels or other preprocessing change it.
func TestFingerprint(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	big := make([]float32, 100_000) // 400 kB: more than two edges
	x := tensor(t, "x", []int64{1000, 100}, big)
	pa := writeNpy(t, filepath.Join(a, "x.npy"), x)
	pb := writeNpy(t, filepath.Join(b, "data.npy"), x)
	fp := func(path, labels string, o dataset.Options) string {
		t.Helper()
		f, err := dataset.FingerprintOf(path, labels, o)
		if err != nil {
			t.Fatal(err)
		}
		return f.SHA256
	}
	base := fp(pa, "", dataset.Options{})
	if !strings.HasPrefix(base, "sha256:") || fp(pb, "", dataset.Options{}) != base {
		t.Fatalf("same content, other path: %s vs %s", base, fp(pb, "", dataset.Options{}))
	}
	if fp(a, "", dataset.Options{}) == fp(b, "", dataset.Options{}) {
		t.Error("folders with differently named files agree")
	}
	seen := map[string]string{base: "base"}
	check := func(what, got string) {
		t.Helper()
		if prev, ok := seen[got]; ok {
			t.Errorf("%s: same fingerprint as %s", what, prev)
		}
		seen[got] = what
	}
	check("limit", fp(pa, "", dataset.Options{Limit: 10}))
	check("mean", fp(pa, "", dataset.Options{Mean: []float32{0.5}}))
	check("labels", fp(pa, writeText(t, filepath.Join(a, "y.txt"), "1\n"), dataset.Options{}))
	big[0] = 1
	writeNpy(t, pb, tensor(t, "x", []int64{1000, 100}, big))
	check("first values", fp(pb, "", dataset.Options{}))
	big[0], big[len(big)-1] = 0, 1
	writeNpy(t, pb, tensor(t, "x", []int64{1000, 100}, big))
	check("last values", fp(pb, "", dataset.Options{}))
	writeNpy(t, pb, tensor(t, "x", []int64{999, 100}, big[:99_900]))
	check("size", fp(pb, "", dataset.Options{}))
	if _, err := dataset.FingerprintOf(filepath.Join(a, "none.npy"), "", dataset.Options{}); err == nil {
		t.Error("a missing file fingerprinted")
	}
}
