package pretrained_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/transformer"
)

// BenchmarkLoadGPT2Small writes a GPT-2 small (124M parameters, bitter's random initialisation,
// 498 MB of float32) in Hugging Face's layout, then times LoadGPT2 and Init: reading, checking and
// converting the file, and setting a new context's variables. MB/s is of model.safetensors.
func BenchmarkLoadGPT2Small(b *testing.B) {
	tiny, err := pretrained.LoadGPT2(tinyDir)
	require.NoError(b, err)
	cfg := transformer.GPT2Small()
	cfg.Activation = transformer.GELUTanh
	ctx := context.New()
	initParams(b, ctx, cfg)
	dir := b.TempDir()
	require.NoError(b, pretrained.SaveGPT2(dir, cfg, ctx, tiny.Tokenizer))
	info, err := os.Stat(filepath.Join(dir, pretrained.WeightsFile))
	require.NoError(b, err)
	b.SetBytes(info.Size())
	b.ReportAllocs()
	for b.Loop() {
		g, err := pretrained.LoadGPT2(dir)
		require.NoError(b, err)
		require.NoError(b, g.Init(context.New()))
	}
}
