package attention

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

// TestCuDNNConfigProducts checks the dimension numbers of cuDNN's backend config (written from
// JAX's) against what each product must make: every product's result shape, computed from its
// dimension numbers as XLA's DotGeneral does (batch axes, then the left's free axes, then the
// right's), on operands of distinct sizes, is the tensor the config says it makes.
func TestCuDNNConfigProducts(t *testing.T) {
	const b, tq, s, n, h = 2, 3, 5, 7, 8
	btnh := func(seq int) []int { return []int{b, seq, n, h} }
	scores := []int{b, n, tq, s}
	for _, backward := range []bool{false, true} {
		var cfg struct {
			Fmha map[string]json.RawMessage `json:"cudnn_fmha_backend_config"`
		}
		require.NoError(t, json.Unmarshal([]byte(cudnnConfig(b, n, tq, s, dtypes.BFloat16, 0.25, true, backward)), &cfg))
		products := map[string][3][]int{ // lhs, rhs, result
			"bmm1_dot_dimension_numbers": {btnh(tq), btnh(s), scores},      // q·kᵀ → P
			"bmm2_dot_dimension_numbers": {scores, btnh(s), {b, n, tq, h}}, // P·v → O
		}
		if backward {
			products = map[string][3][]int{
				"bmm1_grad_gemm1_dot_dimension_numbers": {scores, btnh(tq), {b, n, s, h}}, // dPᵀ·q → dK
				"bmm1_grad_gemm2_dot_dimension_numbers": {scores, btnh(s), {b, n, tq, h}}, // dP·k → dQ
				"bmm2_grad_gemm1_dot_dimension_numbers": {scores, btnh(tq), {b, n, s, h}}, // Pᵀ·dO → dV
				"bmm2_grad_gemm2_dot_dimension_numbers": {btnh(tq), btnh(s), scores},      // dO·vᵀ → dP
			}
		}
		for key, p := range products {
			raw, ok := cfg.Fmha[key]
			require.True(t, ok, "backward=%v: %s missing", backward, key)
			var d map[string][]string
			require.NoError(t, json.Unmarshal(raw, &d))
			axes := func(name string) []int {
				var out []int
				for _, a := range d[name] {
					v, err := strconv.Atoi(a)
					require.NoError(t, err)
					out = append(out, v)
				}
				return out
			}
			require.Equal(t, p[2], dotResult(t, p[0], p[1], axes("lhs_contracting_dimensions"), axes("rhs_contracting_dimensions"),
				axes("lhs_batch_dimensions"), axes("rhs_batch_dimensions")), "backward=%v: %s", backward, key)
		}
		for key := range cfg.Fmha {
			if len(key) > 20 && key[len(key)-20:] == "_dimension_numbers" {
				_, ok := products[key]
				require.True(t, ok, "backward=%v: unexpected %s", backward, key)
			}
		}
		var shape struct {
			Dims []string `json:"dimensions"`
			Elem string   `json:"element_type"`
		}
		require.NoError(t, json.Unmarshal(cfg.Fmha["intermediate_tensor_shape"], &shape))
		require.Equal(t, []string{"2", "7", "3", "5"}, shape.Dims, "the scores' shape [batch, heads, qLen, kvLen]")
		require.Equal(t, "BF16", shape.Elem)
		require.JSONEq(t, `"CAUSAL"`, string(cfg.Fmha["mask_type"]))
		require.JSONEq(t, `0.25`, string(cfg.Fmha["fmha_scale"]))
		require.JSONEq(t, `true`, string(cfg.Fmha["is_flash_attention"]))
		require.JSONEq(t, `1`, string(cfg.Fmha["max_seg_per_batch"]), "one sequence per row: no packing")
		require.JSONEq(t, `false`, string(cfg.Fmha["is_paged_attention"]))
	}
	var cfg struct {
		Fmha map[string]json.RawMessage `json:"cudnn_fmha_backend_config"`
	}
	require.NoError(t, json.Unmarshal([]byte(cudnnConfig(b, n, tq, s, dtypes.Float16, 1, false, false)), &cfg))
	require.JSONEq(t, `"NO_MASK"`, string(cfg.Fmha["mask_type"]))
	require.Contains(t, string(cfg.Fmha["intermediate_tensor_shape"]), `"element_type":"F16"`)
}

// dotResult is the shape of XLA's DotGeneral of lhs and rhs: the batch axes, then lhs's free axes,
// then rhs's, each in order; contracted and batch axes must agree in size.
func dotResult(t *testing.T, lhs, rhs, lc, rc, lb, rb []int) []int {
	t.Helper()
	require.Equal(t, len(lc), len(rc))
	require.Equal(t, len(lb), len(rb))
	used := func(n int, lists ...[]int) []bool {
		u := make([]bool, n)
		for _, l := range lists {
			for _, a := range l {
				u[a] = true
			}
		}
		return u
	}
	var out []int
	for i := range lb {
		require.Equal(t, lhs[lb[i]], rhs[rb[i]], "batch axes %d, %d", lb[i], rb[i])
		out = append(out, lhs[lb[i]])
	}
	for i := range lc {
		require.Equal(t, lhs[lc[i]], rhs[rc[i]], "contracting axes %d, %d", lc[i], rc[i])
	}
	lu, ru := used(len(lhs), lc, lb), used(len(rhs), rc, rb)
	for i, d := range lhs {
		if !lu[i] {
			out = append(out, d)
		}
	}
	for i, d := range rhs {
		if !ru[i] {
			out = append(out, d)
		}
	}
	return out
}

// TestCuDNNMisfit lists what keeps attention off cuDNN's fused kernel, and that a plain causal bf16
// self-attention fits.
func TestCuDNNMisfit(t *testing.T) {
	g := graph.NewGraph(backend.MustShared(), "misfit")
	param := func(dtype dtypes.DType, dims ...int) *graph.Node {
		return graph.Parameter(g, "", shapes.Make(dtype, dims...))
	}
	bf := dtypes.BFloat16
	q, kv := param(bf, 2, 16, 4, 64), param(bf, 2, 16, 4, 64)
	mask := param(dtypes.Bool, 16, 16)
	training := context.New()
	training.SetTraining(g, true)
	for _, tc := range []struct {
		name    string
		q, k, v *graph.Node
		opts    []Option
		misfit  bool
	}{
		{"causal bf16", q, kv, kv, []Option{Causal()}, false},
		{"no mask, 8 queries on 16 keys", param(bf, 2, 8, 4, 64), kv, kv, nil, false},
		{"float32", param(dtypes.Float32, 2, 16, 4, 64), param(dtypes.Float32, 2, 16, 4, 64), param(dtypes.Float32, 2, 16, 4, 64), []Option{Causal()}, true},
		{"mask", q, kv, kv, []Option{Mask(mask)}, true},
		{"bias", q, kv, kv, []Option{Bias(param(bf, 16, 16))}, true},
		{"dropout while training", q, kv, kv, []Option{Dropout(training, 0.1)}, true},
		{"dropout at inference", q, kv, kv, []Option{Dropout(context.New(), 0.1)}, false},
		{"grouped-query", q, param(bf, 2, 16, 2, 64), param(bf, 2, 16, 2, 64), []Option{Causal()}, false},
		{"headDim 160", param(bf, 2, 16, 4, 160), param(bf, 2, 16, 4, 160), param(bf, 2, 16, 4, 160), nil, true},
		{"headDim 36", param(bf, 2, 16, 4, 36), param(bf, 2, 16, 4, 36), param(bf, 2, 16, 4, 36), nil, true},
		{"valueDim 32", q, kv, param(bf, 2, 16, 4, 32), nil, true},
		{"causal decode", param(bf, 2, 1, 4, 64), kv, kv, []Option{Causal()}, true},
	} {
		var o options
		for _, opt := range tc.opts {
			opt(&o)
		}
		why := cudnnMisfit(tc.q, tc.k, tc.v, &o)
		require.Equal(t, tc.misfit, why != "", "%s: %q", tc.name, why)
	}
}

// TestCuDNNSetting: a setting that is not one of the three is an error of Kernels.Validate and a
// panic of FusedCuDNN, naming it; CuDNNAlways is an error in a binary without custom calls (it
// cannot do what it asks) and means nothing on the pure-Go backend in one with them; auto and never
// build the attention anywhere.
func TestCuDNNSetting(t *testing.T) {
	g := graph.NewGraph(backend.MustShared(), "setting")
	bf := shapes.Make(dtypes.BFloat16, 1, 8, 2, 16)
	q := graph.Parameter(g, "q", bf)
	attend := func(s CuDNN) func() { return func() { ScaledDotProduct(q, q, q, Causal(), FusedCuDNN(s)) } }
	for _, s := range []CuDNN{CuDNNAuto, CuDNNNever} {
		require.NoError(t, Kernels{CuDNN: s}.Validate())
		require.NotPanics(t, attend(s), "%q", s)
	}
	require.EqualError(t, Kernels{CuDNN: "yes"}.Validate(), `CuDNN "yes" is not "" (auto), "never" or "always"`)
	require.PanicsWithValue(t, `attention.FusedCuDNN: CuDNN "yes" is not "" (auto), "never" or "always"`, attend("yes"))
	err := Kernels{CuDNN: CuDNNAlways}.Validate()
	if customcall.Built() {
		require.NoError(t, err)
		require.NotPanics(t, attend(CuDNNAlways), "always on the pure-Go backend")
		return
	}
	require.ErrorContains(t, err, "built without custom calls")
	require.ErrorContains(t, err, "-tags bitter_customcall")
	require.Panics(t, attend(CuDNNAlways))
	cfg := Config{ModelDim: 8, NumHeads: 2, Kernels: Kernels{CuDNN: CuDNNAlways}}
	require.ErrorContains(t, cfg.Validate(), `Kernels: CuDNN "always": this binary was built without custom calls`)
}
