package attention

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/linear"
)

// Variable names of [Additive], inside the scope it is given (checkpoint keys): QueryScope and
// KeyScope hold its projections' WeightsVar (and KeyScope its BiasesVar), ScoreVar the vector v.
const ScoreVar = "score"

// Additive is Bahdanau et al. (2014)'s additive attention, the attention of the first neural
// translation models: for a query s `[batch, qDim]` (the decoder's state) and keys h
// `[batch, kvLen, kDim]` (the encoder's states), with mask `[batch, kvLen]` (true = attend; nil for
// none),
//
//	e_j = vᵀ tanh(W s + U h_j + b),   α = softmax_j(e) over the unmasked j,   c = Σ_j α_j h_j
//
// It returns the context c `[batch, kDim]` and the weights α `[batch, kvLen]` (the alignment).
// W `[qDim, units]` is QueryScope's weights, U `[kDim, units]` and b `[units]` KeyScope's weights and
// biases, v `[units]` ScoreVar, all in ctx's scope with ctx's initializer (b at zero). Every row of
// mask must hold a true. It panics with the shapes when they don't fit.
func Additive(ctx *context.Context, query, keys, mask *graph.Node, units int) (contextVec, weights *graph.Node) {
	return AdditiveAttend(ctx, query, keys, AdditiveKeys(ctx, keys, units), mask)
}

// AdditiveKeys is the part of [Additive] that depends on the keys alone, U h_j + b
// `[batch, kvLen, units]`: a decoder computes it once per source sentence and hands it to
// [AdditiveAttend] at each of its steps.
func AdditiveKeys(ctx *context.Context, keys *graph.Node, units int) *graph.Node {
	if keys.Rank() != 3 || units < 1 {
		panic(fmt.Sprintf("attention.AdditiveKeys: keys must be [batch, kvLen, kDim] and units positive; got %s, %d", keys.Shape(), units))
	}
	return linear.Dense(ctx.In(KeyScope), keys, units, true, keys.DType())
}

// AdditiveAttend is [Additive] for a query, given the keys' projection from [AdditiveKeys] (same
// ctx): it returns the context `[batch, kDim]` and the weights `[batch, kvLen]`.
func AdditiveAttend(ctx *context.Context, query, keys, projectedKeys, mask *graph.Node) (contextVec, weights *graph.Node) {
	if query.Rank() != 2 || keys.Rank() != 3 || query.Shape().Dimensions[0] != keys.Shape().Dimensions[0] ||
		projectedKeys.Rank() != 3 || projectedKeys.Shape().Dimensions[0] != keys.Shape().Dimensions[0] ||
		projectedKeys.Shape().Dimensions[1] != keys.Shape().Dimensions[1] {
		panic(fmt.Sprintf("attention.Additive: query must be [batch, qDim], keys [batch, kvLen, kDim] and projected keys [batch, kvLen, units]; got %s, %s, %s",
			query.Shape(), keys.Shape(), projectedKeys.Shape()))
	}
	batch, kvLen, units := keys.Shape().Dimensions[0], keys.Shape().Dimensions[1], projectedKeys.Shape().Dimensions[2]
	if mask != nil && (mask.Rank() != 2 || mask.Shape().Dimensions[0] != batch || mask.Shape().Dimensions[1] != kvLen) {
		panic(fmt.Sprintf("attention.Additive: mask must be [batch=%d, kvLen=%d], got %s", batch, kvLen, mask.Shape()))
	}
	param := keys.DType()
	ws := linear.Dense(ctx.In(QueryScope), query, units, false, param) // [batch, units]
	v := ctx.VariableWithShape(ScoreVar, shapes.Make(param, units)).ValueGraph(keys.Graph())
	hidden := graph.Tanh(graph.Add(projectedKeys, graph.ExpandAxes(ws, 1)))
	scores := graph.DotGeneral(hidden, []int{2}, nil, v, []int{0}, nil) // [batch, kvLen]
	if mask != nil {
		scores = graph.Where(mask, scores, graph.BroadcastToShape(graph.Infinity(keys.Graph(), param, -1), scores.Shape()))
	}
	weights = graph.Softmax(scores, 1)
	contextVec = graph.Squeeze(graph.DotGeneral(graph.ExpandAxes(weights, 1), []int{2}, []int{0}, keys, []int{1}, []int{0}), 1)
	return contextVec, weights
}
