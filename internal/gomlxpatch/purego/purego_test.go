package purego_test

import (
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/purego"
)

// TestInstalled fails when the kernels could not be installed: after a GoMLX upgrade that moved
// what this package reaches into, it says what changed.
func TestInstalled(t *testing.T) {
	if os.Getenv(purego.StockEnvVar) != "" {
		t.Skipf("%s is set", purego.StockEnvVar)
	}
	if err := purego.Installed(); err != nil {
		t.Fatalf("float32 kernels not installed: %v", err)
	}
	if err := purego.DotInstalled(); err != nil {
		t.Fatalf("float32 DotGeneral executor not installed: %v", err)
	}
	if runtime.GOARCH == "amd64" {
		t.Logf("AVX2/FMA assembly: %v", purego.Accelerated())
	}
}

type layout struct {
	name                  string
	lhsDims, rhsDims      []int
	lhsContract, lhsBatch []int
	rhsContract, rhsBatch []int
}

// dot is the layout's DotGeneral.
func (l layout) dot(lhs, rhs *graph.Node) *graph.Node {
	return graph.DotGeneral(lhs, l.lhsContract, l.lhsBatch, rhs, l.rhsContract, l.rhsBatch)
}

// newSimplego is GoMLX's pure-Go backend itself (not through package backend, whose
// BITTER_EMULATE_TF32 would round the operands), finalized when the test ends.
func newSimplego(t *testing.T, config string) backends.Backend {
	t.Helper()
	b, err := simplego.New(config)
	require.NoError(t, err)
	t.Cleanup(b.Finalize)
	return b
}

var layouts = []layout{
	{"attention_scores", []int{2, 37, 3, 20}, []int{2, 41, 3, 20}, []int{3}, []int{0, 2}, []int{3}, []int{0, 2}},
	{"two_contracting_permuted", []int{13, 4, 5}, []int{5, 4, 11}, []int{1, 2}, nil, []int{1, 0}, nil},
	{"matmul", []int{150, 70}, []int{70, 130}, []int{1}, nil, []int{0}, nil},
	{"weight_gradient", []int{300, 150}, []int{300, 131}, []int{0}, nil, []int{0}, nil},
	{"batch_axes_reordered", []int{2, 140, 3, 33}, []int{3, 150, 2, 33}, []int{3}, []int{0, 2}, []int{3}, []int{2, 0}},
	// Large enough (2·m·n·k ≥ 2^22) for the small-product path to split the rows among goroutines.
	{"rows_split", []int{301, 192}, []int{192, 77}, []int{1}, nil, []int{0}, nil},
}

func random(rng *rand.Rand, dims []int) []float64 {
	size := 1
	for _, d := range dims {
		size *= d
	}
	x := make([]float64, size)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// toFloat32 rounds x to float32 and leaves x holding the rounded values, so both precisions
// multiply the same numbers.
func toFloat32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i := range x {
		y[i] = float32(x[i])
		x[i] = float64(y[i])
	}
	return y
}

// requireNearFloat64 computes layout l's DotGeneral of lhs64 and rhs64 in float64 on b (GoMLX's
// own kernels) and requires got, the float32 product of the same (float32-rounded) operands, to be
// within float32 rounding of it.
func requireNearFloat64(t *testing.T, b backends.Backend, l layout, got *tensors.Tensor, lhs64, rhs64 []float64) {
	t.Helper()
	want := graph.MustExecOnce(b, l.dot,
		tensors.FromFlatDataAndDimensions(lhs64, l.lhsDims...), tensors.FromFlatDataAndDimensions(rhs64, l.rhsDims...))
	require.Equal(t, dtypes.Float32, got.DType())
	require.Equal(t, want.Shape().Dimensions, got.Shape().Dimensions)
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float64](want)
	contract := 1
	for _, a := range l.lhsContract {
		contract *= l.lhsDims[a]
	}
	// Terms are products of two standard normals: the sum's float32 error grows like √k.
	tol := 1e-6 * float64(contract)
	for i := range g {
		if d := math.Abs(float64(g[i]) - w[i]); d > tol {
			t.Fatalf("element %d: float32 %g, float64 %g (|diff| %g > %g)", i, g[i], w[i], d, tol)
		}
	}
}

// TestDotGeneralAgainstFloat64 runs float32 DotGenerals through both of simplego's paths (so through
// both replaced kernels) and compares them with the same DotGeneral in float64, which GoMLX's own
// kernels compute.
func TestDotGeneralAgainstFloat64(t *testing.T) {
	if err := purego.Installed(); err != nil {
		t.Skip(err)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for _, path := range []string{"dotgeneral_large", "dotgeneral_small"} {
		// simplego itself, not through package backend: BITTER_EMULATE_TF32 would round the operands.
		b := newSimplego(t, "parallelism=-1,"+path)
		for _, l := range layouts {
			t.Run(path+"/"+l.name, func(t *testing.T) {
				lhs64, rhs64 := random(rng, l.lhsDims), random(rng, l.rhsDims)
				lhs32, rhs32 := toFloat32(lhs64), toFloat32(rhs64)
				block0, small0 := purego.Uses()
				var got *tensors.Tensor
				purego.WithStockDot(func() { // simplego's paths, into the replaced kernels
					got = graph.MustExecOnce(b, l.dot,
						tensors.FromFlatDataAndDimensions(lhs32, l.lhsDims...), tensors.FromFlatDataAndDimensions(rhs32, l.rhsDims...))
				})
				block1, small1 := purego.Uses()
				if path == "dotgeneral_large" {
					require.Equal(t, block0+1, block1, "the block kernel's builder ran once")
				} else {
					require.Greater(t, small1, small0, "the small-product kernel ran (once per slice of the batch)")
				}
				requireNearFloat64(t, b, l, got, lhs64, rhs64)
			})
		}
	}
}
