// Package dd is the library behind examples/doubledescent: a counting task with a small, fixed
// training set whose labels are partly replaced at random, a sweep over Transformer width, and the
// curve of train and test error against parameters.
package dd

import (
	"errors"
	"fmt"
	"math/rand/v2"
)

// Dataset is a classification set: token sequences and their class labels.
type Dataset struct {
	X [][]int32 // [n][SeqLen], tokens in [0, Vocab)
	Y []int32   // [n], classes in [0, Classes)
}

// Len is the number of examples.
func (d Dataset) Len() int { return len(d.Y) }

// CountTask is the task: a sequence of seqLen symbols from an alphabet of vocab; the label is how
// many times symbol 0 occurs, a class in [0, seqLen] (Classes = seqLen+1).
type CountTask struct{ Vocab, SeqLen int }

// Classes is the number of labels.
func (t CountTask) Classes() int { return t.SeqLen + 1 }

// Label is the clean label of x.
func (t CountTask) Label(x []int32) int32 {
	var n int32
	for _, v := range x {
		if v == 0 {
			n++
		}
	}
	return n
}

// Validate names a bad value.
func (t CountTask) Validate() error {
	if t.Vocab < 2 || t.SeqLen < 1 {
		return fmt.Errorf("task: vocab %d must be at least 2 and sequence length %d at least 1", t.Vocab, t.SeqLen)
	}
	return nil
}

// space is the number of distinct sequences, or -1 when it exceeds 1<<40.
func (t CountTask) space() int64 {
	s := int64(1)
	for range t.SeqLen {
		s *= int64(t.Vocab)
		if s > 1<<40 {
			return -1
		}
	}
	return s
}

// Split draws nTrain + nTest distinct sequences (seeded) and labels them cleanly: the training set
// first, then the held-out test set, disjoint from it.
func Split(t CountTask, nTrain, nTest int, seed uint64) (train, test Dataset, err error) {
	if err := t.Validate(); err != nil {
		return train, test, err
	}
	if nTrain < 1 || nTest < 1 {
		return train, test, fmt.Errorf("split: %d train and %d test examples: both must be positive", nTrain, nTest)
	}
	if s := t.space(); s >= 0 && int64(nTrain+nTest) > s/2 {
		return train, test, fmt.Errorf("split: %d examples from only %d distinct sequences (vocab %d, length %d): use longer sequences",
			nTrain+nTest, s, t.Vocab, t.SeqLen)
	}
	rng := rand.New(rand.NewPCG(seed, 0x73706c6974))
	seen := map[string]bool{}
	draw := func(n int) Dataset {
		d := Dataset{X: make([][]int32, 0, n), Y: make([]int32, 0, n)}
		key := make([]byte, t.SeqLen)
		for d.Len() < n {
			x := make([]int32, t.SeqLen)
			for i := range x {
				x[i] = int32(rng.IntN(t.Vocab))
				key[i] = byte(x[i])
			}
			if seen[string(key)] {
				continue
			}
			seen[string(key)] = true
			d.X, d.Y = append(d.X, x), append(d.Y, t.Label(x))
		}
		return d
	}
	train = draw(nTrain)
	test = draw(nTest)
	return train, test, nil
}

// AddLabelNoise returns a copy of d in which round(frac·n) labels, chosen at random (seeded), are
// replaced by a different class drawn uniformly from the other classes-1, and which ones they are.
// The inputs are shared with d; d itself is not changed.
func AddLabelNoise(d Dataset, frac float64, classes int, seed uint64) (Dataset, []bool, error) {
	if !(frac >= 0 && frac <= 1) {
		return d, nil, fmt.Errorf("label noise %g must be in [0, 1]", frac)
	}
	if classes < 2 {
		return d, nil, errors.New("label noise needs at least 2 classes")
	}
	rng := rand.New(rand.NewPCG(seed, 0x6e6f697365))
	n := d.Len()
	k := int(frac*float64(n) + 0.5)
	out := Dataset{X: d.X, Y: append([]int32(nil), d.Y...)}
	noisy := make([]bool, n)
	for _, i := range rng.Perm(n)[:k] {
		// One of the classes-1 others, uniformly: shift by 1..classes-1.
		out.Y[i] = int32((int(d.Y[i]) + 1 + rng.IntN(classes-1)) % classes)
		noisy[i] = true
	}
	return out, noisy, nil
}
