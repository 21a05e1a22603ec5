package rnn_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/rnn"
)

type seq2seqGolden struct {
	Bidirectional map[string]struct {
		Cell                                  string
		Hidden, Layers                        int
		X, Lengths, R, RFinal, Outputs, Final golden.Array
		DX                                    golden.Array
		Params, Grads                         map[string]golden.Array
	}
	Seq2Seq map[string]struct {
		Config struct {
			Cell                                                                   string
			SourceVocabSize, TargetVocabSize, MaxSourceLen, MaxTargetLen, EmbedDim int
			HiddenDim, EncoderLayers, DecoderDim, AttentionDim                     int
		}
		golden.Seq2SeqCase
	}
}

func loadSeq2SeqGolden(t *testing.T) seq2seqGolden {
	var f seq2seqGolden
	require.NoError(t, golden.Load("testdata/seq2seq.json", &f))
	require.Len(t, f.Bidirectional, 2)
	require.Len(t, f.Seq2Seq, 2)
	return f
}

// TestBidirectionalGolden compares rnn.Bidirectional with torch.nn.GRU and torch.nn.LSTM
// (bidirectional, 2 layers) over packed sequences of unequal lengths (testdata/seq2seq.py): the
// outputs, zero at padding, the final states, and the gradients with respect to the input and every
// weight, in float64 within 1e-10.
func TestBidirectionalGolden(t *testing.T) {
	for name, c := range loadSeq2SeqGolden(t).Bidirectional {
		t.Run(name, func(t *testing.T) {
			ctx := context.New()
			keys, _ := golden.LoadParams(ctx, c.Params, dtypes.Float64)
			exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				x, lengths, r, rFinal := in[0], in[1], in[2], in[3]
				out, final := rnn.Bidirectional(ctx, rnn.Cell(c.Cell), c.Hidden, c.Layers, x, lengths)
				objective := graph.Add(graph.ReduceAllSum(graph.Mul(out, r)), graph.ReduceAllSum(graph.Mul(final, rFinal)))
				wrt := append([]*graph.Node{x}, golden.ParamNodes(ctx, keys, x.Graph())...)
				return append([]*graph.Node{out, final}, graph.Gradient(objective, wrt...)...)
			})
			require.NoError(t, err)
			outs, err := exec.Exec(c.X.Tensor(dtypes.Float64), c.Lengths.Tensor(dtypes.Int32), c.R.Tensor(dtypes.Float64), c.RFinal.Tensor(dtypes.Float64))
			require.NoError(t, err)
			golden.Check(t.Errorf, "outputs", outs[0], c.Outputs, 1e-10)
			golden.Check(t.Errorf, "final", outs[1], c.Final, 1e-10)
			golden.Check(t.Errorf, "d x", outs[2], c.DX, 1e-10)
			for i, k := range keys {
				golden.Check(t.Errorf, "d "+k, outs[3+i], c.Grads[k], 1e-10)
			}
			require.Equal(t, len(keys), golden.NumTrainable(ctx))
		})
	}
}

// TestSeq2SeqGolden compares rnn.Seq2Seq (GRU with 2 encoder layers, LSTM with 1) with Bahdanau et
// al.'s model written out in PyTorch (testdata/seq2seq.py): logits, the padded loss, the alignment
// and every parameter's gradient, in float64 within 1e-10 and float32 within 2e-5.
func TestSeq2SeqGolden(t *testing.T) {
	for name, c := range loadSeq2SeqGolden(t).Seq2Seq {
		k := c.Config
		for _, dtype := range []dtypes.DType{dtypes.Float64, dtypes.Float32} {
			t.Run(name+"/"+dtype.String(), func(t *testing.T) {
				m := rnn.Seq2Seq{Cell: rnn.Cell(k.Cell), SourceVocabSize: k.SourceVocabSize, TargetVocabSize: k.TargetVocabSize,
					MaxSourceLen: k.MaxSourceLen, MaxTargetLen: k.MaxTargetLen, EmbedDim: k.EmbedDim, HiddenDim: k.HiddenDim,
					EncoderLayers: k.EncoderLayers, DecoderDim: k.DecoderDim, AttentionDim: k.AttentionDim, DType: dtype}
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
