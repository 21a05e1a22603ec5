package purego_test

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/purego"
)

// executorLayouts are the DotGenerals of a model, each with the kernel the executor must pick
// (0 DotNT, 1 DotKN with a in rows, 2 DotKN with a in columns).
var executorLayouts = []struct {
	layout
	kernel int
}{
	{layout{"x_times_W", []int{5, 7, 40}, []int{40, 48}, []int{2}, nil, []int{0}, nil}, 1},
	{layout{"weight_gradient", []int{5, 7, 40}, []int{5, 7, 48}, []int{0, 1}, nil, []int{0, 1}, nil}, 2},
	{layout{"input_gradient", []int{5, 7, 48}, []int{40, 48}, []int{2}, nil, []int{1}, nil}, 0},
	{layout{"narrow_output", []int{9, 40}, []int{40, 8}, []int{1}, nil, []int{0}, nil}, 0},
	{layout{"batched_columns", []int{3, 20, 33}, []int{3, 20, 17}, []int{1}, []int{0}, []int{1}, []int{0}}, 2},
	{layout{"attention_scores", []int{2, 37, 3, 20}, []int{2, 41, 3, 20}, []int{3}, []int{0, 2}, []int{3}, []int{0, 2}}, 0},
	{layout{"lhs_columns_rhs_rows", []int{30, 12}, []int{20, 30}, []int{0}, nil, []int{1}, nil}, 0},
	{layout{"axes_of_size_1", []int{1, 6, 1, 24}, []int{24, 1, 32}, []int{3}, nil, []int{0}, nil}, 1},
	{layout{"two_contracting_permuted", []int{13, 4, 5}, []int{5, 4, 21}, []int{1, 2}, nil, []int{1, 0}, nil}, 0},
	{layout{"rows_split", []int{301, 192}, []int{192, 77}, []int{1}, nil, []int{0}, nil}, 1},
	{layout{"rnn_weight_gradient_batch_4", []int{4, 240}, []int{4, 96}, []int{0}, nil, []int{0}, nil}, 2},
}

// TestDotGeneralExecutor runs the float32 DotGenerals of a model's layouts through the replaced
// executor and compares them with the same products in float64 (simplego's own executor), checking
// that each took the kernel its layout calls for.
func TestDotGeneralExecutor(t *testing.T) {
	if err := purego.DotInstalled(); err != nil {
		t.Skip(err) // TestInstalled says why
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(31, 32))
	for _, l := range executorLayouts {
		t.Run(l.name, func(t *testing.T) {
			lhs64, rhs64 := random(rng, l.lhsDims), random(rng, l.rhsDims)
			lhs32, rhs32 := toFloat32(lhs64), toFloat32(rhs64)
			before := purego.DotUses()
			got := graph.MustExecOnce(b, l.dot,
				tensors.FromFlatDataAndDimensions(lhs32, l.lhsDims...), tensors.FromFlatDataAndDimensions(rhs32, l.rhsDims...))
			after := purego.DotUses()
			for kernel := range after {
				want := before[kernel]
				if kernel == l.kernel {
					want++
				}
				require.Equal(t, want, after[kernel], "products run with kernel %d (want kernel %d)", kernel, l.kernel)
			}
			requireNearFloat64(t, b, l.layout, got, lhs64, rhs64)
		})
	}
}

// TestDotGeneralExecutorBFloat16 runs bfloat16 DotGenerals of the same layouts through the executor
// (operands widened to float32, summed there, truncated back as simplego does) and through
// simplego's own executor: the float32 sums differ only in their order, so the results may differ by
// one bfloat16 step where a sum lies next to a truncation boundary, and by no more.
func TestDotGeneralExecutorBFloat16(t *testing.T) {
	if err := purego.DotInstalled(); err != nil {
		t.Skip(err)
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(33, 34))
	toBF16 := func(x []float64) []bfloat16.BFloat16 {
		y := make([]bfloat16.BFloat16, len(x))
		for i := range x {
			y[i] = bfloat16.FromFloat64(x[i])
		}
		return y
	}
	for _, l := range executorLayouts {
		t.Run(l.name, func(t *testing.T) {
			lhs, rhs := toBF16(random(rng, l.lhsDims)), toBF16(random(rng, l.rhsDims))
			args := []any{tensors.FromFlatDataAndDimensions(lhs, l.lhsDims...), tensors.FromFlatDataAndDimensions(rhs, l.rhsDims...)}
			before := purego.DotUses()
			got := graph.MustExecOnce(b, l.dot, args...)
			after := purego.DotUses()
			require.Equal(t, before[l.kernel]+1, after[l.kernel], "the product ran with kernel %d", l.kernel)
			var want *tensors.Tensor
			purego.WithStockDot(func() { want = graph.MustExecOnce(b, l.dot, args...) })
			require.Equal(t, dtypes.BFloat16, got.DType())
			require.Equal(t, want.Shape().Dimensions, got.Shape().Dimensions)
			g, w := tensors.MustCopyFlatData[bfloat16.BFloat16](got), tensors.MustCopyFlatData[bfloat16.BFloat16](want)
			steps := 0
			for i := range g {
				d := int(g[i].Bits()) - int(w[i].Bits())
				if d < -1 || d > 1 {
					t.Fatalf("element %d: %g, simplego's %g (more than one bfloat16 step apart)", i, g[i].Float32(), w[i].Float32())
				}
				steps += d * d
			}
			t.Logf("%d of %d elements one step from simplego's", steps, len(g))
		})
	}
}

// TestDotGeneralExecutorIndependentOfCPUs runs products large enough to be split among goroutines
// (by rows when the batch is small) at several GOMAXPROCS and requires the same bits: each
// goroutine writes its own rows, in tiles aligned the same way whatever the split.
func TestDotGeneralExecutorIndependentOfCPUs(t *testing.T) {
	if err := purego.DotInstalled(); err != nil {
		t.Skip(err)
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(35, 36))
	for _, l := range []layout{
		{"rows_kn", []int{301, 192}, []int{192, 77}, []int{1}, nil, []int{0}, nil},
		{"columns_kn", []int{190, 301}, []int{190, 77}, []int{0}, nil, []int{0}, nil},
		{"rows_nt", []int{301, 192}, []int{77, 192}, []int{1}, nil, []int{1}, nil},
		{"batched_nt", []int{3, 101, 128}, []int{3, 90, 128}, []int{2}, []int{0}, []int{2}, []int{0}},
	} {
		lhs, rhs := toFloat32(random(rng, l.lhsDims)), toFloat32(random(rng, l.rhsDims))
		var first []float32
		for _, procs := range []int{1, 2, 3, 8} {
			prev := runtime.GOMAXPROCS(procs)
			got := graph.MustExecOnce(b, l.dot,
				tensors.FromFlatDataAndDimensions(lhs, l.lhsDims...), tensors.FromFlatDataAndDimensions(rhs, l.rhsDims...))
			runtime.GOMAXPROCS(prev)
			g := tensors.MustCopyFlatData[float32](got)
			if first == nil {
				first = g
				continue
			}
			require.Equal(t, first, g, "%s: GOMAXPROCS=%d gave other bits than GOMAXPROCS=1", l.name, procs)
		}
	}
}
