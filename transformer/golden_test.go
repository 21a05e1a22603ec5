package transformer_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/transformer"
)

type goldenCase struct {
	Config struct {
		VocabSize, MaxSeqLen, NumLayers, ModelDim, NumHeads, NumKVHeads, FFNDim int
		Activation, Norm, Positional                                            string
		TieEmbeddings, UseBias, QKNorm                                          bool
	}
	golden.ModelCase
}

func (c goldenCase) config() transformer.Config {
	k := c.Config
	return transformer.Config{VocabSize: k.VocabSize, MaxSeqLen: k.MaxSeqLen, NumLayers: k.NumLayers,
		ModelDim: k.ModelDim, NumHeads: k.NumHeads, NumKVHeads: k.NumKVHeads, FFNDim: k.FFNDim,
		Activation: transformer.Activation(k.Activation), Norm: transformer.Norm(k.Norm),
		Positional: transformer.Positional(k.Positional), TieEmbeddings: k.TieEmbeddings, UseBias: k.UseBias,
		QKNorm: k.QKNorm, DType: dtypes.Float32}
}

// TestModelGolden loads PyTorch's weights into a float32 model and compares the logits, the loss
// and the gradient of the loss with respect to every parameter, each within 2e-5 relative error
// (golden.TF32Tol and TF32GradTol where float32 matmuls run in TF32, as XLA runs them on a GPU).
// It also checks that the model has exactly PyTorch's parameters and that NumParams counts them.
func TestModelGolden(t *testing.T) {
	var f struct{ Cases map[string]goldenCase }
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.Len(t, f.Cases, 5)
	// Again with causal attention in query blocks of 3 (attention.CausalBlock), so the golden
	// sequences (shorter than the pure-Go backend's default block) run through the blocked path too.
	for _, block := range []int{0, 3} {
		for name, c := range f.Cases {
			t.Run(fmt.Sprintf("%s/block=%d", name, block), func(t *testing.T) {
				cfg := c.config()
				cfg.Kernels.CausalBlock = block
				require.NoError(t, cfg.Validate())
				tol, gradTol := golden.Tol(backend.MustShared(), dtypes.Float32, 2e-5, 2e-5)
				n := golden.CheckModel(t, backend.MustShared(), c.ModelCase, tol, gradTol, cfg.Logits)
				require.Equal(t, n, cfg.NumParams(), "NumParams")
			})
		}
	}
}

// TestMixedPrecisionGolden runs the golden cases with bfloat16 matmuls over float32 master weights:
// bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 0.2% per operation), so the logits and
// the loss are compared with PyTorch's float64 within 5% (max-norm relative error; the largest seen:
// 3.9%, ALiBi with ReLU², which squares its rounding), and gradients, which pass through every bf16
// product of the backward pass, within 15% (the largest seen: 13.7%, an MLP bias behind a ReLU: on
// 14 tokens a unit that rounding moves across zero changes a small gradient a lot). How far bf16
// gradients are from float32 ones over many tokens is TestMixedPrecisionGradientsAtScale's test.
func TestMixedPrecisionGolden(t *testing.T) {
	var f struct{ Cases map[string]goldenCase }
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	for name, c := range f.Cases {
		t.Run(name, func(t *testing.T) {
			cfg := c.config()
			cfg.ComputeDType = dtypes.BFloat16
			require.NoError(t, cfg.Validate())
			golden.CheckModel(t, backend.MustShared(), c.ModelCase, 5e-2, 0.15, cfg.Logits)
		})
	}
	bad := transformer.Tiny()
	bad.DType, bad.ComputeDType = dtypes.Float64, dtypes.BFloat16
	require.ErrorContains(t, bad.Validate(), "ComputeDType BFloat16 needs DType Float32 master weights, got Float64")
}
