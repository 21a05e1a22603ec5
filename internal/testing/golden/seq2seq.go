package golden

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/seq2seq"
)

// Seq2SeqCase is an encoder-decoder's golden case: PyTorch's parameters (keyed by scope path), the
// padded source with its lengths, the decoder input and targets (-1 = padding), and the logits, the
// loss over real targets, its gradients and the alignment PyTorch computed.
type Seq2SeqCase struct {
	Source, Lengths, TargetIn, Targets Array
	Logits, Alignment                  Array
	Loss                               float64
	Params, Grads                      map[string]Array
}

// CheckSeq2Seq loads c.Params into a new context in dtype, runs m's Logits, [seq2seq.Loss] and
// Alignment, and checks the logits, the loss and the alignment within relative error tol and the
// gradient of the loss with respect to every parameter within gradTol. It also checks that the
// model uses exactly PyTorch's trainable variables and that m.NumParams counts them.
func CheckSeq2Seq(t *testing.T, b backends.Backend, c Seq2SeqCase, m seq2seq.Model, dtype dtypes.DType, tol, gradTol float64) {
	t.Helper()
	ctx := context.New()
	keys, numParams := LoadParams(ctx, c.Params, dtype)
	exec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		src, lengths, tgtIn, targets := in[0], in[1], in[2], in[3]
		logits := m.Logits(ctx, src, lengths, tgtIn)
		loss := seq2seq.Loss(logits, targets)
		outs := []*graph.Node{logits, loss, m.Alignment(ctx, src, lengths, tgtIn)}
		return append(outs, graph.Gradient(loss, ParamNodes(ctx, keys, src.Graph())...)...)
	})
	require.NoError(t, err)
	outs, err := exec.Exec(c.Source.Tensor(dtypes.Int32), c.Lengths.Tensor(dtypes.Int32), c.TargetIn.Tensor(dtypes.Int32),
		c.Targets.Tensor(dtypes.Int32))
	require.NoError(t, err)
	Check(t.Errorf, "logits", outs[0], c.Logits, tol)
	loss := Float64s(outs[1])[0]
	assert.LessOrEqual(t, math.Abs(loss-c.Loss)/c.Loss, tol, "loss %g, PyTorch %g", loss, c.Loss)
	Check(t.Errorf, "alignment", outs[2], c.Alignment, tol)
	for i, k := range keys {
		Check(t.Errorf, "d "+k, outs[3+i], c.Grads[k], gradTol)
	}
	require.Equal(t, len(keys), NumTrainable(ctx), "trainable variables: the model's against PyTorch's")
	require.Equal(t, numParams, m.NumParams(), "NumParams")
}
