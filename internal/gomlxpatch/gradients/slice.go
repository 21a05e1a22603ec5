package gradients

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// StockSliceVJP is GoMLX's own Slice gradient (built with Pad), kept for strided slices and tests.
var StockSliceVJP = graph.VJPRegistration[graph.NodeTypeSlice]

// SliceVJP is the gradient of `Slice(x, starts, limits, strides)`: the adjoint v placed where the
// slice came from, zeros elsewhere. For unit strides it is built with Concatenate (zeros before, v,
// zeros after, one axis at a time), which the pure-Go backend has; strided slices keep GoMLX's
// Pad-based gradient.
func SliceVJP(node *graph.Node, vjpOutputs []*graph.Node, outputShape shapes.Shape) []*graph.Node {
	v := vjpOutputs[0]
	f := intFields(node, "starts", "limits", "strides")
	starts, limits, strides := f[0], f[1], f[2]
	for _, s := range strides {
		if s > 1 {
			return StockSliceVJP(node, vjpOutputs, outputShape)
		}
	}
	x := node.Inputs()[0]
	g := v.Graph()
	dims := x.Shape().Dimensions
	for axis := range dims {
		before, after := starts[axis], dims[axis]-limits[axis]
		if before == 0 && after == 0 {
			continue
		}
		parts := make([]*graph.Node, 0, 3)
		zeros := func(n int) *graph.Node {
			zd := append([]int(nil), v.Shape().Dimensions...)
			zd[axis] = n
			return graph.Zeros(g, shapes.Make(v.DType(), zd...))
		}
		if before > 0 {
			parts = append(parts, zeros(before))
		}
		parts = append(parts, v)
		if after > 0 {
			parts = append(parts, zeros(after))
		}
		v = graph.Concatenate(parts, axis)
	}
	return []*graph.Node{v}
}
