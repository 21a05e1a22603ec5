package attention_test

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/linear"
)

type seq2seqFile struct {
	Cross map[string]struct {
		Config                               struct{ ModelDim, NumHeads int }
		X, Memory, Mask, R, Out, DX, DMemory golden.Array
		Weights                              golden.Array // [batch, heads, seq, kvLen]
		Params, Grads                        map[string]golden.Array
	}
	Additive map[string]struct {
		Units                           int
		Q                               golden.Array `json:"query"`
		K                               golden.Array `json:"keys"`
		M                               golden.Array `json:"mask"`
		Rc                              golden.Array `json:"r"`
		Rw                              golden.Array `json:"r_weights"`
		Context, Weights, DQuery, DKeys golden.Array
		Params, Grads                   map[string]golden.Array
	}
}

// TestCrossAttentionGolden: queries from x, keys and values from a memory with a padding mask, against
// torch.nn.MultiheadAttention (testdata/seq2seq.py): the output and the gradients with respect to x,
// the memory and every weight, and attention.Weights against its per-head probabilities.
func TestCrossAttentionGolden(t *testing.T) {
	var f seq2seqFile
	require.NoError(t, golden.Load("testdata/seq2seq.json", &f))
	require.Len(t, f.Cross, 2)
	for name, c := range f.Cross {
		t.Run(name, func(t *testing.T) {
			cfg := attention.Config{ModelDim: c.Config.ModelDim, NumHeads: c.Config.NumHeads, UseBias: true}
			ctx := context.New()
			keys, _ := golden.LoadParams(ctx, c.Params, dtypes.Float32)
			exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				x, mem, mask, r := in[0], in[1], in[2], in[3]
				out := attention.MultiHead(ctx, cfg, x, attention.Args{Memory: mem, Mask: mask})
				wrt := append([]*graph.Node{x, mem}, golden.ParamNodes(ctx, keys, x.Graph())...)
				probs := attention.Weights(ctx, cfg, x, attention.Args{Memory: mem, Mask: mask})
				return append([]*graph.Node{out, probs}, graph.Gradient(graph.ReduceAllSum(graph.Mul(out, r)), wrt...)...)
			})
			require.NoError(t, err)
			outs, err := exec.Exec(c.X.Tensor(dtypes.Float32), c.Memory.Tensor(dtypes.Float32), c.Mask.Tensor(dtypes.Bool), c.R.Tensor(dtypes.Float32))
			require.NoError(t, err)
			tol, gradTol := golden.Tol(backend.MustShared(), dtypes.Float32, tolFloat32, tolFloat32)
			golden.Check(t.Errorf, "out", outs[0], c.Out, tol)
			golden.Check(t.Errorf, "weights", outs[1], c.Weights, tol)
			golden.Check(t.Errorf, "dx", outs[2], c.DX, gradTol)
			golden.Check(t.Errorf, "dmemory", outs[3], c.DMemory, gradTol)
			for i, key := range keys {
				golden.Check(t.Errorf, "d "+key, outs[4+i], c.Grads[key], gradTol)
			}
		})
	}
}

// TestAdditiveGolden: Bahdanau's attention against its equations written out in PyTorch, float64:
// context and weights, and the gradients with respect to query, keys and the four parameters.
func TestAdditiveGolden(t *testing.T) {
	var f seq2seqFile
	require.NoError(t, golden.Load("testdata/seq2seq.json", &f))
	require.Len(t, f.Additive, 2)
	for name, c := range f.Additive {
		t.Run(name, func(t *testing.T) {
			ctx := context.New()
			keys, _ := golden.LoadParams(ctx, c.Params, dtypes.Float64)
			exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				q, k, mask, r, rw := in[0], in[1], in[2], in[3], in[4]
				cv, w := attention.Additive(ctx, q, k, mask, c.Units)
				wrt := append([]*graph.Node{q, k}, golden.ParamNodes(ctx, keys, q.Graph())...)
				loss := graph.Add(graph.ReduceAllSum(graph.Mul(cv, r)), graph.ReduceAllSum(graph.Mul(w, rw)))
				return append([]*graph.Node{cv, w}, graph.Gradient(loss, wrt...)...)
			})
			require.NoError(t, err)
			outs, err := exec.Exec(c.Q.Tensor(dtypes.Float64), c.K.Tensor(dtypes.Float64), c.M.Tensor(dtypes.Bool), c.Rc.Tensor(dtypes.Float64), c.Rw.Tensor(dtypes.Float64))
			require.NoError(t, err)
			golden.Check(t.Errorf, "context", outs[0], c.Context, tolFloat64)
			golden.Check(t.Errorf, "weights", outs[1], c.Weights, tolFloat64)
			golden.Check(t.Errorf, "dquery", outs[2], c.DQuery, tolFloat64)
			golden.Check(t.Errorf, "dkeys", outs[3], c.DKeys, tolFloat64)
			for i, key := range keys {
				golden.Check(t.Errorf, "d "+key, outs[4+i], c.Grads[key], tolFloat64)
			}
		})
	}
}

// TestCrossAttentionRefusals: cross-attention with Causal or RoPE, and a memory of another width, panic
// with the reason when the graph is built.
func TestCrossAttentionRefusals(t *testing.T) {
	for name, c := range map[string]struct {
		cfg    attention.Config
		causal bool
		dim    int
		want   string
	}{
		"causal": {attention.Config{ModelDim: 8, NumHeads: 2}, true, 8, "takes no Causal, Cache or RoPE"},
		"rope":   {attention.Config{ModelDim: 8, NumHeads: 2, RoPE: true}, false, 8, "takes no Causal, Cache or RoPE"},
		"width":  {attention.Config{ModelDim: 8, NumHeads: 2}, false, 6, "Memory must be [batch=2, kvLen, ModelDim=8]"},
	} {
		g := graph.NewGraph(backend.MustShared(), name)
		x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 2, 3, 8))
		mem := graph.Parameter(g, "mem", shapes.Make(dtypes.Float32, 2, 5, c.dim))
		var msg string
		func() {
			defer func() { msg = fmt.Sprint(recover()) }()
			attention.MultiHead(context.New(), c.cfg, x, attention.Args{Memory: mem, Causal: c.causal})
		}()
		require.Contains(t, msg, c.want, name)
	}
}

// TestWeightsCausal: with Causal and grouped-query heads, attention.Weights gives rows that sum to 1
// over the keys at or before each query and 0 after it, and, multiplied with the values and projected,
// MultiHead's output.
func TestWeightsCausal(t *testing.T) {
	cfg := attention.Config{ModelDim: 8, NumHeads: 4, NumKVHeads: 2, UseBias: true}
	ctx := context.New()
	require.NoError(t, ctx.SetRNGStateFromSeed(3))
	exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, x *graph.Node) []*graph.Node {
		out := attention.MultiHead(ctx, cfg, x, attention.Args{Causal: true})
		probs := attention.Weights(ctx, cfg, x, attention.Args{Causal: true}) // [b, heads, seq, seq]
		ctx = ctx.Reuse()
		v := graph.Reshape(linear.Dense(ctx.In(attention.ValueScope), x, 2*2, true, x.DType()), 2, 5, 2, 2) // [b, seq, kvHeads, headDim]
		v = graph.Reshape(graph.BroadcastToDims(graph.InsertAxes(v, 3), 2, 5, 2, 2, 2), 2, 5, 4, 2)         // head h reads kv head h/2
		heads := graph.DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})                   // [b, heads, seq, headDim]
		manual := linear.Dense(ctx.In(attention.OutputScope), graph.Reshape(graph.TransposeAllAxes(heads, 0, 2, 1, 3), 2, 5, 8), 8, true, x.DType())
		return []*graph.Node{out, probs, manual}
	})
	require.NoError(t, err)
	x := make([]float64, 2*5*8)
	for i := range x {
		x[i] = float64((i*37)%17)/8 - 1
	}
	outs, err := exec.Exec(tensors.FromFlatDataAndDimensions(x, 2, 5, 8))
	require.NoError(t, err)
	probs := outs[1].Value().([][][][]float64)
	for b := range probs {
		for h := range probs[b] {
			for q, row := range probs[b][h] {
				sum := 0.0
				for k, p := range row {
					if k > q {
						require.Zero(t, p, "key %d after query %d", k, q)
					}
					sum += p
				}
				require.InDelta(t, 1, sum, 1e-12)
			}
		}
	}
	require.InDeltaSlice(t, golden.Float64s(outs[0]), golden.Float64s(outs[2]), 1e-12)
}
