package transformer_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/gradients"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/transformer"
)

// TestTrainingStepMatmuls reads the matmuls of a training step's graph (forward and gradients of
// every parameter, as the trainer builds it) for GPT-2-style models, tied and untied, without
// running it: their FLOPs must be the MFU formula's, 6 per matmul weight per token plus 12·L·H·Q·T
// for attention (so the gradient adds no matmul work and MFU counts what runs), and in bfloat16
// mixed precision every one of them must take bfloat16 operands (a float32 matmul runs at a
// fraction of a GPU's bfloat16 rate).
func TestTrainingStepMatmuls(t *testing.T) {
	const batch, seq = 2, 32
	for _, tied := range []bool{false, true} {
		for _, compute := range []dtypes.DType{dtypes.InvalidDType, dtypes.BFloat16} {
			cfg := transformer.GPT2Small()
			cfg.VocabSize, cfg.MaxSeqLen, cfg.NumLayers, cfg.ModelDim, cfg.NumHeads, cfg.FFNDim = 96, seq, 2, 64, 4, 256
			cfg.TieEmbeddings, cfg.ComputeDType = tied, compute
			require.NoError(t, cfg.Validate())
			g := graph.NewGraph(backend.MustShared(), "step")
			ctx := context.New()
			tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, seq))
			labels := graph.Parameter(g, "labels", shapes.Make(dtypes.Int32, batch, seq))
			loss := lm.Loss(cfg.Logits(ctx, tokens), labels)
			grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
			require.NotEmpty(t, grads)

			byDType := map[dtypes.DType]float64{}
			total := 0.0
			for _, n := range g.Nodes() {
				if n.Type() == graph.NodeTypeDotGeneral {
					f := gradients.DotGeneralFLOPs(n)
					byDType[n.Inputs()[0].DType()] += f
					total += f
				}
			}
			d, f, v := float64(cfg.ModelDim), float64(cfg.FFNDim), float64(cfg.VocabSize)
			weights := float64(cfg.NumLayers)*(4*d*d+2*d*f) + v*d // projections, MLP, head
			attn := 12 * float64(cfg.NumLayers*cfg.NumHeads*(cfg.ModelDim/cfg.NumHeads)*seq)
			tokensPerStep := float64(batch * seq)
			require.InEpsilon(t, (6*weights+attn)*tokensPerStep, total, 1e-9, "tied=%v compute=%s: matmul FLOPs %v", tied, compute, byDType)
			// The formula MFU uses counts biases and norms too: within 2% at this size.
			require.InEpsilon(t, cfg.FLOPsPerToken(seq)*tokensPerStep, total, 0.02)
			if compute == dtypes.BFloat16 {
				require.Equal(t, total, byDType[dtypes.BFloat16], "tied=%v: matmul FLOPs by operand dtype %v", tied, byDType)
			}
		}
	}
}
