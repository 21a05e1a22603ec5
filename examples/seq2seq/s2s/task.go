// Package s2s is examples/seq2seq's experiment: string reversal learned by a bidirectional RNN with
// additive attention (Bahdanau et al. 2014) and by an encoder-decoder Transformer (Vaswani et al.
// 2017) at one compute budget, tested on lengths up to and beyond those of training.
package s2s

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/bitterlesson/bitter/seq2seq"
)

// The vocabulary, shared by sources and targets: padding, BOS, EOS, then the alphabet's letters.
const (
	Pad = 0
	BOS = 1
	EOS = 2
	// FirstLetter is the id of 'a'.
	FirstLetter = 3
)

// Special are the task's special ids.
var Special = seq2seq.Special{BOS: BOS, EOS: EOS, Pad: Pad}

// Task is reversal: a source of n letters (from an alphabet of Alphabet) maps to the same letters in
// reverse order. Its alignment is the anti-diagonal: target position i reads source position n-1-i.
type Task struct {
	// Alphabet is the number of letters, 2 to 26.
	Alphabet int
	// TrainMin and TrainMax bound the lengths of training sources (uniform over the range).
	TrainMin, TrainMax int
	// TestMax is the longest test source: test sets run from length 1 to TestMax, beyond TrainMax.
	TestMax int
	// TrainSize is the number of training pairs; TestPerLength the pairs tested at each length, none
	// of them a training source (a short length with fewer unseen strings gets what exists).
	TrainSize, TestPerLength int
}

// Validate returns an error naming every bad value, or nil.
func (t Task) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if t.Alphabet < 2 || t.Alphabet > 26 {
		add("-alphabet %d must be 2 to 26", t.Alphabet)
	}
	if t.TrainMin < 1 || t.TrainMax < t.TrainMin {
		add("training lengths %d to %d (-train-max) must be a range of positive lengths", t.TrainMin, t.TrainMax)
	}
	if t.TestMax < t.TrainMax {
		add("-test-max %d must be at least -train-max %d", t.TestMax, t.TrainMax)
	}
	if t.TrainSize < 1 || t.TestPerLength < 1 {
		add("-train-size %d and -test-per-length %d must be positive", t.TrainSize, t.TestPerLength)
	}
	return errors.Join(errs...)
}

// Vocab is the vocabulary size: the specials and the letters.
func (t Task) Vocab() int { return FirstLetter + t.Alphabet }

// Reverse returns the target of a source.
func Reverse(src []int32) []int32 {
	out := make([]int32, len(src))
	for i, x := range src {
		out[len(src)-1-i] = x
	}
	return out
}

// Text spells ids as letters (specials as <bos>, <eos>, _ for padding).
func Text(ids []int32) string {
	var b strings.Builder
	for _, id := range ids {
		switch {
		case id == Pad:
			b.WriteString("_")
		case id == BOS:
			b.WriteString("<bos>")
		case id == EOS:
			b.WriteString("<eos>")
		default:
			b.WriteByte(byte('a' + id - FirstLetter))
		}
	}
	return b.String()
}

// Generate draws the training pairs and the test pairs of each length 1 ... TestMax (index
// length-1), from seed.
func (t Task) Generate(seed uint64) (train []seq2seq.Pair, test [][]seq2seq.Pair) {
	rng := rand.New(rand.NewPCG(seed, 0x72657665727365))
	word := func(n int) []int32 {
		w := make([]int32, n)
		for i := range w {
			w[i] = FirstLetter + int32(rng.IntN(t.Alphabet))
		}
		return w
	}
	seen := map[string]bool{}
	for range t.TrainSize {
		src := word(t.TrainMin + rng.IntN(t.TrainMax-t.TrainMin+1))
		seen[Text(src)] = true
		train = append(train, seq2seq.Pair{Source: src, Target: Reverse(src)})
	}
	test = make([][]seq2seq.Pair, t.TestMax)
	for n := 1; n <= t.TestMax; n++ {
		// Enough tries to find the unseen strings of a short length, and no more.
		for try := 0; try < 20*t.TestPerLength && len(test[n-1]) < t.TestPerLength; try++ {
			src := word(n)
			if key := Text(src); !seen[key] {
				seen[key] = true
				test[n-1] = append(test[n-1], seq2seq.Pair{Source: src, Target: Reverse(src)})
			}
		}
	}
	return train, test
}
