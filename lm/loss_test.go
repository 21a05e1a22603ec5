package lm_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/lm"
)

// TestTokenLossesGradient: each position's cross-entropy and the gradient of a weighted sum of them
// (weights of both signs, as REINFORCE gives) against the formulas computed here in float64, and the
// gradient against central differences of the graph's own loss; on logits far from zero (300 and
// more), where a softmax that did not shift by the maximum would overflow. Two positions have targets
// outside the vocabulary (-1 and vocab): loss 0 and no gradient, which the differences confirm.
func TestTokenLossesGradient(t *testing.T) {
	const batch, seq, vocab = 2, 3, 7
	rng := rand.New(rand.NewPCG(5, 6))
	logits := make([]float64, batch*seq*vocab)
	for i := range logits {
		logits[i] = 300 + 3*rng.NormFloat64()
	}
	targets := make([]int32, batch*seq)
	weights := make([]float64, batch*seq)
	for i := range targets {
		targets[i] = int32(rng.IntN(vocab))
		weights[i] = rng.NormFloat64()
	}
	targets[1], targets[4] = -1, vocab
	exec, err := graph.NewExec(backend.MustShared(), func(logits, targets, weights *graph.Node) []*graph.Node {
		losses := lm.TokenLosses(logits, targets)
		loss := graph.ReduceAllSum(graph.Mul(losses, weights))
		return []*graph.Node{losses, loss, graph.Gradient(loss, logits)[0]}
	})
	require.NoError(t, err)
	run := func(l []float64) []*tensors.Tensor {
		res, err := exec.Exec(tensors.FromFlatDataAndDimensions(l, batch, seq, vocab),
			tensors.FromFlatDataAndDimensions(targets, batch, seq), tensors.FromFlatDataAndDimensions(weights, batch, seq))
		require.NoError(t, err)
		return res
	}
	res := run(logits)
	losses, grad := golden.Float64s(res[0]), golden.Float64s(res[2])
	for pos := range batch * seq {
		row := logits[pos*vocab : (pos+1)*vocab]
		if targets[pos] < 0 || targets[pos] >= vocab {
			require.Zero(t, losses[pos], "loss at %d, target %d", pos, targets[pos])
			for j := range row {
				require.Zero(t, grad[pos*vocab+j], "d logits[%d][%d], target %d", pos, j, targets[pos])
			}
			continue
		}
		m := math.Inf(-1)
		for _, x := range row {
			m = max(m, x)
		}
		sum := 0.0
		for _, x := range row {
			sum += math.Exp(x - m)
		}
		lse := m + math.Log(sum)
		require.InDelta(t, lse-row[targets[pos]], losses[pos], 1e-12, "loss at %d", pos)
		for j, x := range row {
			want := math.Exp(x-lse) * weights[pos]
			if int32(j) == targets[pos] {
				want -= weights[pos]
			}
			require.InDelta(t, want, grad[pos*vocab+j], 1e-12, "d logits[%d][%d]", pos, j)
		}
	}
	const h = 1e-6
	for i := range logits {
		at := func(d float64) float64 {
			moved := append([]float64(nil), logits...)
			moved[i] += d
			return golden.Float64s(run(moved)[1])[0]
		}
		require.InDelta(t, (at(h)-at(-h))/(2*h), grad[i], 1e-6, "central difference at %d", i)
	}
}

// BenchmarkTokenLossesGradient: the loss and its gradient with respect to the logits at GPT-2's
// vocabulary, 4 × 128 positions (a fine-tuning step's logits on a CPU), float32.
func BenchmarkTokenLossesGradient(b *testing.B) {
	const batch, seq, vocab = 4, 128, 50257
	rng := rand.New(rand.NewPCG(7, 8))
	logits := make([]float32, batch*seq*vocab)
	for i := range logits {
		logits[i] = float32(rng.NormFloat64())
	}
	targets := make([]int32, batch*seq)
	for i := range targets {
		targets[i] = int32(rng.IntN(vocab))
	}
	exec, err := graph.NewExec(backend.MustShared(), func(logits, targets *graph.Node) []*graph.Node {
		loss := lm.Loss(logits, targets)
		return []*graph.Node{loss, graph.Gradient(loss, logits)[0]}
	})
	require.NoError(b, err)
	l := tensors.FromFlatDataAndDimensions(logits, batch, seq, vocab)
	tg := tensors.FromFlatDataAndDimensions(targets, batch, seq)
	_, err = exec.Exec(l, tg) // compile
	require.NoError(b, err)
	b.ResetTimer()
	for range b.N {
		res, err := exec.Exec(l, tg)
		require.NoError(b, err)
		for _, r := range res {
			r.FinalizeAll()
		}
	}
}
