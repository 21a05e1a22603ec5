package positional

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// ALiBiSlopes returns the per-head slopes of ALiBi (Press et al. 2021). For a power-of-two head count
// n they are the geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8). Otherwise, as in the paper's
// reference code, with m the largest power of two below n, they are the m slopes for m heads followed
// by every other slope of the sequence for 2m heads, the first n-m of them.
// It returns an error for numHeads < 1.
func ALiBiSlopes(numHeads int) ([]float64, error) {
	if numHeads < 1 {
		return nil, fmt.Errorf("positional.ALiBiSlopes: numHeads must be at least 1, got %d", numHeads)
	}
	return alibiSlopes(numHeads), nil
}

func alibiSlopes(n int) []float64 {
	powerOfTwo := func(n int) []float64 {
		start := math.Pow(2, -math.Pow(2, -(math.Log2(float64(n))-3)))
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Pow(start, float64(i+1))
		}
		return s
	}
	if n&(n-1) == 0 {
		return powerOfTwo(n)
	}
	m := 1 << int(math.Floor(math.Log2(float64(n))))
	slopes := powerOfTwo(m)
	extra := powerOfTwo(2 * m)
	for i := 0; len(slopes) < n; i += 2 {
		slopes = append(slopes, extra[i])
	}
	return slopes
}

// ALiBiBias returns the additive attention bias of ALiBi, `[heads, qLen, kvLen]`, for queries at
// absolute positions kvLen-qLen ... kvLen-1 (the last qLen of the keys, as in a decode step against a
// cache) and keys at 0 ... kvLen-1:
//
//	bias[h, i, j] = -slope[h] · (i + kvLen - qLen - j)
//
// It is meant for causal attention: keys after the query (j > i + kvLen - qLen) get a positive bias and
// must be masked. Pass it to attention's Bias option, which broadcasts it over the batch.
func ALiBiBias(g *graph.Graph, dtype dtypes.DType, numHeads, qLen, kvLen int) *graph.Node {
	if numHeads < 1 || qLen < 1 || kvLen < qLen {
		panic(fmt.Sprintf("positional.ALiBiBias: need numHeads >= 1 and 1 <= qLen <= kvLen, got numHeads=%d qLen=%d kvLen=%d",
			numHeads, qLen, kvLen))
	}
	if !dtype.IsFloat() {
		panic(fmt.Sprintf("positional.ALiBiBias: dtype %s is not a float type", dtype))
	}
	slopes := alibiSlopes(numHeads)
	bias := make([]float64, numHeads*qLen*kvLen)
	offset := kvLen - qLen
	for h, s := range slopes {
		for i := range qLen {
			for j := range kvLen {
				bias[(h*qLen+i)*kvLen+j] = -s * float64(i+offset-j)
			}
		}
	}
	node := graph.Const(g, tensors.FromFlatDataAndDimensions(bias, numHeads, qLen, kvLen))
	if dtype != dtypes.Float64 {
		node = graph.ConvertDType(node, dtype)
	}
	return node
}

// ALiBiBiasAt is [ALiBiBias] for queries at the given Int32 absolute positions, `[n]`, against keys
// at 0 ... kvLen-1 (a KV cache's slots): it returns `[heads, n, kvLen]` with
// bias[h, i, j] = -slope[h] · (positions[i] - j).
func ALiBiBiasAt(positions *graph.Node, dtype dtypes.DType, numHeads, kvLen int) *graph.Node {
	if numHeads < 1 || kvLen < 1 || positions.Rank() != 1 || !positions.DType().IsInt() {
		panic(fmt.Sprintf("positional.ALiBiBiasAt: need numHeads >= 1, kvLen >= 1 and integer positions [n], got numHeads=%d kvLen=%d positions %s",
			numHeads, kvLen, positions.Shape()))
	}
	g := positions.Graph()
	n := positions.Shape().Dimensions[0]
	slopes := graph.ConvertDType(graph.Const(g, tensors.FromFlatDataAndDimensions(alibiSlopes(numHeads), numHeads, 1, 1)), dtype)
	qPos := graph.Reshape(graph.ConvertDType(positions, dtype), 1, n, 1)
	kPos := graph.Reshape(graph.Iota(g, shapes.Make(dtype, kvLen), 0), 1, 1, kvLen)
	return graph.Neg(graph.Mul(slopes, graph.Sub(qPos, kPos)))
}
