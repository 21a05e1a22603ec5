package gradients_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
)

// TestSliceVJP checks the Slice gradient on the pure-Go backend (where GoMLX v0.26's Pad-based one
// fails) against central finite differences, for slices along one and several axes.
func TestSliceVJP(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	x := randTensor(rng, []int{3, 5, 4})
	w := randTensor(rng, []int{2, 3, 2})
	loss := func(x, w *graph.Node) *graph.Node {
		s := graph.Slice(x, graph.AxisRange(1, 3), graph.AxisRange(1, 4), graph.AxisRange(2, 4)) // [2, 3, 2]
		return graph.ReduceAllSum(graph.Mul(graph.Square(s), w))
	}
	grad, err := graph.ExecOnce(backend.MustShared(), func(x, w *graph.Node) *graph.Node {
		return graph.Gradient(loss(x, w), x)[0]
	}, x, w)
	require.NoError(t, err)
	got := tensors.MustCopyFlatData[float64](grad)
	lossExec := graph.MustNewExec(backend.MustShared(), loss)
	flat := tensors.MustCopyFlatData[float64](x)
	nonZero := 0
	for k := range flat {
		plus, minus := append([]float64(nil), flat...), append([]float64(nil), flat...)
		plus[k] += 1e-5
		minus[k] -= 1e-5
		fp := tensors.MustCopyFlatData[float64](lossExec.MustExec(tensors.FromFlatDataAndDimensions(plus, 3, 5, 4), w)[0])[0]
		fm := tensors.MustCopyFlatData[float64](lossExec.MustExec(tensors.FromFlatDataAndDimensions(minus, 3, 5, 4), w)[0])[0]
		require.InDelta(t, (fp-fm)/2e-5, got[k], 1e-7, "index %d", k)
		if got[k] != 0 {
			nonZero++
		}
	}
	require.Equal(t, 2*3*2, nonZero, "gradient only inside the slice")
}
