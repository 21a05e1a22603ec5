package gradients_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/gradients"
	"github.com/bitterlesson/bitter/internal/testing/golden"
)

// layout is one DotGeneral configuration.
type layout struct {
	name                  string
	lhsDims, rhsDims      []int
	lhsContract, lhsBatch []int
	rhsContract, rhsBatch []int
}

var layouts = []layout{
	{"matmul", []int{3, 4}, []int{4, 5}, []int{1}, nil, []int{0}, nil},
	{"matmul_transposed_rhs", []int{3, 4}, []int{5, 4}, []int{1}, nil, []int{1}, nil},
	{"dense_over_sequence", []int{2, 3, 4}, []int{4, 5}, []int{2}, nil, []int{0}, nil},
	{"batched", []int{2, 3, 4}, []int{2, 4, 5}, []int{2}, []int{0}, []int{1}, []int{0}},
	// Attention scores: [b, q, h, d] x [b, k, h, d] -> [b, h, q, k].
	{"attention_scores", []int{2, 5, 3, 4}, []int{2, 6, 3, 4}, []int{3}, []int{0, 2}, []int{3}, []int{0, 2}},
	// Two contracting axes paired out of order: lhs axis 1 with rhs axis 1, lhs axis 2 with rhs axis 0.
	{"two_contracting_permuted", []int{3, 4, 5}, []int{5, 4, 6}, []int{1, 2}, nil, []int{1, 0}, nil},
	// Batch axes in different places and orders on each side: lhs [b, q, h, d], rhs [h, k, b, d].
	{"batch_axes_reordered", []int{2, 5, 3, 4}, []int{3, 6, 2, 4}, []int{3}, []int{0, 2}, []int{3}, []int{2, 0}},
	// Batch axis not leading, contracting axis first.
	{"batch_not_leading", []int{4, 2, 3}, []int{2, 5, 4}, []int{0}, []int{1}, []int{2}, []int{0}},
	// No cross axis on the lhs: a vector-matrix product.
	{"no_lhs_cross", []int{4}, []int{4, 5}, []int{0}, nil, []int{0}, nil},
}

func randTensor(rng *rand.Rand, dims []int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float64, size)
	for i := range data {
		data[i] = rng.Float64()*2 - 1
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}

// lossFn is sum(DotGeneral(lhs, rhs) * weights): random weights make the incoming adjoint random.
func lossFn(l layout) func(lhs, rhs, w *graph.Node) *graph.Node {
	return func(lhs, rhs, w *graph.Node) *graph.Node {
		out := graph.DotGeneral(lhs, l.lhsContract, l.lhsBatch, rhs, l.rhsContract, l.rhsBatch)
		return graph.ReduceAllSum(graph.Mul(out, w))
	}
}

// dotGeneralGradients returns d loss / d lhs and d loss / d rhs, with the given DotGeneral VJP installed
// while the graph is built.
func dotGeneralGradients(t *testing.T, l layout, vjp graph.VJP, lhs, rhs, w *tensors.Tensor) (dl, dr []float64) {
	t.Helper()
	saved := graph.VJPRegistration[graph.NodeTypeDotGeneral]
	graph.VJPRegistration[graph.NodeTypeDotGeneral] = vjp
	defer func() { graph.VJPRegistration[graph.NodeTypeDotGeneral] = saved }()
	loss := lossFn(l)
	exec, err := graph.NewExec(backend.MustShared(), func(lhs, rhs, w *graph.Node) []*graph.Node {
		grads := graph.Gradient(loss(lhs, rhs, w), lhs, rhs)
		return grads
	})
	require.NoError(t, err)
	outs, err := exec.Exec(lhs, rhs, w)
	require.NoError(t, err)
	require.Equal(t, lhs.Shape(), outs[0].Shape(), "d lhs shape")
	require.Equal(t, rhs.Shape(), outs[1].Shape(), "d rhs shape")
	return tensors.MustCopyFlatData[float64](outs[0]), tensors.MustCopyFlatData[float64](outs[1])
}

func outputDims(t *testing.T, l layout) []int {
	g := graph.NewGraph(backend.MustShared(), "shape")
	defer g.Finalize()
	lhs := graph.Parameter(g, "lhs", shapes.Make(dtypes.Float64, l.lhsDims...))
	rhs := graph.Parameter(g, "rhs", shapes.Make(dtypes.Float64, l.rhsDims...))
	return graph.DotGeneral(lhs, l.lhsContract, l.lhsBatch, rhs, l.rhsContract, l.rhsBatch).Shape().Dimensions
}

// TestDotGeneralVJP checks the replacement gradient against GoMLX's stock gradient and against
// central finite differences, in float64, on layouts that exercise every axis mapping.
func TestDotGeneralVJP(t *testing.T) {
	for i, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			lhs, rhs := randTensor(rng, l.lhsDims), randTensor(rng, l.rhsDims)
			w := randTensor(rng, outputDims(t, l))

			dl, dr := dotGeneralGradients(t, l, gradients.DotGeneralVJP, lhs, rhs, w)
			sdl, sdr := dotGeneralGradients(t, l, gradients.StockDotGeneralVJP, lhs, rhs, w)
			require.InDeltaSlice(t, sdl, dl, 1e-12, "d lhs vs stock")
			require.InDeltaSlice(t, sdr, dr, 1e-12, "d rhs vs stock")

			// And finite differences (the weights w held fixed).
			checkGradients(t, func(in []*graph.Node) *graph.Node { return lossFn(l)(in[0], in[1], graph.Const(in[0].Graph(), w)) }, lhs, rhs)
		})
	}
}

// TestDotGeneralVJPInstalled checks that importing the package replaced GoMLX's registration.
func TestDotGeneralVJPInstalled(t *testing.T) {
	got := fmt.Sprintf("%p", graph.VJPRegistration[graph.NodeTypeDotGeneral])
	require.Equal(t, fmt.Sprintf("%p", graph.VJP(gradients.DotGeneralVJP)), got)
	require.NotEqual(t, fmt.Sprintf("%p", gradients.StockDotGeneralVJP), got)
}

// TestDotGeneralVJPFloat32 checks the float32 path against float64 (dtype kept, values close:
// within 1e-5, or golden.TF32GradTol where float32 matmuls run in TF32, as XLA runs them on a GPU).
func TestDotGeneralVJPFloat32(t *testing.T) {
	l := layouts[4]
	rng := rand.New(rand.NewPCG(42, 7))
	lhs, rhs := randTensor(rng, l.lhsDims), randTensor(rng, l.rhsDims)
	w := randTensor(rng, outputDims(t, l))
	dl64, dr64 := dotGeneralGradients(t, l, gradients.DotGeneralVJP, lhs, rhs, w)
	exec, err := graph.NewExec(backend.MustShared(), func(lhs, rhs, w *graph.Node) []*graph.Node {
		lhs, rhs, w = graph.ConvertDType(lhs, dtypes.Float32), graph.ConvertDType(rhs, dtypes.Float32), graph.ConvertDType(w, dtypes.Float32)
		return graph.Gradient(lossFn(l)(lhs, rhs, w), lhs, rhs)
	})
	require.NoError(t, err)
	outs := exec.MustExec(lhs, rhs, w)
	require.Equal(t, dtypes.Float32, outs[0].DType())
	_, tol := golden.Tol(backend.MustShared(), dtypes.Float32, 1e-5, 1e-5)
	for i, want := range [][]float64{dl64, dr64} {
		got := tensors.MustCopyFlatData[float32](outs[i])
		for k := range want {
			require.InDelta(t, want[k], float64(got[k]), tol*math.Max(1, math.Abs(want[k])))
		}
	}
}
