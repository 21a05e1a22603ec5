package transformer_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/transformer"
)

func smallConfig(pos transformer.Positional) transformer.Config {
	cfg := transformer.Tiny()
	cfg.VocabSize, cfg.MaxSeqLen, cfg.NumLayers, cfg.ModelDim, cfg.NumHeads, cfg.FFNDim = 13, 8, 2, 16, 4, 32
	cfg.Positional = pos
	return cfg
}

// TestGreedyOnCacheMatchesFullForward generates greedily on the KV cache, across the sliding-window
// restart, and checks every token against the argmax of a full forward pass over the same window.
func TestGreedyOnCacheMatchesFullForward(t *testing.T) {
	for _, pos := range []transformer.Positional{transformer.Learned, transformer.RoPE, transformer.ALiBi, transformer.Sinusoidal} {
		t.Run(string(pos), func(t *testing.T) {
			cfg := smallConfig(pos)
			ctx := context.New()
			require.NoError(t, ctx.SetRNGStateFromSeed(3))
			full, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, tokens *graph.Node) *graph.Node {
				return transformer.Logits(ctx, cfg, tokens)
			})
			require.NoError(t, err)
			prompt := []int32{1, 5, 7}
			full.MustExec([][]int32{prompt}) // Creates the variables.
			gen, err := transformer.NewGenerator(backend.MustShared(), ctx, cfg)
			require.NoError(t, err)
			got, err := gen.Generate(prompt, 14, lm.Sampling{})
			require.NoError(t, err)
			require.Len(t, got, 14)

			window := append([]int32{}, prompt...)
			for i := range 14 {
				logits := full.MustExec([][]int32{window})[0].Value().([][][]float32)[0]
				last := logits[len(logits)-1]
				best := 0
				for j := range last {
					if last[j] > last[best] {
						best = j
					}
				}
				require.Equal(t, int32(best), got[i], "token %d", i)
				window = append(window, got[i])
				if len(window) > cfg.MaxSeqLen {
					window = window[len(window)-cfg.MaxSeqLen/2:]
				}
			}
		})
	}
}

func TestSamplingSeeded(t *testing.T) {
	cfg := smallConfig(transformer.Learned)
	ctx := context.New()
	_, err := context.ExecOnce(backend.MustShared(), ctx, func(ctx *context.Context, tokens *graph.Node) *graph.Node {
		return transformer.Logits(ctx, cfg, tokens)
	}, [][]int32{{1}})
	require.NoError(t, err)
	gen, err := transformer.NewGenerator(backend.MustShared(), ctx, cfg)
	require.NoError(t, err)
	s := lm.Sampling{Temperature: 1.5, TopK: 8, TopP: 0.95, Seed: 11}
	a, err := gen.Generate([]int32{2, 3}, 20, s)
	require.NoError(t, err)
	b, err := gen.Generate([]int32{2, 3}, 20, s)
	require.NoError(t, err)
	require.Equal(t, a, b, "same seed, same sample")
	s.Seed = 12
	c, err := gen.Generate([]int32{2, 3}, 20, s)
	require.NoError(t, err)
	require.NotEqual(t, a, c, "another seed, another sample")

	_, err = gen.Generate(nil, 3, s)
	require.ErrorContains(t, err, "the prompt is empty")
	_, err = gen.Generate([]int32{13}, 3, s)
	require.ErrorContains(t, err, "generate: prompt: token id 13 at position 0 is outside the model's vocabulary of 13 (ids 0 to 12)")
	_, err = gen.Generate([]int32{1}, 3, lm.Sampling{TopP: 1.5})
	require.ErrorContains(t, err, "top-p 1.5 must be in [0, 1]")
}

func TestConfigValidateAndCounts(t *testing.T) {
	for name, preset := range transformer.Presets {
		require.NoError(t, preset().Validate(), name)
	}
	bad := transformer.Tiny()
	bad.ModelDim = 130
	bad.Activation = "tanh"
	bad.MaxSeqLen = 0
	err := bad.Validate()
	require.ErrorContains(t, err, "ModelDim 130 is not divisible by NumHeads 4")
	require.ErrorContains(t, err, `Activation "tanh" is not one of gelu, gelu_tanh, relu, relu2, swiglu`)
	require.ErrorContains(t, err, "MaxSeqLen 0 must be positive")
	bad = transformer.Tiny()
	bad.DType = dtypes.Int32
	require.ErrorContains(t, bad.Validate(), "DType Int32 is not Float32 or Float64")
	// NaN and infinities fail every comparison: a check written as "< 0" let them through to the graph.
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		bad = transformer.Tiny()
		bad.NormEpsilon = v
		require.ErrorContains(t, bad.Validate(), fmt.Sprintf("NormEpsilon %g must be a finite number", v))
		bad = transformer.Tiny()
		bad.Positional, bad.RoPEBase = transformer.RoPE, v
		require.ErrorContains(t, bad.Validate(), fmt.Sprintf("RoPEBase %g must be a finite number", v))
	}
	require.ErrorContains(t, transformer.Tiny().CheckSeqLen(129), "sequence length 129 is outside the model's 1..MaxSeqLen=128")

	// GPT-2 small: 124,439,808 parameters with tied embeddings (Hugging Face's count); nanoGPT's
	// non-embedding count, which keeps the tied head and drops wpe, is 123,653,376.
	g := transformer.GPT2Small()
	require.Equal(t, 124439808, g.NumParams())
	require.Equal(t, 124439808-1024*768, g.NonEmbeddingParams())
	// 6N + 12·L·H·Q·T at T=1024.
	require.Equal(t, 6*float64(123653376)+12*12*12*64*1024, g.FLOPsPerToken(1024))
	// Tiny: untied, so the head counts in both.
	tiny := transformer.Tiny()
	block := 2*(2*128) + 4*128*128 + 4*128 + 2*128*512 + 512 + 128
	require.Equal(t, 256*128+128*128+4*block+2*128+128*256, tiny.NumParams())
	require.Equal(t, 4*block+2*128+128*256, tiny.NonEmbeddingParams())
}

// TestGenerateBatchMatchesOneByOne: greedy batched decoding on one cache gives, row by row, what
// batch-1 generation gives for each prompt (each in its own context with the same weights).
func TestGenerateBatchMatchesOneByOne(t *testing.T) {
	cfg := smallConfig(transformer.Learned)
	cfg.MaxSeqLen = 12
	newCtx := func() *context.Context { return seededModel(t, cfg, 5) }
	prompts := [][]int32{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}, {10, 11, 12}}
	gen, err := transformer.NewGenerator(backend.MustShared(), newCtx(), cfg)
	require.NoError(t, err)
	got, err := gen.GenerateBatch(prompts, 9, lm.Sampling{}, rand.New(rand.NewPCG(1, 2)))
	require.NoError(t, err)
	require.Len(t, got, 4)
	one, err := transformer.NewGenerator(backend.MustShared(), newCtx(), cfg)
	require.NoError(t, err)
	for i, p := range prompts {
		want, err := one.Generate(p, 9, lm.Sampling{})
		require.NoError(t, err)
		require.Equal(t, want, got[i], "row %d", i)
	}
	// Seeded sampling: the same rng seed, the same rows.
	s := lm.Sampling{Temperature: 1}
	a, err := gen.GenerateBatch(prompts, 5, s, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	b, err := gen.GenerateBatch(prompts, 5, s, rand.New(rand.NewPCG(3, 4)))
	require.NoError(t, err)
	require.Equal(t, a, b)

	_, err = gen.GenerateBatch([][]int32{{1, 2}, {3}, {4, 5}, {6, 7}}, 2, s, rand.New(rand.NewPCG(1, 1)))
	require.ErrorContains(t, err, "prompt 1 has 1 tokens, prompt 0 has 2")
	_, err = gen.GenerateBatch(prompts, 10, s, rand.New(rand.NewPCG(1, 1)))
	require.ErrorContains(t, err, "3 prompt tokens + 10 new exceed MaxSeqLen 12")
	_, err = gen.GenerateBatch(nil, 2, s, rand.New(rand.NewPCG(1, 1)))
	require.ErrorContains(t, err, "no prompts")
}

// TestStream: Stream hands over Generate's tokens one at a time, past the sliding window too, and
// an error from emit stops it there.
func TestStream(t *testing.T) {
	cfg := smallConfig(transformer.Learned)
	cfg.MaxSeqLen = 8
	gen, err := transformer.NewGenerator(backend.MustShared(), seededModel(t, cfg, 5), cfg)
	require.NoError(t, err)
	s := lm.Sampling{Temperature: 1, Seed: 3}
	want, err := gen.Generate([]int32{1, 2, 3}, 20, s)
	require.NoError(t, err)
	var got []int32
	require.NoError(t, gen.Stream([]int32{1, 2, 3}, 20, s, func(tok int32) error { got = append(got, tok); return nil }))
	require.Equal(t, want, got)
	got = got[:0]
	stop := errors.New("enough")
	err = gen.Stream([]int32{1, 2, 3}, 20, s, func(tok int32) error {
		got = append(got, tok)
		if len(got) == 4 {
			return stop
		}
		return nil
	})
	require.ErrorIs(t, err, stop)
	require.Equal(t, want[:4], got)
}

// seededModel returns a context holding cfg's variables, initialised from the RNG seeded with seed.
func seededModel(t *testing.T, cfg transformer.Config, seed int64) *context.Context {
	t.Helper()
	ctx := context.New()
	require.NoError(t, ctx.SetRNGStateFromSeed(seed))
	_, err := context.ExecOnce(backend.MustShared(), ctx, func(ctx *context.Context, tokens *graph.Node) *graph.Node {
		return transformer.Logits(ctx, cfg, tokens)
	}, [][]int32{{1}})
	require.NoError(t, err)
	return ctx
}
