package rnn_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

type goldenCase struct {
	Config struct {
		Cell                                      string
		VocabSize, EmbedDim, HiddenDim, NumLayers int
	}
	golden.ModelCase
}

// TestGolden loads torch.nn.LSTM / torch.nn.GRU weights and compares logits, loss and the gradient
// of every parameter within 2e-5 (float32 against PyTorch's float64; golden.TF32Tol and TF32GradTol
// where float32 matmuls run in TF32, as XLA runs them on a GPU).
func TestGolden(t *testing.T) {
	var f struct{ Cases map[string]goldenCase }
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.Len(t, f.Cases, 2)
	for name, c := range f.Cases {
		for _, stepwise := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stepwise=%v", name, stepwise), func(t *testing.T) {
				cfg := rnn.Config{Cell: rnn.Cell(c.Config.Cell), VocabSize: c.Config.VocabSize, EmbedDim: c.Config.EmbedDim,
					HiddenDim: c.Config.HiddenDim, NumLayers: c.Config.NumLayers, Stepwise: stepwise}
				require.NoError(t, cfg.Validate())
				tol, gradTol := golden.Tol(backend.MustShared(), dtypes.Float32, 2e-5, 2e-5)
				n := golden.CheckModel(t, backend.MustShared(), c.ModelCase, tol, gradTol, cfg.Logits)
				require.Equal(t, n, cfg.NumParams(), "NumParams")
			})
		}
	}
}

func TestBaselinesMatchTransformerParams(t *testing.T) {
	tiny := float64(transformer.Tiny().NumParams())
	for _, cell := range []rnn.Cell{rnn.LSTM, rnn.GRU} {
		cfg := rnn.Baseline(cell)
		require.NoError(t, cfg.Validate())
		ratio := float64(cfg.NumParams()) / tiny
		require.InDelta(t, 1, ratio, 0.15, "%s: %d parameters against %d", cell, cfg.NumParams(), int(tiny))
	}
	require.Equal(t, 912384, rnn.Baseline(rnn.LSTM).NumParams())
	require.Equal(t, 876224, rnn.Baseline(rnn.GRU).NumParams())
	err := rnn.Config{Cell: "rnn", VocabSize: 1}.Validate()
	require.ErrorContains(t, err, `Cell "rnn" is not lstm or gru`)
	require.ErrorContains(t, err, "VocabSize 1 must be at least 2")
	require.ErrorContains(t, err, "HiddenDim 0 must be positive")
}

// TestStepMatchesLogits decodes a sequence one token at a time with Step and checks every
// position's logits against the full forward pass.
func TestStepMatchesLogits(t *testing.T) {
	for _, cell := range []rnn.Cell{rnn.LSTM, rnn.GRU} {
		t.Run(string(cell), func(t *testing.T) {
			cfg := rnn.Config{Cell: cell, VocabSize: 9, EmbedDim: 4, HiddenDim: 6, NumLayers: 2}
			ctx := context.New()
			tokens := [][]int32{{1, 4, 2, 8, 0}, {3, 3, 7, 5, 6}}
			full, err := context.ExecOnce(backend.MustShared(), ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
				return cfg.Logits(ctx, tok)
			}, tokens)
			require.NoError(t, err)
			want := full.Value().([][][]float32)
			step, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				logits, states := cfg.Step(ctx, in[0], in[1:])
				return append([]*graph.Node{logits}, states...)
			})
			require.NoError(t, err)
			states := make([]any, cfg.NumStates())
			for i := range states {
				states[i] = [][]float32{make([]float32, 6), make([]float32, 6)}
			}
			for pos := range 5 {
				outs, err := step.Exec(append([]any{[]int32{tokens[0][pos], tokens[1][pos]}}, states...)...)
				require.NoError(t, err)
				got := outs[0].Value().([][]float32)
				for b := range 2 {
					require.InDeltaSlice(t, want[b][pos], got[b], 1e-5, "batch %d position %d", b, pos)
				}
				for i := range states {
					states[i] = outs[1+i]
				}
			}
		})
	}
}

// TestGeneratorMatchesLogits: greedy generation with the carried state picks, at every step, the
// argmax of the full forward pass over the text so far.
func TestGeneratorMatchesLogits(t *testing.T) {
	cfg := rnn.Config{Cell: rnn.GRU, VocabSize: 9, EmbedDim: 4, HiddenDim: 6, NumLayers: 2}
	ctx := context.New()
	full, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
		return cfg.Logits(ctx, tok)
	})
	require.NoError(t, err)
	text := []int32{3, 1, 4}
	full.MustExec([][]int32{text})
	gen, err := rnn.NewGenerator(backend.MustShared(), ctx, cfg)
	require.NoError(t, err)
	out, err := gen.Generate(text, 6, lm.Sampling{})
	require.NoError(t, err)
	require.Len(t, out, 6)
	for _, next := range out {
		logits := full.MustExec([][]int32{text})[0].Value().([][][]float32)[0]
		last := logits[len(logits)-1]
		best := 0
		for j := range last {
			if last[j] > last[best] {
				best = j
			}
		}
		require.Equal(t, int32(best), next)
		text = append(text, next)
	}
	_, err = gen.Generate(nil, 2, lm.Sampling{})
	require.ErrorContains(t, err, "the prompt is empty")
}
