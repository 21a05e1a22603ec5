package transformer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
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

// Generator samples from a model on its KV cache: the prompt is run once (a prefill), then each new
// token costs one decode step of one token, not a pass over the whole prefix. When the context
// reaches MaxSeqLen, it keeps the last MaxSeqLen/2 tokens, runs them as a new prefill, and goes on.
type Generator struct {
	cfg  Config
	exec *context.Exec
}

// NewGenerator returns a generator for the model whose variables are in ctx (trained, or loaded
// from a checkpoint). It adds the KV cache variables under each attention layer's kv_cache scope.
func NewGenerator(backend backends.Backend, ctx *context.Context, cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exec, err := context.NewExec(backend, ctx.Reuse(), func(ctx *context.Context, tokens, position *graph.Node) *graph.Node {
		logits := DecodeLogits(ctx, cfg, tokens, position)                                    // [batch, n, vocab]
		last := graph.Slice(logits, graph.AxisRange(), graph.AxisElem(-1), graph.AxisRange()) // [batch, 1, vocab]
		return graph.Reshape(graph.ConvertDType(last, cfg.dtype()), last.Shape().Dimensions[0], cfg.VocabSize)
	})
	if err != nil {
		return nil, err
	}
	return &Generator{cfg: cfg, exec: exec}, nil
}

// Generate returns n tokens sampled after prompt (not including it). The prompt must not be empty
// and its tokens must be below VocabSize; a prompt longer than MaxSeqLen is cut to its last
// MaxSeqLen/2 tokens, as the sliding window would cut it.
func (gen *Generator) Generate(prompt []int32, n int, s Sampling) ([]int32, error) {
	out := make([]int32, 0, max(n, 0))
	if err := gen.Stream(prompt, n, s, func(t int32) error { out = append(out, t); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// Stream is Generate handing each token to emit as soon as it is sampled (to print text as it
// comes); an error from emit stops it and is returned.
func (gen *Generator) Stream(prompt []int32, n int, s Sampling, emit func(token int32) error) (err error) {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := ValidatePrompt(prompt, n, gen.cfg.VocabSize); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("generate: %v", r)
		}
	}()
	rng := s.NewRand()
	maxLen := gen.cfg.MaxSeqLen
	keep := max(1, maxLen/2)
	context := slices.Clone(prompt)
	if len(context) > maxLen {
		context = context[len(context)-keep:]
	}
	// Prefill.
	logits, err := gen.step(context, 0)
	if err != nil {
		return err
	}
	pos := len(context)
	for i := range n {
		next := Sample(logits, s, rng)
		if err := emit(next); err != nil {
			return err
		}
		if i == n-1 {
			break // no logits are needed after the last token
		}
		context = append(context, next)
		if pos >= maxLen { // The cache is full: slide the window.
			context = context[len(context)-keep:]
			logits, err = gen.step(context, 0)
			pos = len(context)
		} else {
			logits, err = gen.step([]int32{next}, pos)
			pos++
		}
		if err != nil {
			return err
		}
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
	for i, t := range prompt {
		if t < 0 || int(t) >= vocabSize {
			return fmt.Errorf("generate: prompt token %d at %d is outside the vocabulary of %d", t, i, vocabSize)
		}
	}
	return nil
}

// GenerateBatch samples n tokens after each of several prompts at once, on one KV cache of
// len(prompts) rows: one prefill of all prompts, then one decode step per token for all rows. The
// prompts must have the same length, and prompt length + n must fit in MaxSeqLen (no sliding
// window). Rows draw from rng in row order at each step, so a seeded rng gives the same samples.
// Every row gets n tokens; a caller that stops at an end token cuts the rows itself.
//
// The cache variables are shaped by the first batch size a model's context runs with: use one
// batch size per context (Generate runs batch 1).
func (gen *Generator) GenerateBatch(prompts [][]int32, n int, s Sampling, rng *rand.Rand) (out [][]int32, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(prompts) == 0 {
		return nil, errors.New("generate: no prompts")
	}
	for i, p := range prompts {
		if err := ValidatePrompt(p, n, gen.cfg.VocabSize); err != nil {
			return nil, fmt.Errorf("prompt %d: %w", i, err)
		}
		if len(p) != len(prompts[0]) {
			return nil, fmt.Errorf("generate: prompt %d has %d tokens, prompt 0 has %d: a batch needs one length", i, len(p), len(prompts[0]))
		}
	}
	if len(prompts[0])+n > gen.cfg.MaxSeqLen {
		return nil, fmt.Errorf("generate: %d prompt tokens + %d new exceed MaxSeqLen %d", len(prompts[0]), n, gen.cfg.MaxSeqLen)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("generate: %v", r)
		}
	}()
	logits, err := gen.steps(prompts, 0)
	if err != nil {
		return nil, err
	}
	out = make([][]int32, len(prompts))
	pos := len(prompts[0])
	next := make([][]int32, len(prompts))
	for range n {
		for i := range prompts {
			t := Sample(logits[i], s, rng)
			out[i] = append(out[i], t)
			next[i] = []int32{t}
		}
		if len(out[0]) == n {
			break
		}
		if logits, err = gen.steps(next, pos); err != nil {
			return nil, err
		}
		pos++
	}
	return out, nil
}

// step runs tokens at position and returns the logits of the last one.
func (gen *Generator) step(tokens []int32, position int) ([]float64, error) {
	rows, err := gen.steps([][]int32{tokens}, position)
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// steps runs a batch of token rows at position and returns each row's last logits.
func (gen *Generator) steps(tokens [][]int32, position int) ([][]float64, error) {
	outs, err := gen.exec.Exec(tokens, int32(position))
	if err != nil {
		return nil, err
	}
	v := outs[0].Value()
	outs[0].FinalizeAll()
	switch r := v.(type) {
	case [][]float32:
		rows := make([][]float64, len(r))
		for b, row := range r {
			rows[b] = make([]float64, len(row))
			for i, x := range row {
				rows[b][i] = float64(x)
			}
		}
		return rows, nil
	case [][]float64:
		return r, nil
	}
	return nil, fmt.Errorf("generate: unexpected logits %T", v)
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
