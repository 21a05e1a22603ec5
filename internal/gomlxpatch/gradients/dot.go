package gradients

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// StockDotVJP is GoMLX's own Dot gradient, kept so tests can compare against it.
var StockDotVJP = graph.VJPRegistration[graph.NodeTypeDot]

func init() { graph.VJPRegistration[graph.NodeTypeDot] = DotVJP }

// DotVJP is the gradient of `out = Dot(lhs, rhs)`, the node graph.MatMul builds when both operands
// have rank 2 or less. GoMLX v0.26.0 builds the matrix-matrix case as a broadcast Mul and a
// ReduceSum over an `[i, j, k]` tensor (for a [16384, 768] x [768, 50257] head, 632 billion
// elements); here, with v the incoming adjoint:
//
//	vector[j] · vector[j]:        dLhs = v·rhs, dRhs = v·lhs (v is a scalar)
//	matrix[i, j] · vector[j]:     dLhs = v ⊗ rhs, dRhs = lhsᵀ v
//	matrix[i, j] · matrix[j, k]:  dLhs = v rhsᵀ, dRhs = lhsᵀ v
//
// the products as DotGenerals, the outer product (as large as the gradient itself) as a broadcast.
// Other ranks panic, as GoMLX's own gradient does (the pure-Go backend builds no other Dot).
func DotVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	v := vjpOutputs[0]
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	outer := func(a, b *graph.Node) *graph.Node { // a[i] ⊗ b[j] -> [i, j]
		dims := []int{a.Shape().Dimensions[0], b.Shape().Dimensions[0]}
		return graph.Mul(graph.BroadcastToDims(graph.InsertAxes(a, -1), dims...), graph.BroadcastToDims(graph.InsertAxes(b, 0), dims...))
	}
	var dl, dr *graph.Node
	switch {
	case lhs.Rank() == 1 && rhs.Rank() == 1:
		dl, dr = graph.Mul(v, rhs), graph.Mul(v, lhs)
	case lhs.Rank() == 2 && rhs.Rank() == 1:
		dl = outer(v, rhs)
		dr = graph.DotGeneral(lhs, []int{0}, nil, v, []int{0}, nil)
	case lhs.Rank() == 2 && rhs.Rank() == 2:
		dl = graph.DotGeneral(v, []int{1}, nil, rhs, []int{1}, nil)
		dr = graph.DotGeneral(lhs, []int{0}, nil, v, []int{0}, nil)
	default:
		panic(fmt.Sprintf("gradients.DotVJP: Dot of ranks %d and %d (%s, %s)", lhs.Rank(), rhs.Rank(), lhs.Shape(), rhs.Shape()))
	}
	if dl.DType() != lhs.DType() {
		dl = graph.ConvertDType(dl, lhs.DType())
	}
	if dr.DType() != rhs.DType() {
		dr = graph.ConvertDType(dr, rhs.DType())
	}
	return []*graph.Node{dl, dr}
}
