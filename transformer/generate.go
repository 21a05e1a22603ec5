package transformer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/bitterlesson/bitter/lm"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Generator samples from a model on its KV cache: the prompt is run once (a prefill), then each new
// token costs one decode step of one token, not a pass over the whole prefix. When the context
// reaches MaxSeqLen, it keeps the last MaxSeqLen/2 tokens, runs them as a new prefill, and goes on.
type Generator struct {
	cfg  Config
	exec *context.Exec
}

// NewGenerator is [NewGenerator] for the model c describes, as the [lm.Model] interface has it.
func (c Config) NewGenerator(b backends.Backend, ctx *context.Context) (lm.Generator, error) {
	return NewGenerator(b, ctx, c)
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
func (gen *Generator) Generate(prompt []int32, n int, s lm.Sampling) ([]int32, error) {
	out := make([]int32, 0, max(n, 0))
	if err := gen.Stream(prompt, n, s, func(t int32) error { out = append(out, t); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// Stream is Generate handing each token to emit as soon as it is sampled (to print text as it
// comes); an error from emit stops it and is returned.
func (gen *Generator) Stream(prompt []int32, n int, s lm.Sampling, emit func(token int32) error) (err error) {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := lm.ValidatePrompt(prompt, n, gen.cfg.VocabSize); err != nil {
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
		next := lm.Sample(logits, s, rng)
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

// GenerateBatch samples n tokens after each of several prompts at once, on one KV cache of
// len(prompts) rows: one prefill of all prompts, then one decode step per token for all rows. The
// prompts must have the same length, and prompt length + n must fit in MaxSeqLen (no sliding
// window). Rows draw from rng in row order at each step, so a seeded rng gives the same samples.
// Every row gets n tokens; a caller that stops at an end token cuts the rows itself.
//
// The cache variables are shaped by the first batch size a model's context runs with: use one
// batch size per context (Generate runs batch 1).
func (gen *Generator) GenerateBatch(prompts [][]int32, n int, s lm.Sampling, rng *rand.Rand) (out [][]int32, err error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if len(prompts) == 0 {
		return nil, errors.New("generate: no prompts")
	}
	for i, p := range prompts {
		if err := lm.ValidatePrompt(p, n, gen.cfg.VocabSize); err != nil {
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
			t := lm.Sample(logits[i], s, rng)
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
