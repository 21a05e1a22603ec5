// Package linear is the projection every bitter layer uses (attention's four, the MLP's, the
// untied output head): [Dense], with mixed precision's float32 master weights.
package linear

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// Variable names of a projection, inside the scope it is given (checkpoint keys).
const (
	WeightsVar = "weights" // `[in, out]`
	BiasesVar  = "biases"  // `[out]`
)

// Dense is x·W (+ b) on the last axis of x, `[..., in]` to `[..., out]`, with the variables
// [WeightsVar] `[in, out]` (ctx's initializer) and, with useBias, [BiasesVar] `[out]` (zeros) in
// ctx's scope, stored in param. With param = x's dtype it is the plain projection. With float32
// master weights and x in bfloat16 (mixed precision), the weights are cast to x's dtype for the
// product, whose result is in x's dtype. The bias is added in param's dtype, then the sum is cast
// to x's dtype: the bias's gradient is a sum over every token, and a bfloat16 sum stalls (GoMLX's
// pure-Go backend sums 10,000 bfloat16 ones to 256), so it is taken in float32. Gradients flow
// back through the casts to the stored variables.
func Dense(ctx *context.Context, x *graph.Node, out int, useBias bool, param dtypes.DType) *graph.Node {
	in := x.Shape().Dimensions[x.Rank()-1]
	cast := func(n *graph.Node) *graph.Node {
		if n.DType() != x.DType() {
			return graph.ConvertDType(n, x.DType())
		}
		return n
	}
	w := ctx.VariableWithShape(WeightsVar, shapes.Make(param, in, out)).ValueGraph(x.Graph())
	y := graph.DotGeneral(x, []int{x.Rank() - 1}, nil, cast(w), []int{0}, nil)
	if useBias {
		b := ctx.WithInitializer(initializers.Zero).VariableWithShape(BiasesVar, shapes.Make(param, out)).ValueGraph(x.Graph())
		if y.DType() == param {
			return graph.Add(y, graph.ExpandLeftToRank(b, y.Rank()))
		}
		y = graph.ConvertDType(graph.Add(graph.ConvertDType(y, param), graph.ExpandLeftToRank(b, y.Rank())), x.DType())
	}
	return y
}
