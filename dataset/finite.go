package dataset

import (
	"context"
	"fmt"
	"sort"
)

// finiteSource refuses batches whose floating-point inputs hold NaN or
// infinite values: such data gives meaningless accuracy, and calibrating
// on it gives meaningless ranges. The error is one line naming the file,
// the input, the sample and the value.
type finiteSource struct {
	Source
	path string
}

func (s *finiteSource) Next(ctx context.Context) (*Batch, error) {
	b, err := s.Source.Next(ctx)
	if err != nil {
		return b, err
	}
	if err := checkFinite(s.path, b); err != nil {
		return nil, err
	}
	return b, nil
}

// checkFinite checks every floating-point input of b (in name order).
func checkFinite(path string, b *Batch) error {
	names := make([]string, 0, len(b.Inputs))
	for name := range b.Inputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		t := b.Inputs[name]
		i, v := t.FirstNonFinite()
		if i < 0 {
			continue
		}
		// Which sample: the batch's rows split the flat index evenly.
		sample, elem := b.Index, i
		if b.N > 1 && len(t.Shape) > 0 && t.Shape[0] == int64(b.N) {
			per := int(t.Len()) / b.N
			sample, elem = b.Index+i/per, i%per
		}
		return fmt.Errorf("%s: input %q, sample %d: %g at element %d; the data must be finite (no NaN or infinity)", path, name, sample, v, elem)
	}
	return nil
}
