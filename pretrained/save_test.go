package pretrained_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/safetensors"
	"github.com/bitterlesson/bitter/transformer"
)

func requireSameParams(t *testing.T, want, got map[string]*tensors.Tensor) {
	t.Helper()
	require.Len(t, got, len(want))
	for p, w := range want {
		g, ok := got[p]
		require.True(t, ok, p)
		require.True(t, w.Shape().Equal(g.Shape()), "%s: %s, want %s", p, g.Shape(), w.Shape())
		require.Equal(t, golden.Float64s(w), golden.Float64s(g), p)
	}
}

// TestSaveGPT2RoundTrip loads the Python-written GPT-2, writes it back out, and loads that: the
// same config, tokenizer and weights bit for bit, under the hub's names; and an untied model
// under GPT2LMHeadModel's names, with lm_head.weight.
func TestSaveGPT2RoundTrip(t *testing.T) {
	g, err := pretrained.LoadGPT2(tinyDir)
	require.NoError(t, err)
	ctx := context.New()
	require.NoError(t, g.Init(ctx))
	dir := filepath.Join(t.TempDir(), "export")
	require.NoError(t, pretrained.SaveGPT2(dir, g.Config, ctx, g.Tokenizer))
	back, err := pretrained.LoadGPT2(dir)
	require.NoError(t, err)
	require.Equal(t, g.Config, back.Config)
	requireSameParams(t, g.Params, back.Params)
	text := []byte("the king's lord hath thee, 中文 don't   \n\n")
	require.Equal(t, g.Tokenizer.Encode(text), back.Tokenizer.Encode(text))
	want, err := safetensors.Read(filepath.Join(tinyDir, pretrained.WeightsFile))
	require.NoError(t, err)
	got, err := safetensors.Read(filepath.Join(dir, pretrained.WeightsFile))
	require.NoError(t, err)
	for _, name := range got.Names {
		require.Equal(t, want.Tensors[name], got.Tensors[name], name) // the same bytes as Python wrote
	}
	require.Len(t, got.Names, len(want.Names)-2, "all but the mask buffers")

	// Untied, from the bfloat16 file's lm_head.
	f, err := safetensors.Read("testdata/gpt2-tiny-bf16.safetensors")
	require.NoError(t, err)
	cfg := g.Config
	cfg.TieEmbeddings = false
	params, err := pretrained.GPT2Params(cfg, f)
	require.NoError(t, err)
	ctx = context.New()
	require.NoError(t, pretrained.SetParams(ctx, params))
	dir = filepath.Join(t.TempDir(), "untied")
	require.NoError(t, pretrained.SaveGPT2(dir, cfg, ctx, nil))
	_, err = os.Stat(filepath.Join(dir, "vocab.json"))
	require.ErrorIs(t, err, os.ErrNotExist, "no tokenizer given, none written")
	config, err := os.ReadFile(filepath.Join(dir, pretrained.ConfigFile))
	require.NoError(t, err)
	cfgBack, err := pretrained.ReadGPT2Config(config)
	require.NoError(t, err)
	require.Equal(t, cfg, cfgBack)
	got, err = safetensors.Read(filepath.Join(dir, pretrained.WeightsFile))
	require.NoError(t, err)
	require.Contains(t, got.Tensors, "transformer.h.1.mlp.c_fc.weight")
	require.Contains(t, got.Tensors, "lm_head.weight")
	paramsBack, err := pretrained.GPT2Params(cfgBack, got)
	require.NoError(t, err)
	requireSameParams(t, params, paramsBack)
}

// TestSaveGPT2Trained writes a model bitter initialised (exact GELU, float64), which reads back
// as the same model.
func TestSaveGPT2Trained(t *testing.T) {
	cfg := transformer.Tiny()
	cfg.NumLayers, cfg.ModelDim, cfg.FFNDim, cfg.MaxSeqLen, cfg.DType = 1, 32, 48, 16, dtypes.Float64
	ctx := context.New()
	initParams(t, ctx, cfg)
	dir := t.TempDir()
	require.NoError(t, pretrained.SaveGPT2(dir, cfg, ctx, nil))
	config, err := os.ReadFile(filepath.Join(dir, pretrained.ConfigFile))
	require.NoError(t, err)
	require.Contains(t, string(config), `"activation_function": "gelu"`)
	back, err := pretrained.ReadGPT2Config(config)
	require.NoError(t, err)
	cfg.DType, cfg.NormEpsilon = dtypes.Float32, 1e-5
	require.Equal(t, cfg, back)

	bad := transformer.Tiny()
	bad.Positional, bad.Norm, bad.Activation, bad.QKNorm = transformer.RoPE, transformer.RMSNorm, transformer.SwiGLU, true
	err = pretrained.SaveGPT2(t.TempDir(), bad, ctx, nil)
	for _, want := range []string{"does not fit GPT-2's layout", "LayerNorm and biases", "learned positions, not rope", "no QK-norm", "no activation for swiglu"} {
		require.ErrorContains(t, err, want)
	}
	other := transformer.Tiny()
	dir = t.TempDir()
	err = pretrained.SaveGPT2(dir, other, ctx, nil)
	require.ErrorContains(t, err, "variable token_embeddings/embeddings is (Float64)[256 32], the config makes it [256 128]")
	require.ErrorContains(t, err, "no variable layer_3/mlp/down/biases")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written on error")
}

// initParams creates cfg's variables in ctx with bitter's initialisation (one forward pass).
func initParams(t testing.TB, ctx *context.Context, cfg transformer.Config) {
	t.Helper()
	exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
		return transformer.Logits(ctx, cfg, tok)
	})
	require.NoError(t, err)
	_, err = exec.Exec(tensors.FromValue([][]int32{{1, 2, 3}}))
	require.NoError(t, err)
}
