package lm

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampling chooses how each next token is drawn from the model's logits.
type Sampling struct {
	// Temperature divides the logits; 0 means greedy (always the most likely token).
	Temperature float64
	// TopK keeps only the K most likely tokens (0 = all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability reaches P (0 or 1 = all),
	// the nucleus sampling of Holtzman et al. 2019.
	TopP float64
	// Seed seeds the draws: the same seed, model and prompt give the same text.
	Seed uint64
}

// NewRand returns the random source of a generation seeded with s.Seed.
func (s Sampling) NewRand() *rand.Rand { return rand.New(rand.NewPCG(s.Seed, 0x67656e)) }

// Validate returns an error naming a bad value, or nil.
func (s Sampling) Validate() error {
	if !(s.Temperature >= 0) || math.IsInf(s.Temperature, 0) {
		return fmt.Errorf("temperature %g must be a non-negative number (0 = greedy)", s.Temperature)
	}
	if s.TopK < 0 {
		return fmt.Errorf("top-k %d must not be negative (0 = off)", s.TopK)
	}
	if !(s.TopP >= 0 && s.TopP <= 1) {
		return fmt.Errorf("top-p %g must be in [0, 1] (0 or 1 = off)", s.TopP)
	}
	return nil
}

// ValidatePrompt returns an error when prompt is empty or holds a token outside the vocabulary, or n
// (the tokens to generate) is negative.
func ValidatePrompt(prompt []int32, n, vocabSize int) error {
	if len(prompt) == 0 {
		return errors.New("generate: the prompt is empty; give at least one token")
	}
	if n < 0 {
		return fmt.Errorf("generate: %d tokens requested", n)
	}
	if err := CheckTokens(prompt, vocabSize); err != nil {
		return fmt.Errorf("generate: prompt: %w", err)
	}
	return nil
}

// Sample draws a token id from logits under s: the argmax when Temperature is 0, else a draw from
// [Probabilities] with rng. Empty logits hold no token: -1.
func Sample(logits []float64, s Sampling, rng *rand.Rand) int32 {
	if len(logits) == 0 {
		return -1
	}
	if s.Temperature == 0 {
		best := 0
		for i, l := range logits {
			if l > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	return int32(SampleIndex(Probabilities(logits, s), rng.Float64()))
}

// Probabilities returns the sampling distribution of logits under s: softmax(logits / Temperature)
// restricted to the top-k and then to the top-p nucleus, renormalised. Temperature must be > 0.
// Empty logits give an empty distribution.
func Probabilities(logits []float64, s Sampling) []float64 {
	if len(logits) == 0 {
		return nil
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	k := len(idx)
	if s.TopK > 0 && s.TopK < k {
		k = s.TopK
	}
	idx = idx[:k]
	maxL := logits[idx[0]]
	p := make([]float64, len(logits))
	var sum float64
	for _, i := range idx {
		p[i] = math.Exp((logits[i] - maxL) / s.Temperature)
		sum += p[i]
	}
	for _, i := range idx {
		p[i] /= sum
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		cut := len(idx)
		for j, i := range idx {
			cum += p[i]
			if cum >= s.TopP {
				cut = j + 1
				break
			}
		}
		sum = 0
		for j, i := range idx {
			if j >= cut {
				p[i] = 0
			}
			sum += p[i]
		}
		for _, i := range idx {
			p[i] /= sum
		}
	}
	return p
}

// SampleIndex returns the index whose cumulative probability first exceeds u in [0, 1).
func SampleIndex(p []float64, u float64) int {
	var cum float64
	last := 0
	for i, x := range p {
		if x == 0 {
			continue
		}
		cum += x
		last = i
		if u < cum {
			return i
		}
	}
	return last
}
