package purego_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/purego"
)

// TestUnaryOpsMatchStock compares the replaced float32 unary ops with simplego's own, bit for bit
// (NaN for NaN), on random shapes and values (NaN, ±Inf, ±0 and values past exp's float32 range
// among them), with the operand a parameter (a new output) and an intermediate result the executor
// owns (the output takes its place); bfloat16 operands must stay simplego's.
func TestUnaryOpsMatchStock(t *testing.T) {
	if err := purego.UnaryInstalled(); err != nil {
		t.Skip(err) // TestOpsInstalled says why
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(27, 28))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
		float32(math.Copysign(0, -1)), -200, 200, 88.72284, -103.97209, 0.625, -44.1}
	ops := map[string]func(x *graph.Node) *graph.Node{"Exp": graph.Exp, "Logistic": graph.Logistic, "Tanh": graph.Tanh, "Erf": graph.Erf}
	for i := range 42 {
		dims := randomDims(rng)
		if i >= 40 { // large enough to be split between goroutines
			dims = []int{3, 70001 + i}
		}
		size := 1
		for _, d := range dims {
			size *= d
		}
		v := make([]float32, size)
		for k := range v {
			v[k] = float32(rng.NormFloat64() * 30)
			if rng.IntN(30) == 0 {
				v[k] = special[rng.IntN(len(special))]
			}
		}
		x := tensors.FromFlatDataAndDimensions(v, dims...)
		for name, op := range ops {
			graphs := map[string]func(x *graph.Node) *graph.Node{
				"":       op,
				"/owned": func(x *graph.Node) *graph.Node { return op(graph.MulScalar(x, 1)) },
			}
			for variant, fn := range graphs {
				label := fmt.Sprintf("%d/%s%s %v", i, name, variant, dims)
				uses0, reuses0 := purego.UnaryUses()
				got := graph.MustExecOnce(b, fn, x)
				uses1, reuses1 := purego.UnaryUses()
				var want *tensors.Tensor
				purego.WithStockOps(func() { want = graph.MustExecOnce(b, fn, x) })
				uses2, _ := purego.UnaryUses()
				requireSameBits(t, label, got, want, v)
				require.Equal(t, uses0+1, uses1, "%s: the replacement ran once", label)
				require.Equal(t, variant == "/owned", reuses1 > reuses0, "%s: the output took the owned operand's place", label)
				require.Equal(t, uses1, uses2, "%s: WithStockOps ran simplego's", label)
			}
		}
	}
	// bfloat16 stays simplego's.
	uses0, _ := purego.UnaryUses()
	xb := tensors.FromValue([]float32{-1, 0.5, 3})
	got := graph.MustExecOnce(b, func(x *graph.Node) *graph.Node {
		return graph.ConvertDType(graph.Exp(graph.ConvertDType(x, dtypes.BFloat16)), dtypes.Float32)
	}, xb)
	uses1, _ := purego.UnaryUses()
	require.Equal(t, uses0, uses1, "a bfloat16 Exp went to the replacement")
	require.InDeltaSlice(t, []float32{0.3679, 1.6487, 20.0855}, tensors.MustCopyFlatData[float32](got), 0.1)
}

// TestScalarBinaryOpsMatchStock: each binary op with a rank-0 scalar on either side of a [7, 40]
// operand (NaNs, infinities and signed zeros in both), the operand a parameter or an owned
// intermediate, against simplego's own, bit for bit (NaN for NaN), and run by the scalar path.
func TestScalarBinaryOpsMatchStock(t *testing.T) {
	if err := purego.BinaryInstalled(); err != nil {
		t.Skip(err)
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(29, 30))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	v := make([]float32, 7*40)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * 10)
		if rng.IntN(10) == 0 {
			v[i] = special[rng.IntN(len(special))]
		}
	}
	x := tensors.FromFlatDataAndDimensions(v, 7, 40)
	ops := map[string]func(x, y *graph.Node) *graph.Node{
		"Add": graph.Add, "Sub": graph.Sub, "Mul": graph.Mul, "Div": graph.Div, "Max": graph.Max, "Min": graph.Min,
	}
	for name, op := range ops {
		for _, c := range append([]float32{2.5, -0.75}, special...) {
			for _, left := range []bool{false, true} {
				for _, owned := range []bool{false, true} {
					fn := func(x *graph.Node) *graph.Node {
						if owned {
							x = graph.MulScalar(x, 1)
						}
						s := graph.Scalar(x.Graph(), dtypes.Float32, c)
						if left {
							return op(s, x)
						}
						return op(x, s)
					}
					label := fmt.Sprintf("%s c=%g left=%v owned=%v", name, c, left, owned)
					before := purego.ScalarUses()
					got := graph.MustExecOnce(b, fn, x)
					ran := purego.ScalarUses() - before
					var want *tensors.Tensor
					purego.WithStockOps(func() { want = graph.MustExecOnce(b, fn, x) })
					requireSameBits(t, label, got, want, v)
					require.GreaterOrEqual(t, ran, int64(1), "%s: the scalar path ran", label)
				}
			}
		}
	}
}
