package rnn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/rnn"
)

func randomBatch(seed uint64, batch, seq, vocab int) (tokens, labels [][]int32) {
	rng := rand.New(rand.NewPCG(seed, 7))
	tokens, labels = make([][]int32, batch), make([][]int32, batch)
	for i := range batch {
		tokens[i], labels[i] = make([]int32, seq), make([]int32, seq)
		for j := range seq {
			tokens[i][j], labels[i][j] = int32(rng.IntN(vocab)), int32(rng.IntN(vocab))
		}
	}
	return tokens, labels
}

func smallConfig(cell rnn.Cell, stepwise bool) rnn.Config {
	return rnn.Config{Cell: cell, VocabSize: 11, EmbedDim: 5, HiddenDim: 6, NumLayers: 2, Stepwise: stepwise}
}

// unrolledGradients is the gradient of the mean cross-entropy through the whole unrolled graph
// (Config.Logits), by variable, with the model's current values in ctx.
func unrolledGradients(t *testing.T, ctx *context.Context, cfg rnn.Config, tokens, labels [][]int32) (loss float64, grads map[string][]float64) {
	var names []string
	exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		l := lm.Loss(cfg.Logits(ctx, in[0]), in[1])
		names = names[:0]
		for v := range ctx.IterVariables() {
			if v.Trainable && v.InUseByGraph(l.Graph()) {
				names = append(names, v.ScopeAndName())
			}
		}
		return append([]*graph.Node{l}, ctx.BuildTrainableVariablesGradientsGraph(l)...)
	})
	require.NoError(t, err)
	out, err := exec.Exec(tensors.FromValue(tokens), tensors.FromValue(labels))
	require.NoError(t, err)
	grads = make(map[string][]float64)
	for i, name := range names {
		grads[name] = golden.Float64s(out[i+1])
	}
	return lm.LossValue(out[0]), grads
}

// TestChunkedGradientsEqualUnrolled: the chunked trainer's gradients (backpropagation through time
// chunk by chunk, states handed backwards between chunks) and its Loss are those of the whole
// unrolled graph, for every variable, both cells, both formulations, chunks that divide the sequence
// and ones that don't, and a single chunk.
func TestChunkedGradientsEqualUnrolled(t *testing.T) {
	const batch, seq = 3, 10
	for _, cell := range []rnn.Cell{rnn.LSTM, rnn.GRU} {
		for _, stepwise := range []bool{false, true} {
			for _, chunk := range []int{1, 3, 5, 10, 16} {
				t.Run(fmt.Sprintf("%s/stepwise=%v/chunk=%d", cell, stepwise, chunk), func(t *testing.T) {
					cfg := smallConfig(cell, stepwise)
					opt, err := optim.New(optim.DefaultAdamW(1e-2))
					require.NoError(t, err)
					ctx := context.New()
					require.NoError(t, ctx.SetRNGStateFromSeed(3))
					tr, err := rnn.NewChunkedTrainer(backend.MustShared(), ctx, cfg, opt, chunk)
					require.NoError(t, err)
					tokens, labels := randomBatch(uint64(chunk), batch, seq, cfg.VocabSize)
					wantLoss, want := unrolledGradients(t, ctx, cfg, tokens, labels)
					require.Equal(t, 3+4*cfg.NumLayers, len(want), "embeddings, 4 per layer, head weights and biases")

					evalLoss, err := tr.Loss(tokens, labels)
					require.NoError(t, err)
					require.InDelta(t, wantLoss, evalLoss, 1e-5, "Loss, chunk by chunk")

					require.NoError(t, tr.Backward(tokens, labels))
					got, err := tr.Gradients()
					require.NoError(t, err)
					require.Equal(t, len(want), len(got))
					for name, w := range want {
						require.Contains(t, got, name)
						g := golden.Float64s(got[name])
						largest := 0.0
						for _, x := range w {
							largest = max(largest, math.Abs(x))
						}
						require.Greater(t, largest, 1e-4, "%s: a gradient to compare", name)
						for i := range w {
							require.InDelta(t, w[i], g[i], 1e-5*largest+1e-7, "%s[%d]", name, i)
						}
					}
					loss, err := tr.Apply()
					require.NoError(t, err)
					require.InDelta(t, wantLoss, loss, 1e-5)
					after, err := tr.Gradients()
					require.NoError(t, err)
					for name, g := range after {
						for _, x := range golden.Float64s(g) {
							require.Zero(t, x, "%s: accumulator cleared by Apply", name)
						}
					}
				})
			}
		}
	}
}

// TestChunkedStepsEqualTrainer: three AdamW steps of the chunked trainer leave the same weights as
// three steps of train.Trainer on the unrolled graph from the same seed, and report the same losses.
func TestChunkedStepsEqualTrainer(t *testing.T) {
	cfg := smallConfig(rnn.LSTM, false)
	const batch, seq, steps = 2, 9, 3
	run := func(chunked bool) (losses []float64, weights map[string][]float64) {
		opt, err := optim.New(optim.DefaultAdamW(1e-2))
		require.NoError(t, err)
		ctx := context.New()
		require.NoError(t, ctx.SetRNGStateFromSeed(5))
		var step func(tokens, labels [][]int32) float64
		if chunked {
			tr, err := rnn.NewChunkedTrainer(backend.MustShared(), ctx, cfg, opt, 4)
			require.NoError(t, err)
			step = func(tokens, labels [][]int32) float64 {
				loss, err := tr.Step(tokens, labels)
				require.NoError(t, err)
				return loss
			}
		} else {
			tr := train.NewTrainer(backend.MustShared(), ctx,
				func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
					return []*graph.Node{cfg.Logits(ctx, in[0])}
				},
				func(labels, logits []*graph.Node) *graph.Node { return lm.Loss(logits[0], labels[0]) },
				opt, nil, nil)
			step = func(tokens, labels [][]int32) float64 {
				metrics, err := tr.TrainStep(nil, []*tensors.Tensor{tensors.FromValue(tokens)}, []*tensors.Tensor{tensors.FromValue(labels)})
				require.NoError(t, err)
				return lm.LossValue(metrics[0])
			}
		}
		for i := range steps {
			tokens, labels := randomBatch(uint64(10+i), batch, seq, cfg.VocabSize)
			losses = append(losses, step(tokens, labels))
		}
		weights = make(map[string][]float64)
		for v := range ctx.IterVariables() {
			if v.Trainable {
				value, err := v.Value()
				require.NoError(t, err)
				weights[v.ScopeAndName()] = golden.Float64s(value)
			}
		}
		return losses, weights
	}
	wantLosses, want := run(false)
	gotLosses, got := run(true)
	require.InDeltaSlice(t, wantLosses, gotLosses, 1e-5)
	require.NotEqual(t, wantLosses[0], wantLosses[2], "the steps trained")
	require.Equal(t, len(want), len(got))
	for name, w := range want {
		require.InDeltaSlice(t, w, got[name], 1e-5, name)
	}
}

func TestChunkedTrainerErrors(t *testing.T) {
	cfg := smallConfig(rnn.GRU, false)
	opt, err := optim.New(optim.DefaultAdamW(1e-2))
	require.NoError(t, err)
	_, err = rnn.NewChunkedTrainer(backend.MustShared(), context.New(), cfg, opt, 0)
	require.ErrorContains(t, err, "chunk 0 must be positive")
	_, err = rnn.NewChunkedTrainer(backend.MustShared(), context.New(), rnn.Config{Cell: "rnn"}, opt, 4)
	require.ErrorContains(t, err, `Cell "rnn" is not lstm or gru`)

	tr, err := rnn.NewChunkedTrainer(backend.MustShared(), context.New(), cfg, opt, 4)
	require.NoError(t, err)
	_, err = tr.Apply()
	require.ErrorContains(t, err, "call Backward first")
	_, err = tr.Step(nil, nil)
	require.ErrorContains(t, err, "empty batch")
	_, err = tr.Step([][]int32{{1, 2}}, [][]int32{{1}})
	require.ErrorContains(t, err, "row 0 has 2 tokens and 1 labels")
	_, err = tr.Step([][]int32{{1, 11}}, [][]int32{{1, 2}})
	require.ErrorContains(t, err, "token 11, label 2: ids must be in [0, 11)")
	_, err = tr.Step([][]int32{{1, 2}}, [][]int32{{1, 2}, {3, 4}})
	require.ErrorContains(t, err, "2 rows of labels for 1 rows of tokens")
	_, err = tr.Loss([][]int32{{1, -1}}, [][]int32{{1, 2}})
	require.ErrorContains(t, err, "token -1, label 2: ids must be in [0, 11)")
	loss, err := tr.Step([][]int32{{1, 2, 3, 4, 5}}, [][]int32{{2, 3, 4, 5, 6}})
	require.NoError(t, err)
	require.InDelta(t, math.Log(11), loss, 0.5, "a fresh model's loss is about ln(vocab)")
}

// TestChunkedTrainerReusesVariables: a second trainer on a context that holds the model (a
// loaded checkpoint, say) keeps its values.
func TestChunkedTrainerReusesVariables(t *testing.T) {
	cfg := smallConfig(rnn.LSTM, false)
	opt, err := optim.New(optim.DefaultAdamW(1e-2))
	require.NoError(t, err)
	ctx := context.New()
	first, err := rnn.NewChunkedTrainer(backend.MustShared(), ctx, cfg, opt, 2)
	require.NoError(t, err)
	tokens, labels := randomBatch(1, 2, 5, cfg.VocabSize)
	_, err = first.Step(tokens, labels)
	require.NoError(t, err)
	value := func() []float64 {
		v, err := ctx.In(rnn.HeadScope).GetVariable("weights").Value()
		require.NoError(t, err)
		return golden.Float64s(v)
	}
	trained := value()
	second, err := rnn.NewChunkedTrainer(backend.MustShared(), ctx, cfg, opt, 3)
	require.NoError(t, err)
	require.Equal(t, trained, value())
	_, err = second.Step(tokens, labels)
	require.NoError(t, err)
	require.NotEqual(t, trained, value())
}
