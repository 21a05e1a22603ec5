package transformer_test

import (
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/golden"
	"github.com/bitterlesson/bitter/transformer"
)

type goldenCase struct {
	Config struct {
		VocabSize, MaxSeqLen, NumLayers, ModelDim, NumHeads, NumKVHeads, FFNDim int
		Activation, Norm, Positional                                            string
		TieEmbeddings, UseBias, QKNorm                                          bool
	}
	Tokens, Targets, Logits golden.Array
	Loss                    float64
	Params, Grads           map[string]golden.Array
}

func (c goldenCase) config() transformer.Config {
	k := c.Config
	return transformer.Config{VocabSize: k.VocabSize, MaxSeqLen: k.MaxSeqLen, NumLayers: k.NumLayers,
		ModelDim: k.ModelDim, NumHeads: k.NumHeads, NumKVHeads: k.NumKVHeads, FFNDim: k.FFNDim,
		Activation: transformer.Activation(k.Activation), Norm: transformer.Norm(k.Norm),
		Positional: transformer.Positional(k.Positional), TieEmbeddings: k.TieEmbeddings, UseBias: k.UseBias,
		QKNorm: k.QKNorm, DType: dtypes.Float32}
}

// loadParams creates ctx's variables from the golden parameters, keyed by scope path.
func loadParams(ctx *context.Context, params map[string]golden.Array, dtype dtypes.DType) {
	for key, a := range params {
		i := strings.LastIndex(key, "/")
		ctx.InAbsPath("/"+key[:i]).VariableWithValue(key[i+1:], a.Tensor(dtype))
	}
}

// TestModelGolden loads PyTorch's weights into a float32 model and compares the logits, the loss
// and the gradient of the loss with respect to every parameter, each within 2e-5 relative error.
// It also checks that the model has exactly PyTorch's parameters and that NumParams counts them.
func TestModelGolden(t *testing.T) {
	var f struct{ Cases map[string]goldenCase }
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.Len(t, f.Cases, 5)
	for name, c := range f.Cases {
		t.Run(name, func(t *testing.T) {
			cfg := c.config()
			require.NoError(t, cfg.Validate())
			ctx := context.New()
			loadParams(ctx, c.Params, dtypes.Float32)
			var keys []string
			total := 0
			for k, a := range c.Params {
				keys = append(keys, k)
				n := 1
				for _, d := range a.Shape {
					n *= d
				}
				total += n
			}
			sort.Strings(keys)
			require.Equal(t, total, cfg.NumParams(), "NumParams")

			exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, tokens, targets *graph.Node) []*graph.Node {
				logits := transformer.Logits(ctx, cfg, tokens)
				loss := transformer.Loss(logits, targets)
				var wrt []*graph.Node
				for _, k := range keys {
					i := strings.LastIndex(k, "/")
					wrt = append(wrt, ctx.InAbsPath("/"+k[:i]).GetVariable(k[i+1:]).ValueGraph(tokens.Graph()))
				}
				return append([]*graph.Node{logits, loss}, graph.Gradient(loss, wrt...)...)
			})
			require.NoError(t, err)
			outs, err := exec.Exec(c.Tokens.Tensor(dtypes.Int32), c.Targets.Tensor(dtypes.Int32))
			require.NoError(t, err)
			golden.Check(t.Errorf, "logits", outs[0], c.Logits, 2e-5)
			loss := golden.Float64s(outs[1])[0]
			require.LessOrEqual(t, math.Abs(loss-c.Loss)/c.Loss, 2e-5, "loss %g, PyTorch %g", loss, c.Loss)
			for i, k := range keys {
				golden.Check(t.Errorf, "d "+k, outs[2+i], c.Grads[k], 2e-5)
			}
			// No variable beyond PyTorch's.
			n := 0
			for v := range ctx.IterVariables() {
				if v.Trainable {
					n++
				}
			}
			require.Equal(t, len(keys), n, "trainable variables")
		})
	}
}
