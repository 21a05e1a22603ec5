package lm

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Loss is the mean next-token cross-entropy in nats of logits `[batch, seq, vocab]` against targets
// Int32 `[batch, seq]` (the tokens one position later), computed in float32 or more.
func Loss(logits, targets *graph.Node) *graph.Node {
	if logits.Rank() != 3 || targets.Rank() != 2 ||
		logits.Shape().Dimensions[0] != targets.Shape().Dimensions[0] || logits.Shape().Dimensions[1] != targets.Shape().Dimensions[1] {
		panic(fmt.Sprintf("lm.Loss: logits must be [batch, seq, vocab] and targets [batch, seq], got %s and %s",
			logits.Shape(), targets.Shape()))
	}
	return graph.ReduceAllMean(TokenLosses(logits, targets))
}

// TokenLosses is the cross-entropy in nats of each position, `[batch, seq]`. A position whose target
// is outside [0, vocabulary) (-1 for padding, say) has loss 0 and no gradient.
//
// Its gradient is written out: for the gradient g of a position's loss, its logits get
// g · (softmax(logits) − onehot(target)), recomputed in one pass from the logits and the log-sum-exp,
// as PyTorch's cross-entropy does. GoMLX's derivative of the exp, sum and log would multiply by
// exp(logits − max) kept from the forward pass in float32: for GPT-2 small's 16 × 1024 × 50257
// logits, 3.3 GB written, kept and read again (BenchmarkTokenLossesGradient times the two).
func TokenLosses(logits, targets *graph.Node) *graph.Node {
	if logits.DType() != dtypes.Float64 && logits.DType() != dtypes.Float32 {
		logits = graph.ConvertDType(logits, dtypes.Float32)
	}
	g := logits.Graph()
	l := graph.StopGradient(logits)
	maxLogit := graph.ReduceAndKeep(l, graph.ReduceMax, -1)
	shifted := graph.Sub(l, maxLogit)
	logSumExp := graph.Log(graph.ReduceSum(graph.Exp(shifted), -1)) // [batch, seq], of the shifted logits
	ids := graph.Iota(g, shapes.Make(dtypes.Int32, logits.Shape().Dimensions...), 2)
	isTarget := graph.Equal(ids, graph.BroadcastToDims(graph.InsertAxes(graph.ConvertDType(targets, dtypes.Int32), -1), logits.Shape().Dimensions...))
	// The target's logit is read through a node that turns the gradient this path gives the logits,
	// v = −g at the target and 0 elsewhere, into the whole derivative g · (softmax − onehot).
	x := graph.IdentityWithCustomGradient(logits, func(_, v *graph.Node) *graph.Node {
		minusG := graph.ReduceAndKeep(v, graph.ReduceSum, -1)
		p := graph.Exp(graph.Sub(shifted, graph.InsertAxes(logSumExp, -1)))
		return graph.Sub(v, graph.Mul(minusG, p))
	})
	targetLogit := graph.ReduceSum(graph.Where(isTarget, x, graph.ScalarZero(g, x.DType())), -1)
	losses := graph.Sub(logSumExp, graph.Sub(targetLogit, graph.Squeeze(maxLogit, -1)))
	// Without a target in range no gradient reaches x, so the value must not depend on the logits either.
	t := graph.ConvertDType(targets, dtypes.Int32)
	vocab := logits.Shape().Dimensions[2]
	inRange := graph.LogicalAnd(graph.GreaterOrEqual(t, graph.ScalarZero(g, dtypes.Int32)), graph.LessThan(t, graph.Scalar(g, dtypes.Int32, vocab)))
	return graph.Where(inRange, losses, graph.ScalarZero(g, losses.DType()))
}

// LossValue reads a scalar loss (or any float32/float64 scalar metric) as float64; NaN otherwise.
func LossValue(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	return math.NaN()
}
