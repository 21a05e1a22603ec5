package gradients_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/gradients"
)

// dotLoss is sum(Dot(lhs, rhs) * w), w random so that the incoming adjoint is random.
func dotLoss(lhs, rhs, w *graph.Node) *graph.Node {
	return graph.ReduceAllSum(graph.Mul(graph.Dot(lhs, rhs), w))
}

// dotGradients returns d loss / d lhs and d loss / d rhs with the given Dot VJP installed.
func dotGradients(t *testing.T, vjp graph.VJP, lhs, rhs, w *tensors.Tensor) (dl, dr []float64) {
	t.Helper()
	saved := graph.VJPRegistration[graph.NodeTypeDot]
	graph.VJPRegistration[graph.NodeTypeDot] = vjp
	defer func() { graph.VJPRegistration[graph.NodeTypeDot] = saved }()
	exec, err := graph.NewExec(backend.MustShared(), func(lhs, rhs, w *graph.Node) []*graph.Node {
		return graph.Gradient(dotLoss(lhs, rhs, w), lhs, rhs)
	})
	require.NoError(t, err)
	outs, err := exec.Exec(lhs, rhs, w)
	require.NoError(t, err)
	require.Equal(t, lhs.Shape(), outs[0].Shape())
	require.Equal(t, rhs.Shape(), outs[1].Shape())
	return tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[float64](outs[1])
}

// TestDotVJP checks the replacement against GoMLX's stock gradient and central
// finite differences, in float64, for every rank combination the backends' Dot takes.
func TestDotVJP(t *testing.T) {
	for i, c := range []struct {
		name     string
		lhs, rhs []int
	}{
		{"vector_vector", []int{5}, []int{5}},
		{"matrix_vector", []int{3, 5}, []int{5}},
		{"matrix_matrix", []int{3, 5}, []int{5, 4}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			lhs, rhs := randTensor(rng, c.lhs), randTensor(rng, c.rhs)
			var outDims []int
			outDims = append(outDims, c.lhs[:len(c.lhs)-1]...)
			outDims = append(outDims, c.rhs[1:]...)
			w := randTensor(rng, outDims)
			if len(outDims) == 0 {
				w = tensors.FromValue(rng.Float64()*2 - 1)
			}
			dl, dr := dotGradients(t, gradients.DotVJP, lhs, rhs, w)
			sdl, sdr := dotGradients(t, gradients.StockDotVJP, lhs, rhs, w)
			require.InDeltaSlice(t, sdl, dl, 1e-12, "d lhs vs stock")
			require.InDeltaSlice(t, sdr, dr, 1e-12, "d rhs vs stock")
			// And finite differences (the weights w held fixed).
			checkGradients(t, func(in []*graph.Node) *graph.Node { return dotLoss(in[0], in[1], graph.Const(in[0].Graph(), w)) }, lhs, rhs)
		})
	}
}

// TestDotVJPMaterialisesNoCube: the gradient of MatMul([64, 32], [32, 48]) holds no node larger
// than its operands and output (GoMLX's own made a [64, 32, 48] one), and the VJP is installed.
func TestDotVJPMaterialisesNoCube(t *testing.T) {
	require.Equal(t, fmt.Sprintf("%p", graph.VJP(gradients.DotVJP)), fmt.Sprintf("%p", graph.VJPRegistration[graph.NodeTypeDot]))
	largest := func(vjp graph.VJP) int {
		saved := graph.VJPRegistration[graph.NodeTypeDot]
		graph.VJPRegistration[graph.NodeTypeDot] = vjp
		defer func() { graph.VJPRegistration[graph.NodeTypeDot] = saved }()
		g := graph.NewGraph(backend.MustShared(), "matmul_gradient")
		defer g.Finalize()
		a := graph.Parameter(g, "a", shapes.Make(dtypes.Float32, 64, 32))
		b := graph.Parameter(g, "b", shapes.Make(dtypes.Float32, 32, 48))
		graph.Gradient(graph.ReduceAllSum(graph.MatMul(a, b)), a, b)
		n := 0
		for _, node := range g.Nodes() {
			n = max(n, node.Shape().Size())
		}
		return n
	}
	require.Equal(t, 64*48, largest(gradients.DotVJP))
	require.Equal(t, 64*32*48, largest(gradients.StockDotVJP), "the stock gradient's cube, as described")
}
