package golden

import (
	"math"
	"testing"

	"github.com/bitterlesson/bitter/lm"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ModelCase is a language model's golden case: PyTorch's parameters (keyed by scope path, e.g.
// "layer_0/attention/query/weights"), tokens and targets, and the logits, mean cross-entropy and
// gradients it computed.
type ModelCase struct {
	Tokens, Targets, Logits Array
	Loss                    float64
	Params, Grads           map[string]Array
}

// CheckModel loads c.Params into a new context as float32, runs logits over c.Tokens, and checks
// the logits and the loss within relative error tol and the gradient of the loss with respect to
// every parameter within gradTol. It also checks that the model uses exactly PyTorch's trainable
// variables, and returns how many scalars the parameters hold.
func CheckModel(t *testing.T, b backends.Backend, c ModelCase, tol, gradTol float64,
	logits func(ctx *context.Context, tokens *graph.Node) *graph.Node) (numParams int) {
	t.Helper()
	ctx := context.New()
	keys, numParams := LoadParams(ctx, c.Params, dtypes.Float32)
	exec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens, targets *graph.Node) []*graph.Node {
		l := logits(ctx, tokens)
		loss := lm.Loss(l, targets)
		return append([]*graph.Node{l, loss}, graph.Gradient(loss, ParamNodes(ctx, keys, tokens.Graph())...)...)
	})
	require.NoError(t, err)
	outs, err := exec.Exec(c.Tokens.Tensor(dtypes.Int32), c.Targets.Tensor(dtypes.Int32))
	require.NoError(t, err)
	Check(t.Errorf, "logits", outs[0], c.Logits, tol)
	loss := Float64s(outs[1])[0]
	assert.LessOrEqual(t, math.Abs(loss-c.Loss)/c.Loss, tol, "loss %g, PyTorch %g", loss, c.Loss)
	for i, k := range keys {
		Check(t.Errorf, "d "+k, outs[2+i], c.Grads[k], gradTol)
	}
	require.Equal(t, len(keys), NumTrainable(ctx), "trainable variables: the model's against PyTorch's")
	return numParams
}

// NumTrainable counts ctx's trainable variables (the RNG state and optimizer moments are not).
func NumTrainable(ctx *context.Context) int {
	n := 0
	for v := range ctx.IterVariables() {
		if v.Trainable {
			n++
		}
	}
	return n
}
