package optim_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/optim"
)

// TestGradientAccumulation: one AdamW step on a batch of 8 equals, through
// train.Trainer.AccumulateGradients(2), one step on two micro-batches of 4 (the loss is a mean, so
// the mean of the micro-batch gradients is the batch gradient).
func TestGradientAccumulation(t *testing.T) {
	x := [][]float32{{1, 2}, {0.5, -1}, {3, 0}, {-2, 1}, {1, 1}, {0, -3}, {2, 2}, {-1, 0.5}}
	y := [][]float32{{1}, {0}, {2}, {-1}, {1}, {-2}, {3}, {0}}
	run := func(microBatches int) []float64 {
		cfg := optim.DefaultAdamW(0.05)
		opt, err := optim.New(cfg)
		require.NoError(t, err)
		ctx := context.New()
		ctx.In("dense").VariableWithValue("weights", [][]float32{{0.3, -0.2}, {0.1, 0.4}})
		ctx.In("dense").VariableWithValue("out", [][]float32{{0.5}, {-0.5}})
		trainer := train.NewTrainer(backend.MustShared(), ctx.Reuse(),
			func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
				g := in[0].Graph()
				w := ctx.In("dense").GetVariable("weights").ValueGraph(g)
				o := ctx.In("dense").GetVariable("out").ValueGraph(g)
				h := graph.Tanh(graph.Dot(in[0], w))
				return []*graph.Node{graph.Dot(h, o)}
			},
			func(labels, pred []*graph.Node) *graph.Node {
				return graph.ReduceAllMean(graph.Square(graph.Sub(pred[0], labels[0])))
			}, opt, nil, nil)
		if microBatches > 1 {
			require.NoError(t, trainer.AccumulateGradients(microBatches))
		}
		size := len(x) / microBatches
		for i := range microBatches {
			_, err := trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromValue(x[i*size : (i+1)*size])},
				[]*tensors.Tensor{tensors.FromValue(y[i*size : (i+1)*size])})
			require.NoError(t, err)
		}
		return append(golden.Float64s(ctx.In("dense").GetVariable("weights").MustValue()),
			golden.Float64s(ctx.In("dense").GetVariable("out").MustValue())...)
	}
	whole, accumulated := run(1), run(2)
	initial := []float64{0.3, -0.2, 0.1, 0.4, 0.5, -0.5}
	require.InDeltaSlice(t, whole, accumulated, 1e-6)
	for i := range initial {
		require.NotEqual(t, initial[i], whole[i], "the step moved parameter %d", i)
	}
}
