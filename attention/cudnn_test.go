//go:build bitter_customcall

package attention_test

// Built by benchmarks/gpu.sh into its "customcall" set of programs; on a machine without a CUDA
// plugin it skips. To build it here:
//
//	go test -c -tags bitter_customcall -modfile "$(go run ./internal/gomlxpatch/customcall/cmd/modules /tmp/cc)" ./attention

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
	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

// TestCuDNNAttentionOnTheCard compares cuDNN's fused attention, on a CUDA plugin, with this
// library's own attention on the same bf16 inputs, both against the library's attention in float32
// on those inputs (itself checked against PyTorch by the golden tests): the output and the
// gradients of q, k and v for a random weighting of the output, causal and not, and with grouped-query
// heads. The fused kernel
// must be as close to the float32 reference as the library's bf16 attention is, give or take bf16
// rounding: relative error at most twice the library's bf16 one plus 0.005 (norms over the tensor).
func TestCuDNNAttentionOnTheCard(t *testing.T) {
	b := backend.MustShared()
	if b.Name() != "xla" || !customcall.CUDAPlugin(b.Description()) {
		t.Skipf("backend %s: cuDNN's attention needs XLA with a CUDA plugin", b.Description())
	}
	for _, tc := range []struct {
		batch, seq, heads, kvHeads, dim int
		causal                          bool
	}{
		{2, 256, 4, 4, 64, true},
		{2, 256, 4, 4, 64, false},
		{1, 1024, 12, 12, 64, true}, // GPT-2 small's attention, one sequence
		{2, 128, 2, 2, 128, true},
		{2, 256, 8, 2, 64, true}, // grouped-query heads
	} {
		name := fmt.Sprintf("B%d_T%d_N%d_H%d_causal=%v", tc.batch, tc.seq, tc.heads, tc.dim, tc.causal)
		if tc.kvHeads != tc.heads {
			name = fmt.Sprintf("B%d_T%d_N%d_KV%d_H%d_causal=%v", tc.batch, tc.seq, tc.heads, tc.kvHeads, tc.dim, tc.causal)
		}
		t.Run(name, func(t *testing.T) {
			dims := []int{tc.batch, tc.seq, tc.heads, tc.dim}
			kvDims := []int{tc.batch, tc.seq, tc.kvHeads, tc.dim}
			g := graph.NewGraph(b, "cudnn_"+name)
			param := func(name string, dims []int) *graph.Node {
				return graph.Parameter(g, name, shapes.Make(dtypes.Float32, dims...))
			}
			qp, kp, vp, wp := param("q", dims), param("k", kvDims), param("v", kvDims), param("w", dims)
			var opts []attention.Option
			if tc.causal {
				opts = append(opts, attention.Causal())
			}
			// attend returns the output and the gradients of ⟨output, w⟩ with respect to q, k, v, in float32.
			attend := func(dtype dtypes.DType, fused attention.CuDNN) []*graph.Node {
				q, k, v := graph.ConvertDType(qp, dtype), graph.ConvertDType(kp, dtype), graph.ConvertDType(vp, dtype)
				out := attention.ScaledDotProduct(q, k, v, append(opts, attention.FusedCuDNN(fused))...)
				loss := graph.ReduceAllSum(graph.Mul(graph.ConvertDType(out, dtypes.Float32), wp))
				grads := graph.Gradient(loss, q, k, v)
				res := []*graph.Node{out}
				res = append(res, grads...)
				for i := range res {
					res[i] = graph.ConvertDType(res[i], dtypes.Float32)
				}
				return res
			}
			before := len(g.Nodes())
			fused := attend(dtypes.BFloat16, attention.CuDNNAlways)
			calls := 0
			for _, n := range g.Nodes()[before:] {
				if customcall.Target(n) != "" && n.NumOutputs() > 1 {
					calls++
				}
			}
			require.Equal(t, 2, calls, "the fused forward and backward custom calls")
			ours := attend(dtypes.BFloat16, attention.CuDNNNever)
			ref := attend(dtypes.Float32, attention.CuDNNNever)
			outputs := append(append(append([]*graph.Node{}, fused...), ours...), ref...)
			g.Compile(outputs...)
			seed := uint64(tc.seq*1000 + tc.heads)
			// Inputs rounded to bf16 here, so that the float32 reference sees the bf16 path's values.
			in := func(stream uint64, scale float64, dims []int) *tensors.Tensor {
				x := randomNormal[float32](seed, stream, dims...)
				flat := tensors.MustCopyFlatData[float32](x)
				for i := range flat {
					flat[i] = float32(scale) * math.Float32frombits(math.Float32bits(flat[i])&0xffff0000)
				}
				return tensors.FromFlatDataAndDimensions(flat, dims...)
			}
			results := g.Run(in(1, 1, dims), in(2, 1, kvDims), in(3, 1, kvDims), in(4, 1, dims))
			flat := make([][]float32, len(results))
			for i, r := range results {
				flat[i] = tensors.MustCopyFlatData[float32](r)
			}
			relErr := func(x, want []float32) float64 {
				var num, den float64
				for i := range x {
					d := float64(x[i]) - float64(want[i])
					num += d * d
					den += float64(want[i]) * float64(want[i])
				}
				return math.Sqrt(num / den)
			}
			for i, what := range []string{"output", "dq", "dk", "dv"} {
				errFused, errOurs := relErr(flat[i], flat[8+i]), relErr(flat[4+i], flat[8+i])
				t.Logf("%s: relative error against float32: cuDNN %.2e, ours in bf16 %.2e", what, errFused, errOurs)
				require.False(t, math.IsNaN(errFused), "%s: NaN", what)
				require.LessOrEqual(t, errFused, 2*errOurs+0.005, "%s: cuDNN's fused attention is off", what)
			}
		})
	}
}
