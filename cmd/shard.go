package cmd

import (
	"github.com/shrinkml/shrink/dataset"
	"github.com/shrinkml/shrink/report"
	"github.com/spf13/pflag"
)

// Sharded evaluation (--shard i/N on eval and compare): each run measures
// one contiguous slice of the data set's batches and its --json result
// carries the counts and sums that `shrink report` merges (docs/sharding.md).

func addShardFlag(fs *pflag.FlagSet, s *string) {
	fs.StringVar(s, "shard", "", "measure only shard i of N of the data (i/N, 0 ≤ i < N): batches ⌊i·K/N⌋ to ⌊(i+1)·K/N⌋ of K; merge the shards' --json results with shrink report (docs/sharding.md)")
}

// parseShardFlag parses --shard (nil flag set or unset: the whole data).
func parseShardFlag(fs *pflag.FlagSet, s string) (dataset.Shard, error) {
	if fs == nil || !fs.Changed("shard") {
		return dataset.Shard{}, nil
	}
	sh, err := dataset.ParseShard(s)
	if err != nil {
		return dataset.Shard{}, &UsageError{Err: err}
	}
	return sh, nil
}

// shardMeta fingerprints the data of a sharded run for its result.
func shardMeta(meta report.Meta, sh dataset.Shard, d DataOptions) (report.Meta, error) {
	if sh.Whole() {
		return meta, nil
	}
	fp, err := dataset.FingerprintOf(d.Path, d.Labels, d.Options)
	if err != nil {
		return meta, err
	}
	meta.DataFingerprint, meta.DataBytes, meta.DataFiles = fp.SHA256, fp.Bytes, fp.Files
	return meta, nil
}

// printShard says which part of the data a shard measured, and warns when
// it had none.
func printShard(ios *IOStreams, s *report.ShardInfo) {
	if s == nil {
		return
	}
	ios.Printf("shard      %d/%d: batches %d..%d of %d, samples %d..%d of %d\n", s.Index, s.Count,
		s.FirstBatch, s.EndBatch, s.TotalBatches, s.FirstSample, s.EndSample, s.TotalSamples)
}

// warnEmptyShard flags a shard without samples (not an error: its counts
// are 0 and it merges as nothing).
func warnEmptyShard(ios *IOStreams, s *report.ShardInfo) {
	if s != nil && s.Empty {
		ios.Warnf("shard %d/%d has no samples: the data has %d batches for %d shards; its result counts 0", s.Index, s.Count, s.TotalBatches, s.Count)
	}
}
