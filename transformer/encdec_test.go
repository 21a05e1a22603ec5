package transformer_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/transformer"
)

// TestEncoderDecoderGolden loads torch.nn.Transformer's weights (testdata/encdec.py) and compares
// logits, the padded loss, the alignment and every parameter's gradient: in float64 within 1e-10,
// and in float32 within 2e-5 (TF32's tolerances on a backend that uses it).
func TestEncoderDecoderGolden(t *testing.T) {
	var f struct {
		Cases map[string]struct {
			Config struct {
				SourceVocabSize, TargetVocabSize, MaxSourceLen, MaxTargetLen, EncoderLayers, DecoderLayers int
				ModelDim, NumHeads, FFNDim                                                                 int
				Activation, Positional                                                                     string
				ScaleEmbeddings, ShareEmbeddings, TieEmbeddings                                            bool
			}
			golden.Seq2SeqCase
		}
	}
	require.NoError(t, golden.Load("testdata/encdec.json", &f))
	require.Len(t, f.Cases, 2)
	for name, c := range f.Cases {
		k := c.Config
		for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
			t.Run(name+"/"+dtype.String(), func(t *testing.T) {
				m := transformer.EncoderDecoder{SourceVocabSize: k.SourceVocabSize, TargetVocabSize: k.TargetVocabSize,
					MaxSourceLen: k.MaxSourceLen, MaxTargetLen: k.MaxTargetLen, EncoderLayers: k.EncoderLayers,
					DecoderLayers: k.DecoderLayers, ModelDim: k.ModelDim, NumHeads: k.NumHeads, FFNDim: k.FFNDim,
					Activation: transformer.Activation(k.Activation), Norm: transformer.LayerNorm,
					Positional: transformer.Positional(k.Positional), ScaleEmbeddings: k.ScaleEmbeddings,
					ShareEmbeddings: k.ShareEmbeddings, TieEmbeddings: k.TieEmbeddings, UseBias: true, DType: dtype}
				require.NoError(t, m.Validate())
				tol, gradTol := 1e-10, 1e-10
				if dtype == dtypes.Float32 {
					tol, gradTol = golden.Tol(backend.MustShared(), dtype, 2e-5, 2e-5)
				}
				golden.CheckSeq2Seq(t, backend.MustShared(), c.Seq2SeqCase, m, dtype, tol, gradTol)
			})
		}
	}
}
