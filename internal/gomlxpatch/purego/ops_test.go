package purego_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/purego"
)

// TestOpsInstalled fails when the layout ops or the broadcasting binary ops could not be installed
// (after a GoMLX upgrade that moved what they reach into, it says what changed), unless
// BITTER_STOCK_OPS asks for GoMLX's own.
func TestOpsInstalled(t *testing.T) {
	if os.Getenv(purego.StockOpsEnvVar) != "" {
		t.Skipf("%s is set", purego.StockOpsEnvVar)
	}
	if err := purego.OpsInstalled(); err != nil {
		t.Fatalf("reductions, transpositions and broadcasts not installed: %v", err)
	}
	if err := purego.BinaryInstalled(); err != nil {
		t.Fatalf("broadcasting binary ops not installed: %v", err)
	}
	if err := purego.UnaryInstalled(); err != nil {
		t.Fatalf("unary ops not installed: %v", err)
	}
}

// opCase is one random layout op: a graph on one operand, and which replaced op it must run.
type opCase struct {
	name string
	dims []int
	fn   func(x *graph.Node) *graph.Node
	use  int // 0 reduce, 1 transpose, 2 broadcast, 3 slice
}

// randomDims draws a rank and dimensions, with axes of size 1 often enough to exercise merging.
func randomDims(rng *rand.Rand) []int {
	dims := make([]int, 1+rng.IntN(5))
	for a := range dims {
		switch rng.IntN(4) {
		case 0:
			dims[a] = 1
		case 1:
			dims[a] = 2 + rng.IntN(30)
		default:
			dims[a] = 2 + rng.IntN(6)
		}
	}
	return dims
}

func randomOpCases(rng *rand.Rand, n int) []opCase {
	var cases []opCase
	for i := range n {
		dims := randomDims(rng)
		rank := len(dims)
		var axes []int // a non-empty subset (no axes at all would mean every axis to GoMLX)
		for len(axes) == 0 {
			axes = axes[:0]
			for a := range rank {
				if rng.IntN(2) == 0 {
					axes = append(axes, a)
				}
			}
		}
		perm := rng.Perm(rank)
		// ExpandAndBroadcast: new axes inserted at random, and the operand's own axes either kept or
		// of size 1 and broadcast.
		newRank := rank + rng.IntN(3)
		expanded := rng.Perm(newRank)[:newRank-rank]
		isNew := make([]bool, newRank)
		for _, a := range expanded {
			isNew[a] = true
		}
		var newDims, xDims []int
		for a := range newRank {
			d := 1 + rng.IntN(7)
			newDims = append(newDims, d)
			if !isNew[a] {
				if rng.IntN(3) == 0 {
					d = 1
				}
				xDims = append(xDims, d)
			}
		}
		// Slice: per axis a random range and step (the whole axis, often).
		spec := make([]graph.SliceAxisSpec, rank)
		for a, d := range dims {
			start := rng.IntN(d)
			end := start + 1 + rng.IntN(d-start)
			if rng.IntN(3) == 0 {
				start, end = 0, d
			}
			spec[a] = graph.AxisRange(start, end).Stride(1 + rng.IntN(3)*rng.IntN(2))
		}
		cases = append(cases,
			opCase{fmt.Sprintf("%d/Slice%v%v", i, dims, spec), dims, func(x *graph.Node) *graph.Node { return graph.Slice(x, spec...) }, 3},
			opCase{fmt.Sprintf("%d/ReduceSum%v%v", i, dims, axes), dims, func(x *graph.Node) *graph.Node { return graph.ReduceSum(x, axes...) }, 0},
			opCase{fmt.Sprintf("%d/ReduceMax%v%v", i, dims, axes), dims, func(x *graph.Node) *graph.Node { return graph.ReduceMax(x, axes...) }, 0},
			opCase{fmt.Sprintf("%d/Transpose%v%v", i, dims, perm), dims, func(x *graph.Node) *graph.Node { return graph.TransposeAllDims(x, perm...) }, 1},
			opCase{fmt.Sprintf("%d/Broadcast%v->%v", i, xDims, newDims), xDims,
				func(x *graph.Node) *graph.Node { return graph.ExpandAndBroadcast(x, newDims, expanded) }, 2})
	}
	return cases
}

// the layouts of a training step, at sizes where the tiled and blocked paths engage.
var stepOpCases = []opCase{
	{"softmax_max", []int{2, 4, 67, 67}, func(x *graph.Node) *graph.Node { return graph.ReduceMax(x, 3) }, 0},
	{"softmax_sum", []int{2, 4, 67, 67}, func(x *graph.Node) *graph.Node { return graph.ReduceSum(x, 3) }, 0},
	{"bias_gradient", []int{9, 70, 130}, func(x *graph.Node) *graph.Node { return graph.ReduceSum(x, 0, 1) }, 0},
	{"layernorm_mean", []int{9, 70, 130}, func(x *graph.Node) *graph.Node { return graph.ReduceSum(x, 2) }, 0},
	{"heads_split", []int{3, 70, 4, 32}, func(x *graph.Node) *graph.Node { return graph.TransposeAllDims(x, 0, 2, 1, 3) }, 1},
	{"matrix_transpose", []int{130, 97}, func(x *graph.Node) *graph.Node { return graph.TransposeAllDims(x, 1, 0) }, 1},
	{"batched_transpose", []int{5, 67, 45}, func(x *graph.Node) *graph.Node { return graph.TransposeAllDims(x, 0, 2, 1) }, 1},
	{"large_transpose", []int{300, 260}, func(x *graph.Node) *graph.Node { return graph.TransposeAllDims(x, 1, 0) }, 1},
	{"row_broadcast", []int{9, 70, 1}, func(x *graph.Node) *graph.Node { return graph.BroadcastToDims(x, 9, 70, 130) }, 2},
	{"bias_broadcast", []int{130}, func(x *graph.Node) *graph.Node { return graph.ExpandAndBroadcast(x, []int{9, 70, 130}, []int{0, 1}) }, 2},
	{"causal_block_keys", []int{2, 200, 4, 32}, func(x *graph.Node) *graph.Node { return graph.Slice(x, graph.AxisRange(), graph.AxisRange(0, 128)) }, 3},
	{"causal_block_queries", []int{2, 200, 4, 32}, func(x *graph.Node) *graph.Node { return graph.Slice(x, graph.AxisRange(), graph.AxisRange(64, 128)) }, 3},
	{"last_position", []int{3, 70, 130}, func(x *graph.Node) *graph.Node { return graph.Slice(x, graph.AxisRange(), graph.AxisRange(69, 70)) }, 3},
}

// TestLayoutOpsMatchStock runs reductions, transpositions, broadcasts and slices of random layouts on both
// the replaced ops and simplego's own, and requires the same bits (operands include NaNs, infinities
// and signed zeros, so that a max or a sum that took its elements in another order would show).
func TestLayoutOpsMatchStock(t *testing.T) {
	if err := purego.OpsInstalled(); err != nil {
		t.Skip(err)
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(21, 22))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	cases := append(randomOpCases(rng, 150), stepOpCases...)
	for _, c := range cases {
		size := 1
		for _, d := range c.dims {
			size *= d
		}
		x := make([]float32, size)
		for i := range x {
			// Magnitudes over several decades, so that float32 sums round differently in another order.
			x[i] = float32(rng.NormFloat64() * math.Pow(10, 3*rng.Float64()))
			if rng.IntN(200) == 0 {
				x[i] = special[rng.IntN(len(special))]
			}
		}
		operand := tensors.FromFlatDataAndDimensions(x, c.dims...)
		var before, after [4]int64
		before[0], before[1], before[2], before[3] = purego.OpUses()
		got := graph.MustExecOnce(b, c.fn, operand)
		after[0], after[1], after[2], after[3] = purego.OpUses()
		var want *tensors.Tensor
		purego.WithStockOps(func() { want = graph.MustExecOnce(b, c.fn, operand) })
		requireSameBits(t, c.name, got, want, nil)
		// A broadcast of one element is a fill, which simplego's own function still does.
		if after[c.use] == before[c.use] && !(c.use == 2 && size == 1) {
			t.Fatalf("%s: the replaced op did not run", c.name)
		}
	}
}

// TestBroadcastOtherDTypes checks the int32 and bool broadcasts (masks, positions) against stock.
func TestBroadcastOtherDTypes(t *testing.T) {
	if err := purego.OpsInstalled(); err != nil {
		t.Skip(err)
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(23, 24))
	ints := make([]int32, 5*7)
	bools := make([]bool, 5*7)
	for i := range ints {
		ints[i], bools[i] = rng.Int32(), rng.IntN(2) == 0
	}
	for _, operand := range []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(ints, 5, 1, 7), tensors.FromFlatDataAndDimensions(bools, 5, 1, 7),
	} {
		fn := func(x *graph.Node) *graph.Node { return graph.ExpandAndBroadcast(x, []int{3, 5, 4, 7}, []int{0}) }
		_, _, before, _ := purego.OpUses()
		got := graph.MustExecOnce(b, fn, operand)
		_, _, after, _ := purego.OpUses()
		require.Greater(t, after, before, "the replaced broadcast ran for %s", operand.DType())
		var want *tensors.Tensor
		purego.WithStockOps(func() { want = graph.MustExecOnce(b, fn, operand) })
		require.Equal(t, want.Value(), got.Value())
	}
}

// TestBroadcastingBinaryOpsMatchStock runs the six replaced binary ops on float32 operands of
// random broadcast shapes (equal ones among them, which Add, Sub, Mul and Div take to AVX2 from 32
// elements, and one-element ones) against simplego's own, bit for bit (NaN for NaN), in both operand
// orders and with the output taking the place of either operand (an intermediate result the
// executor owns, of the output's shape).
func TestBroadcastingBinaryOpsMatchStock(t *testing.T) {
	if err := purego.BinaryInstalled(); err != nil {
		t.Skip(err) // TestOpsInstalled says why
	}
	b := newSimplego(t, "parallelism=-1")
	rng := rand.New(rand.NewPCG(25, 26))
	ops := map[string]func(x, y *graph.Node) *graph.Node{
		"Add": graph.Add, "Sub": graph.Sub, "Mul": graph.Mul, "Div": graph.Div, "Max": graph.Max, "Min": graph.Min,
	}
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1))}
	fill := func(dims []int) *tensors.Tensor {
		size := 1
		for _, d := range dims {
			size *= d
		}
		x := make([]float32, size)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
			if rng.IntN(50) == 0 {
				x[i] = special[rng.IntN(len(special))]
			}
		}
		return tensors.FromFlatDataAndDimensions(x, dims...)
	}
	for i := range 60 {
		outDims := randomDims(rng)
		xDims, yDims := slices.Clone(outDims), slices.Clone(outDims)
		for a := range outDims { // each axis: broadcast in x, in y, or in neither
			switch rng.IntN(3) {
			case 0:
				xDims[a] = 1
			case 1:
				yDims[a] = 1
			}
		}
		x, y := fill(xDims), fill(yDims)
		for name, op := range ops {
			graphs := map[string]func(x, y *graph.Node) *graph.Node{
				"":         op,
				"/swapped": func(x, y *graph.Node) *graph.Node { return op(y, x) },
				"/owned_lhs": func(x, y *graph.Node) *graph.Node {
					return op(graph.Neg(graph.Neg(graph.BroadcastToDims(x, outDims...))), y)
				},
				"/owned_rhs": func(x, y *graph.Node) *graph.Node {
					return op(y, graph.Neg(graph.Neg(graph.BroadcastToDims(x, outDims...))))
				},
			}
			for variant, fn := range graphs {
				label := fmt.Sprintf("%d/%s%s %v %v", i, name, variant, xDims, yDims)
				uses0, reuses0 := purego.BinaryUses()
				equal0 := purego.EqualUses()
				got := graph.MustExecOnce(b, fn, x, y)
				uses1, reuses1 := purego.BinaryUses()
				ran, reused, ranEqual := uses1 > uses0, reuses1 > reuses0, purego.EqualUses() > equal0
				var want *tensors.Tensor
				purego.WithStockOps(func() { want = graph.MustExecOnce(b, fn, x, y) })
				requireSameBits(t, label, got, want, nil)
				// Operands of one shape are simplego's own loops for Max and Min and below 32 elements,
				// and run in AVX2 otherwise; a one-element operand against a larger one runs here from
				// 32 elements of output, two of one element are simplego's.
				owned := variant == "/owned_lhs" || variant == "/owned_rhs"
				xSize, ySize, outSize := x.Shape().Size(), y.Shape().Size(), got.Shape().Size()
				if owned {
					xSize = outSize // x broadcast to the output's shape
				}
				same := slices.Equal(xDims, yDims)
				if owned {
					same = slices.Equal(outDims, yDims)
				}
				one := xSize == 1 || ySize == 1
				scalar := (xSize == 1) != (ySize == 1) && outSize >= 32
				differ := !same && !one
				simd := same && name != "Max" && name != "Min" && outSize >= 32
				require.Equal(t, differ || scalar, ran, "%s: the broadcasting or scalar replacement ran", label)
				require.Equal(t, simd, ranEqual, "%s: the equal-shape replacement ran", label)
				require.Equal(t, (differ || simd || scalar) && owned, reused, "%s: the output took the owned operand's place", label)
			}
		}
	}
}

// requireSameBits fails unless got has want's shape and its values bit for bit, NaN wherever want
// has NaN (Go leaves a NaN's payload to the hardware and the order of an add's operands to the
// compiler). in, when not nil, is the elementwise operand, named in the failure.
func requireSameBits(t *testing.T, label string, got, want *tensors.Tensor, in []float32) {
	t.Helper()
	require.Equal(t, want.Shape(), got.Shape(), label)
	g, w := tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)
	for k := range w {
		if math.Float32bits(g[k]) != math.Float32bits(w[k]) && !(g[k] != g[k] && w[k] != w[k]) {
			if in != nil {
				t.Fatalf("%s: element %d (operand %g) is %g, simplego's %g", label, k, in[k], g[k], w[k])
			}
			t.Fatalf("%s: element %d is %g, simplego's %g", label, k, g[k], w[k])
		}
	}
}

// TestPinnedGoMLX fails when go.mod moves off the GoMLX release whose executor table binary.go
// writes into: test binaries carry no module list for the package to check itself.
func TestPinnedGoMLX(t *testing.T) {
	mod, err := os.ReadFile("../../../go.mod")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^\s*github\.com/gomlx/gomlx `+regexp.QuoteMeta(purego.GoMLXVersion)+`\s*$`, string(mod),
		"binary.go's executor table layout is only known for GoMLX %s", purego.GoMLXVersion)
}
