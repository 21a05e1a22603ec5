package attention_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
)

// Tolerances of the golden tests: relative error in the max norm (golden.RelErr) against PyTorch
// float64, for our float32 and float64 runs. golden.Tol raises the float32 ones on a backend whose
// float32 matmuls run in TF32 (XLA on an NVIDIA GPU).
const (
	tolFloat32 = 2e-5
	tolFloat64 = 1e-10
)

type sdpaCase struct {
	Q, K, V, R, Out, DQ, DK, DV golden.Array
	Mask, Bias                  *golden.Array
	Causal                      bool
	Scale                       float64
}

type multiHeadCase struct {
	X, R, Out, DX golden.Array
	Mask          *golden.Array
	Config        struct {
		ModelDim, NumHeads, NumKVHeads int
		UseBias, RoPE, QKNorm, Causal  bool
	}
	Params, Grads map[string]golden.Array
}

type goldenFile struct {
	TorchVersion string                   `json:"torch_version"`
	SDPA         map[string]sdpaCase      `json:"sdpa"`
	MultiHead    map[string]multiHeadCase `json:"multihead"`
}

func loadGolden(t *testing.T) goldenFile {
	t.Helper()
	var f goldenFile
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.NotEmpty(t, f.SDPA)
	require.NotEmpty(t, f.MultiHead)
	return f
}

// TestScaledDotProductGolden compares values and gradients with respect to q, k and v with PyTorch.
func TestScaledDotProductGolden(t *testing.T) {
	f := loadGolden(t)
	for name, c := range f.SDPA {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			tol := tolFloat32
			if dtype == dtypes.Float64 {
				tol = tolFloat64
			}
			tol, gradTol := golden.Tol(backend.MustShared(), dtype, tol, tol)
			t.Run(name+"/"+dtype.String(), func(t *testing.T) {
				inputs := []any{c.Q.Tensor(dtype), c.K.Tensor(dtype), c.V.Tensor(dtype), c.R.Tensor(dtype)}
				if c.Mask != nil {
					inputs = append(inputs, c.Mask.Tensor(dtypes.Bool))
				}
				if c.Bias != nil {
					inputs = append(inputs, c.Bias.Tensor(dtype))
				}
				exec, err := graph.NewExec(backend.MustShared(), func(in []*graph.Node) []*graph.Node {
					q, k, v, r := in[0], in[1], in[2], in[3]
					var opts []attention.Option
					rest := in[4:]
					if c.Mask != nil {
						opts = append(opts, attention.Mask(rest[0]))
						rest = rest[1:]
					}
					if c.Bias != nil {
						opts = append(opts, attention.Bias(rest[0]))
					}
					if c.Causal {
						opts = append(opts, attention.Causal())
					}
					if c.Scale != 0 {
						opts = append(opts, attention.Scale(c.Scale))
					}
					out := attention.ScaledDotProduct(q, k, v, opts...)
					grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(out, r)), q, k, v)
					return append([]*graph.Node{out}, grads...)
				})
				require.NoError(t, err)
				outs, err := exec.Exec(inputs...)
				require.NoError(t, err)
				require.Equal(t, dtype, outs[0].DType())
				golden.Check(t.Errorf, "out", outs[0], c.Out, tol)
				golden.Check(t.Errorf, "dq", outs[1], c.DQ, gradTol)
				golden.Check(t.Errorf, "dk", outs[2], c.DK, gradTol)
				golden.Check(t.Errorf, "dv", outs[3], c.DV, gradTol)
			})
		}
	}
}

// TestFullyMaskedRowIsZero checks the documented promise directly: zeros, not NaN.
func TestFullyMaskedRowIsZero(t *testing.T) {
	c := loadGolden(t).SDPA["mask_fully_masked_row"]
	out, err := graph.ExecOnce(backend.MustShared(), func(q, k, v, m *graph.Node) *graph.Node {
		return attention.ScaledDotProduct(q, k, v, attention.Mask(m))
	}, c.Q.Tensor(dtypes.Float32), c.K.Tensor(dtypes.Float32), c.V.Tensor(dtypes.Float32), c.Mask.Tensor(dtypes.Bool))
	require.NoError(t, err)
	vals := tensors.MustCopyFlatData[float32](out) // [1, 3, 2, 4]: query 1 is fully masked.
	for i, x := range vals {
		query := (i / (2 * 4)) % 3
		if query == 1 {
			require.Equal(t, float32(0), x, "index %d", i)
		} else {
			require.NotEqual(t, float32(0), x, "index %d", i)
		}
	}
}

// TestMultiHeadGolden loads PyTorch's weights and compares the layer output and the gradients with
// respect to the input and every projection (and QK-norm) weight.
func TestMultiHeadGolden(t *testing.T) {
	f := loadGolden(t)
	for name, c := range f.MultiHead {
		t.Run(name, func(t *testing.T) {
			cfg := attention.Config{ModelDim: c.Config.ModelDim, NumHeads: c.Config.NumHeads,
				NumKVHeads: c.Config.NumKVHeads, UseBias: c.Config.UseBias, RoPE: c.Config.RoPE, QKNorm: c.Config.QKNorm}
			require.NoError(t, cfg.Validate())
			ctx := context.New()
			keys, _ := golden.LoadParams(ctx, c.Params, dtypes.Float32)
			inputs := []any{c.X.Tensor(dtypes.Float32), c.R.Tensor(dtypes.Float32)}
			if c.Mask != nil {
				inputs = append(inputs, c.Mask.Tensor(dtypes.Bool))
			}
			exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				x, r := in[0], in[1]
				args := attention.Args{Causal: c.Config.Causal}
				if c.Mask != nil {
					args.Mask = in[2]
				}
				out := attention.MultiHead(ctx, cfg, x, args)
				wrt := append([]*graph.Node{x}, golden.ParamNodes(ctx, keys, x.Graph())...)
				grads := graph.Gradient(graph.ReduceAllSum(graph.Mul(out, r)), wrt...)
				return append([]*graph.Node{out}, grads...)
			})
			require.NoError(t, err)
			outs, err := exec.Exec(inputs...)
			require.NoError(t, err)
			tol, gradTol := golden.Tol(backend.MustShared(), dtypes.Float32, tolFloat32, tolFloat32)
			golden.Check(t.Errorf, "out", outs[0], c.Out, tol)
			golden.Check(t.Errorf, "dx", outs[1], c.DX, gradTol)
			for i, key := range keys {
				golden.Check(t.Errorf, "d "+key, outs[2+i], c.Grads[key], gradTol)
			}
		})
	}
}
