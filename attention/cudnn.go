package attention

import (
	"encoding/json"
	"fmt"
	"sync/atomic"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

// cudnnBuilt counts the attentions built on the fused kernel in this process (CuDNNCalls).
var cudnnBuilt atomic.Int64

// CuDNNCalls returns how many attentions this process has built on cuDNN's fused kernel (see
// [CuDNN]), for programs to report which attention they measured.
func CuDNNCalls() int64 { return cudnnBuilt.Load() }

// cuDNN's custom-call targets, as XLA names them (xla/service/gpu/cublas_cudnn.h).
const (
	cudnnForward  = "__cudnn$fmhaSoftmax"
	cudnnBackward = "__cudnn$fmhaSoftmaxBackward"
)

// cudnnWanted reports whether the setting and g's backend ask for the fused kernel where it fits.
func cudnnWanted(g *graph.Graph, setting CuDNN) bool {
	if setting == CuDNNNever || !customcall.Built() || !customcall.Available(g) {
		return false // the kernel is not here, or not XLA (CuDNNAlways without custom calls fails Kernels.Validate)
	}
	return setting == CuDNNAlways || customcall.CUDAPlugin(g.Backend().Description())
}

// cudnnMisfit says why the attention of q, k, v with options o does not fit the fused kernel, or ""
// when it does.
func cudnnMisfit(q, k, v *graph.Node, o *options) string {
	qd, kd, vd := q.Shape().Dimensions, k.Shape().Dimensions, v.Shape().Dimensions
	switch {
	case q.DType() != dtypes.BFloat16 && q.DType() != dtypes.Float16:
		return fmt.Sprintf("dtype %s (cuDNN's fused attention takes bfloat16 or float16)", q.DType())
	case len(o.masks) > 0 || o.bias != nil:
		return "a Mask or Bias"
	case o.dropoutCtx != nil && o.dropoutRate > 0 && o.dropoutCtx.IsTraining(q.Graph()):
		return "Dropout while training"
	case vd[3] != qd[3] || qd[3] > 128 || qd[3]%8 != 0:
		return fmt.Sprintf("headDim %d, valueDim %d (both equal, at most 128 and a multiple of 8)", qd[3], vd[3])
	case o.causal && qd[1] != kd[1]:
		return fmt.Sprintf("causal with %d queries and %d keys", qd[1], kd[1])
	}
	return ""
}

// cudnnAttention is softmax(scale·q·kᵀ, causal)·v by cuDNN's fused kernel, with its backward as the
// gradient, for q, k, v [batch, seq, heads, headDim] that fit it (cudnnMisfit). The kernel's output
// and gradients are laid out [batch, heads, seq, headDim] with the seq axis major to the heads axis
// (layout {3, 1, 2, 0}), which is memory order [batch, seq, heads, headDim]: the transposes back to
// this library's layout cost nothing. This is how JAX calls it (jax/_src/cudnn/fused_attention_stablehlo.py).
func cudnnAttention(q, k, v *graph.Node, causal bool, scale float64) (*graph.Node, error) {
	g := q.Graph()
	qd, kd := q.Shape().Dimensions, k.Shape().Dimensions
	batch, qLen, heads, headDim := qd[0], qd[1], qd[2], qd[3]
	kvLen, kvHeads := kd[1], kd[2]
	dtype := q.DType()
	bnth := []int{3, 1, 2, 0} // [batch, heads, seq, headDim] in memory order [batch, seq, heads, headDim]
	workspace := shapes.Make(dtypes.Uint8, 0)
	toBTNH := func(x *graph.Node) *graph.Node { return graph.TransposeAllAxes(x, 0, 2, 1, 3) }

	backward := func(results, resultVJPs []*graph.Node) []*graph.Node {
		out, stats, dOut := toBTNH(results[0]), results[1], toBTNH(resultVJPs[0])
		if dOut.DType() != dtype {
			dOut = graph.ConvertDType(dOut, dtype)
		}
		grads, err := customcall.Call(g, customcall.Spec{
			Target:        cudnnBackward,
			BackendConfig: cudnnConfig(batch, heads, qLen, kvLen, dtype, scale, causal, true),
			OperandLayouts: [][]int{customcall.RowMajor(4), customcall.RowMajor(4), customcall.RowMajor(4),
				customcall.RowMajor(3), customcall.RowMajor(4), customcall.RowMajor(4)},
			ResultLayouts: [][]int{bnth, bnth, bnth, {0}},
			Results: []shapes.Shape{
				shapes.Make(dtype, batch, heads, qLen, headDim),
				shapes.Make(dtype, batch, kvHeads, kvLen, headDim),
				shapes.Make(dtype, batch, kvHeads, kvLen, headDim),
				workspace,
			},
		}, nil, q, k, v, stats, dOut, out)
		if err != nil {
			panic(fmt.Sprintf("attention: cuDNN's fused attention backward: %v", err))
		}
		return []*graph.Node{toBTNH(grads[0]), toBTNH(grads[1]), toBTNH(grads[2])}
	}
	results, err := customcall.Call(g, customcall.Spec{
		Target:         cudnnForward,
		BackendConfig:  cudnnConfig(batch, heads, qLen, kvLen, dtype, scale, causal, false),
		OperandLayouts: [][]int{customcall.RowMajor(4), customcall.RowMajor(4), customcall.RowMajor(4)},
		ResultLayouts:  [][]int{bnth, customcall.RowMajor(3), {0}},
		Results: []shapes.Shape{
			shapes.Make(dtype, batch, heads, qLen, headDim),
			shapes.Make(dtypes.Float32, batch, heads, qLen), // the softmax's log-sum-exp per query, for the backward
			workspace,
		},
	}, backward, q, k, v)
	if err != nil {
		return nil, err
	}
	return toBTNH(results[0]), nil
}

// cudnnConfig is the backend config of cuDNN's fused attention for XLA (its CudnnfMHABackendConfig,
// in the JSON form of the protocol buffer), as JAX (2025 on) writes it for flash attention with q, k, v in
// [batch, seq, heads, headDim]: BMM1 is q·kᵀ, BMM2 is P·v, and the backward's four products are
// named by what they make.
func cudnnConfig(batch, heads, qLen, kvLen int, dtype dtypes.DType, scale float64, causal, backward bool) string {
	type dims struct {
		LhsContracting []string `json:"lhs_contracting_dimensions"`
		RhsContracting []string `json:"rhs_contracting_dimensions"`
		LhsBatch       []string `json:"lhs_batch_dimensions"`
		RhsBatch       []string `json:"rhs_batch_dimensions"`
	}
	dot := func(lc, rc int, lb, rb [2]int) dims {
		s := fmt.Sprint
		return dims{[]string{s(lc)}, []string{s(rc)}, []string{s(lb[0]), s(lb[1])}, []string{s(rb[0]), s(rb[1])}}
	}
	elem := "BF16"
	if dtype == dtypes.Float16 {
		elem = "F16"
	}
	mask := "NO_MASK"
	if causal {
		mask = "CAUSAL"
	}
	cfg := map[string]any{
		"algorithm": map[string]any{
			"algo_id": "0", "math_type": "TENSOR_OP_MATH", "tuning_knobs": map[string]string{"17": "1", "24": "0"},
			"is_cudnn_frontend": true, "workspace_size": "0",
		},
		"fmha_scale":   scale,
		"dropout_rate": 0.0,
		"intermediate_tensor_shape": map[string]any{
			"element_type": elem,
			"dimensions":   []string{fmt.Sprint(batch), fmt.Sprint(heads), fmt.Sprint(qLen), fmt.Sprint(kvLen)},
			"tuple_shapes": []any{},
			"layout": map[string]any{
				"dim_level_types": []any{}, "dim_unique": []any{}, "dim_ordered": []any{},
				"minor_to_major": []string{"3", "2", "1", "0"}, "tiles": []any{},
				"element_size_in_bits": "0", "memory_space": "0",
				"index_primitive_type": "PRIMITIVE_TYPE_INVALID", "pointer_primitive_type": "PRIMITIVE_TYPE_INVALID",
				"dynamic_shape_metadata_prefix_bytes": "0",
			},
			"is_dynamic_dimension": []bool{false, false, false, false},
		},
		"seed":                  42,
		"is_flash_attention":    true,
		"mask_type":             mask,
		"sliding_window_length": 0,
		// Fields of newer XLA (2025 on; the card's JAX 0.11 is newer still), as JAX writes them: one
		// sequence per batch row (no packing), no paged KV cache.
		"max_seg_per_batch":  1,
		"is_paged_attention": false,
	}
	// Axes of q, k, v, O: [batch 0, seq 1, heads 2, headDim 3]; of P and dP: [batch, heads, qLen, kvLen].
	if backward {
		cfg["bmm1_grad_gemm1_dot_dimension_numbers"] = dot(2, 1, [2]int{0, 1}, [2]int{0, 2}) // dPᵀ·q → dK
		cfg["bmm1_grad_gemm2_dot_dimension_numbers"] = dot(3, 1, [2]int{0, 1}, [2]int{0, 2}) // dP·k → dQ
		cfg["bmm2_grad_gemm1_dot_dimension_numbers"] = dot(2, 1, [2]int{0, 1}, [2]int{0, 2}) // Pᵀ·dO → dV
		cfg["bmm2_grad_gemm2_dot_dimension_numbers"] = dot(3, 3, [2]int{0, 2}, [2]int{0, 2}) // dO·vᵀ → dP
	} else {
		cfg["bmm1_dot_dimension_numbers"] = dot(3, 3, [2]int{0, 2}, [2]int{0, 2}) // q·kᵀ → P
		cfg["bmm2_dot_dimension_numbers"] = dot(3, 1, [2]int{0, 1}, [2]int{0, 2}) // P·v → O
	}
	js, err := json.Marshal(map[string]any{
		"operation_queue_id":        "0",
		"wait_on_operation_queues":  []any{},
		"cudnn_fmha_backend_config": cfg,
	})
	if err != nil {
		panic(err) // maps of strings, numbers and bools always marshal
	}
	return string(js)
}
