package positional

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RoPE applies rotary position embeddings (Su et al. 2021) to x, `[batch, seq, heads, headDim]`, at
// the Int32 positions, `[seq]` or `[batch, seq]`, and returns a node of x's shape and dtype.
//
// Half-split convention (GPT-NeoX, Hugging Face LLaMA): with h = headDim/2 and angle
// a_i = p * base^(-2i/headDim) for i < h,
//
//	out[i]   = x[i]·cos(a_i) - x[i+h]·sin(a_i)
//	out[i+h] = x[i+h]·cos(a_i) + x[i]·sin(a_i)
//
// base is usually 10000. Angles are computed in float32 (float64 for float64 x). headDim must be
// even. The rotation pairs are formed with a reshape and a 2x2 product rather than Slice, whose
// gradient GoMLX v0.26's pure-Go backend lacks.
func RoPE(x, positions *graph.Node, base float64) *graph.Node {
	if x.Rank() != 4 {
		panic(fmt.Sprintf("positional.RoPE: x must be [batch, seq, heads, headDim], got shape %s", x.Shape()))
	}
	dims := x.Shape().Dimensions
	batch, seq, heads, headDim := dims[0], dims[1], dims[2], dims[3]
	if headDim%2 != 0 {
		panic(fmt.Sprintf("positional.RoPE: headDim must be even, got x shape %s", x.Shape()))
	}
	if !x.DType().IsFloat() {
		panic(fmt.Sprintf("positional.RoPE: x must be a float tensor, got %s", x.Shape()))
	}
	if !positions.DType().IsInt() {
		panic(fmt.Sprintf("positional.RoPE: positions must be integers, got %s", positions.Shape()))
	}
	switch {
	case positions.Rank() == 1 && positions.Shape().Dimensions[0] == seq:
		positions = graph.InsertAxes(positions, 0) // [1, seq]
	case positions.Rank() == 2 && positions.Shape().Dimensions[1] == seq &&
		(positions.Shape().Dimensions[0] == batch || positions.Shape().Dimensions[0] == 1):
	default:
		panic(fmt.Sprintf("positional.RoPE: positions must be [seq] or [batch, seq] for x %s, got %s",
			x.Shape(), positions.Shape()))
	}
	if !(base > 0) {
		panic(fmt.Sprintf("positional.RoPE: base must be positive, got %g", base))
	}
	g := x.Graph()
	half := headDim / 2
	computeDType := dtypes.Float32
	if x.DType() == dtypes.Float64 {
		computeDType = dtypes.Float64
	}
	invFreq := make([]float64, half)
	for i := range invFreq {
		invFreq[i] = math.Pow(base, -2*float64(i)/float64(headDim))
	}
	freq := graph.ConvertDType(graph.Const(g, tensors.FromFlatDataAndDimensions(invFreq, half)), computeDType)
	pos := graph.ConvertDType(positions, computeDType)                                          // [b|1, seq]
	angles := graph.Mul(graph.InsertAxes(pos, -1), graph.Reshape(freq, 1, 1, half))             // [b|1, seq, half]
	cos := graph.ConvertDType(graph.Reshape(graph.Cos(angles), -1, seq, 1, 1, half), x.DType()) // [b|1, seq, 1, 1, half]
	sin := graph.ConvertDType(graph.Reshape(graph.Sin(angles), -1, seq, 1, 1, half), x.DType())

	// Pairs (x[i], x[i+h]) sit on axis 3 of x5.
	x5 := graph.Reshape(x, batch, seq, heads, 2, half)
	// rotated[..., j, :] = sum_k R[k, j] x5[..., k, :] with R = [[0, 1], [-1, 0]]:
	// rotated[..., 0, :] = -x[i+h], rotated[..., 1, :] = x[i].
	rot := graph.ConvertDType(graph.Const(g, [][]float32{{0, 1}, {-1, 0}}), x.DType())
	rotated := graph.DotGeneral(x5, []int{3}, nil, rot, []int{0}, nil) // [b, seq, heads, half, 2]
	rotated = graph.TransposeAllAxes(rotated, 0, 1, 2, 4, 3)           // [b, seq, heads, 2, half]
	out := graph.Add(graph.Mul(x5, cos), graph.Mul(rotated, sin))
	return graph.Reshape(out, batch, seq, heads, headDim)
}
