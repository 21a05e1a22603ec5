package attention_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/gradients"
	"github.com/bitterlesson/bitter/internal/testing/golden"
)

func randomFloat64(seed uint64, dims ...int) *tensors.Tensor {
	return randomNormal[float64](seed, 3, dims...)
}

// TestCausalBlocksEqualFullAttention: causal self-attention computed in query blocks (keys past
// each block skipped) gives the full computation's outputs and gradients with respect to q, k and v,
// in float64, for blocks that divide the sequence and ones that don't, with grouped-query heads; and
// its score matmuls do only the work of the blocks' key prefixes.
func TestCausalBlocksEqualFullAttention(t *testing.T) {
	const batch, seq, heads, kvHeads, dim = 2, 37, 4, 2, 8
	q := randomFloat64(1, batch, seq, heads, dim)
	k := randomFloat64(2, batch, seq, kvHeads, dim)
	v := randomFloat64(3, batch, seq, kvHeads, dim)
	w := randomFloat64(4, batch, seq, heads, dim) // the output's weights in the loss
	run := func(block int) (outs [][]float64, scoreFLOPs float64) {
		exec, err := graph.NewExec(backend.MustShared(), func(q, k, v, w *graph.Node) []*graph.Node {
			out := attention.ScaledDotProduct(q, k, v, attention.Causal(), attention.CausalBlock(block))
			// The forward pass's q·k products: matmuls of k or of a slice of it (before the gradient exists).
			isK := func(n *graph.Node) bool { return n == k || n.Type() == graph.NodeTypeSlice && n.Inputs()[0] == k }
			scoreFLOPs = 0
			for _, n := range q.Graph().Nodes() {
				if n.Type() == graph.NodeTypeDotGeneral && isK(n.Inputs()[1]) {
					scoreFLOPs += gradients.DotGeneralFLOPs(n)
				}
			}
			loss := graph.ReduceAllSum(graph.Mul(out, w))
			return append([]*graph.Node{out}, graph.Gradient(loss, q, k, v)...)
		})
		require.NoError(t, err)
		res, err := exec.Exec(q, k, v, w)
		require.NoError(t, err)
		for _, r := range res {
			outs = append(outs, golden.Float64s(r))
		}
		return outs, scoreFLOPs
	}
	full, fullFLOPs := run(0)
	require.InDelta(t, 2*float64(batch*heads*seq*seq*dim), fullFLOPs, 0.5, "q·k of the full scores")
	for _, block := range []int{1, 5, 16, 36, 37, 100} {
		t.Run(fmt.Sprint("block=", block), func(t *testing.T) {
			got, flops := run(block)
			for i, name := range []string{"output", "dq", "dk", "dv"} {
				largest := 0.0
				for _, x := range full[i] {
					largest = math.Max(largest, math.Abs(x))
				}
				for j := range full[i] {
					require.InDelta(t, full[i][j], got[i][j], 1e-12*largest, "%s[%d]", name, j)
				}
			}
			// Block b scores its queries against keys [0, end of block b).
			want := 0.0
			for s := 0; s < seq; s += block {
				e := min(seq, s+block)
				want += 2 * float64(batch*heads*(e-s)*e*dim)
			}
			require.InDelta(t, want, flops, 0.5, "q·k of the blocks' key prefixes")
			if block < seq {
				require.Less(t, flops, fullFLOPs)
			}
		})
	}
}

// TestDefaultCausalBlock: 64 on the pure-Go backend, none on XLA, and Kernels.CausalBlock over both
// (negative: none).
func TestDefaultCausalBlock(t *testing.T) {
	require.Equal(t, 64, attention.DefaultCausalBlock("go"))
	require.Equal(t, 0, attention.DefaultCausalBlock("xla"))
	for _, c := range []struct{ block, goBlock, xlaBlock int }{{0, 64, 0}, {256, 256, 256}, {-1, 0, 0}} {
		k := attention.Kernels{CausalBlock: c.block}
		require.Equal(t, c.goBlock, k.CausalBlockFor("go"), "CausalBlock %d on go", c.block)
		require.Equal(t, c.xlaBlock, k.CausalBlockFor("xla"), "CausalBlock %d on xla", c.block)
	}
	require.PanicsWithValue(t, "attention.CausalBlock: -1 must not be negative", func() { attention.CausalBlock(-1) })
}

// TestCausalBlocksByDefault: without CausalBlock, ScaledDotProduct uses DefaultCausalBlock of the
// graph's backend, by its String() ("go" for the pure-Go backend, whose Name() is "SimpleGo (go)").
func TestCausalBlocksByDefault(t *testing.T) {
	const seq = 150
	b := backend.MustShared()
	block := attention.DefaultCausalBlock(b.String())
	if b.String() == "go" {
		require.Equal(t, 64, block)
	}
	g := graph.NewGraph(b, "default")
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 1, seq, 1, 2))
	attention.ScaledDotProduct(x, x, x, attention.Causal())
	flops := 0.0
	for _, n := range g.Nodes() {
		if n.Type() == graph.NodeTypeDotGeneral && (n.Inputs()[1] == x || n.Inputs()[1].Type() == graph.NodeTypeSlice) {
			flops += gradients.DotGeneralFLOPs(n)
		}
	}
	want := 2.0 * seq * seq * 2 * 2 // q·k and p·v, unblocked
	if block > 0 {
		want = 0
		for s := 0; s < seq; s += block {
			e := min(seq, s+block)
			want += 2 * float64((e-s)*e*2) * 2
		}
	}
	require.InDelta(t, want, flops, 0.5)
}

// TestCausalSoftmaxEqualsTheGeneralPath: causal attention without other masks takes the plain
// softmax (one select, then max, exp, sum, divide: JAX's form); with an all-true mask added it takes
// the general masked path (zeroing selects and the empty-row guard). Outputs and gradients with
// respect to q, k and v are the same to rounding, in float64, for qLen = kvLen, for decoding
// (qLen < kvLen), and with an additive bias (ALiBi's case).
func TestCausalSoftmaxEqualsTheGeneralPath(t *testing.T) {
	const batch, heads, kvHeads, dim = 2, 4, 2, 8
	for _, tc := range []struct {
		name        string
		qLen, kvLen int
		bias        bool
	}{{"self", 23, 23, false}, {"decode", 5, 23, false}, {"bias", 23, 23, true}} {
		t.Run(tc.name, func(t *testing.T) {
			q := randomFloat64(11, batch, tc.qLen, heads, dim)
			k := randomFloat64(12, batch, tc.kvLen, kvHeads, dim)
			v := randomFloat64(13, batch, tc.kvLen, kvHeads, dim)
			w := randomFloat64(14, batch, tc.qLen, heads, dim)
			bias := randomFloat64(15, 1, heads, tc.qLen, tc.kvLen)
			run := func(general bool) [][]float64 {
				exec, err := graph.NewExec(backend.MustShared(), func(q, k, v, w, bias *graph.Node) []*graph.Node {
					opts := []attention.Option{attention.Causal(), attention.CausalBlock(0)}
					if tc.bias {
						opts = append(opts, attention.Bias(bias))
					}
					if general {
						all := graph.BroadcastToDims(graph.Const(q.Graph(), true), batch, heads, tc.qLen, tc.kvLen)
						opts = append(opts, attention.Mask(all))
					}
					out := attention.ScaledDotProduct(q, k, v, opts...)
					loss := graph.ReduceAllSum(graph.Mul(out, w))
					return append([]*graph.Node{out}, graph.Gradient(loss, q, k, v)...)
				})
				require.NoError(t, err)
				res, err := exec.Exec(q, k, v, w, bias)
				require.NoError(t, err)
				var outs [][]float64
				for _, r := range res {
					outs = append(outs, golden.Float64s(r))
				}
				return outs
			}
			plain, general := run(false), run(true)
			for i, name := range []string{"output", "dq", "dk", "dv"} {
				for j := range general[i] {
					require.InDelta(t, general[i][j], plain[i][j], 1e-12, "%s[%d]", name, j)
				}
			}
		})
	}
}

// TestAdditiveMaskEqualsBooleanMask: a Bias holding -inf on the keys a query must not see (the
// additive mask many models use) gives what Mask gives for the same keys with the finite part of the
// bias: outputs and gradients with respect to q, k, v and the bias, in float64, with no NaN where
// softmax's gradient meets the infinities. The bias's gradient is also checked against central
// differences, since the golden cases check only q, k and v.
func TestAdditiveMaskEqualsBooleanMask(t *testing.T) {
	const batch, qLen, kvLen, heads, kvHeads, dim = 2, 5, 7, 4, 2, 8
	q := randomFloat64(21, batch, qLen, heads, dim)
	k := randomFloat64(22, batch, kvLen, kvHeads, dim)
	v := randomFloat64(23, batch, kvLen, kvHeads, dim)
	w := randomFloat64(24, batch, qLen, heads, dim)
	bias := randomFloat64(25, 1, heads, qLen, kvLen)
	visible := make([]bool, qLen*kvLen) // query i sees key j when (i*3 + j*5) % 4 != 0, and always key i
	for i := range qLen {
		for j := range kvLen {
			visible[i*kvLen+j] = (i*3+j*5)%4 != 0 || j == i
		}
	}
	mask := tensors.FromFlatDataAndDimensions(visible, qLen, kvLen)
	exec, err := graph.NewExec(backend.MustShared(), func(q, k, v, w, bias, mask *graph.Node) []*graph.Node {
		loss := func(opts ...attention.Option) (*graph.Node, *graph.Node) {
			out := attention.ScaledDotProduct(q, k, v, opts...)
			return out, graph.ReduceAllSum(graph.Mul(out, w))
		}
		inf := graph.Scalar(q.Graph(), dtypes.Float64, math.Inf(-1))
		full := graph.BroadcastToDims(graph.Reshape(mask, 1, 1, qLen, kvLen), 1, heads, qLen, kvLen)
		additive, lossA := loss(attention.Bias(graph.Where(full, bias, inf)))
		boolean, lossB := loss(attention.Bias(bias), attention.Mask(mask))
		outs := []*graph.Node{additive, boolean, lossA}
		outs = append(outs, graph.Gradient(lossA, q, k, v, bias)...)
		return append(outs, graph.Gradient(lossB, q, k, v, bias)...)
	})
	require.NoError(t, err)
	res, err := exec.Exec(q, k, v, w, bias, mask)
	require.NoError(t, err)
	got := make([][]float64, len(res))
	for i, r := range res {
		got[i] = golden.Float64s(r)
		for j, x := range got[i] {
			require.False(t, math.IsNaN(x) || math.IsInf(x, 0), "output %d[%d] = %v", i, j, x)
		}
	}
	for i, name := range []string{"output", "dq", "dk", "dv", "dbias"} {
		a, b := got[0], got[1]
		if i > 0 {
			a, b = got[2+i], got[6+i]
		}
		for j := range a {
			require.InDelta(t, b[j], a[j], 1e-12, "%s[%d]", name, j)
		}
	}
	dbias := got[6]
	nonzero := 0
	for j := range dbias {
		if visible[j%(qLen*kvLen)] {
			nonzero++
		} else {
			require.Zero(t, dbias[j], "dbias[%d] of a masked key", j)
		}
	}
	require.Positive(t, nonzero)

	// Central differences of the additive-mask loss in each bias entry.
	const h = 1e-5
	flat := golden.Float64s(bias)
	for j := range flat {
		at := func(d float64) float64 {
			moved := append([]float64(nil), flat...)
			moved[j] += d
			r, err := exec.Exec(q, k, v, w, tensors.FromFlatDataAndDimensions(moved, bias.Shape().Dimensions...), mask)
			require.NoError(t, err)
			return golden.Float64s(r[2])[0]
		}
		require.InDelta(t, (at(h)-at(-h))/(2*h), dbias[j], 1e-7, "dbias[%d]", j)
	}
}
