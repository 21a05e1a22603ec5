package hmm_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/hmm"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/lm"
)

type goldenCase struct {
	golden.ModelCase
	Config      hmm.Config
	LogLik      golden.Array            `json:"loglik"`
	LogLikGrads map[string]golden.Array `json:"loglik_grads"`
}

func loadCases(t *testing.T) []goldenCase {
	var f struct{ Cases []goldenCase }
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.Len(t, f.Cases, 3)
	return f.Cases
}

// TestGoldenLogits: next-token log-probabilities, the cross-entropy of random targets under them and
// its gradients with respect to the three tables, against PyTorch's float64 forward algorithm
// (testdata/generate.py), float32 here.
func TestGoldenLogits(t *testing.T) {
	for _, c := range loadCases(t) {
		tol, gradTol := golden.Tol(backend.MustShared(), dtypes.Float32, 2e-5, 5e-5)
		n := golden.CheckModel(t, backend.MustShared(), c.ModelCase, tol, gradTol, c.Config.Logits)
		require.Equal(t, c.Config.NumParams(), n)
	}
}

// TestGoldenLogLikelihood: log p(x) of each sequence and the gradient of their mean, in float64,
// against PyTorch's to 1e-10.
func TestGoldenLogLikelihood(t *testing.T) {
	b := backend.MustShared()
	for _, c := range loadCases(t) {
		cfg := c.Config
		cfg.DType = dtypes.Float64
		ctx := context.New()
		names := []string{"initial", "transition", "emission"}
		for _, name := range names {
			ctx.In(hmm.Scope).VariableWithValue(name, c.Params[hmm.Scope+"/"+name].Tensor(dtypes.Float64))
		}
		exec, err := context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens *graph.Node) []*graph.Node {
			ll := cfg.LogLikelihood(ctx, tokens)
			mean := graph.ReduceAllMean(ll)
			var wrt []*graph.Node
			for _, name := range names {
				wrt = append(wrt, ctx.In(hmm.Scope).GetVariable(name).ValueGraph(tokens.Graph()))
			}
			return append([]*graph.Node{ll}, graph.Gradient(mean, wrt...)...)
		})
		require.NoError(t, err)
		outs, err := exec.Exec(c.Tokens.Tensor(dtypes.Int32))
		require.NoError(t, err)
		golden.Check(t.Errorf, "log-likelihood", outs[0], c.LogLik, 1e-10)
		for i, name := range names {
			golden.Check(t.Errorf, "d/d "+name, outs[1+i], c.LogLikGrads[hmm.Scope+"/"+name], 1e-10)
		}
	}
}

// tables softmaxes logits row by row, as the model does, in float64.
func softmaxRows(flat []float64, rows, cols int) [][]float64 {
	out := make([][]float64, rows)
	for i := range out {
		row := flat[i*cols : (i+1)*cols]
		m := math.Inf(-1)
		for _, x := range row {
			m = max(m, x)
		}
		var sum float64
		out[i] = make([]float64, cols)
		for j, x := range row {
			out[i][j] = math.Exp(x - m)
			sum += out[i][j]
		}
		for j := range out[i] {
			out[i][j] /= sum
		}
	}
	return out
}

// TestBruteForce: log p(x) against the sum over every path of hidden states, written out (3 states,
// 5 steps: 243 paths), and the positions' log-probabilities against the ratios of such sums.
func TestBruteForce(t *testing.T) {
	c := loadCases(t)[0] // 3 states, 5 tokens, batch 2, 4 steps
	cfg := c.Config
	cfg.DType = dtypes.Float64
	n, v := cfg.States, cfg.VocabSize
	pi := softmaxRows(c.Params["hmm/initial"].Data, 1, n)[0]
	a := softmaxRows(c.Params["hmm/transition"].Data, n, n)
	em := softmaxRows(c.Params["hmm/emission"].Data, n, v)
	// p(x_0..x_k) by enumeration.
	prefix := func(x []int) float64 {
		var total float64
		paths := int(math.Pow(float64(n), float64(len(x))))
		for code := range paths {
			z := make([]int, len(x))
			for i, r := 0, code; i < len(x); i++ {
				z[i], r = r%n, r/n
			}
			p := pi[z[0]] * em[z[0]][x[0]]
			for i := 1; i < len(x); i++ {
				p *= a[z[i-1]][z[i]] * em[z[i]][x[i]]
			}
			total += p
		}
		return total
	}
	ctx := context.New()
	for _, name := range []string{"initial", "transition", "emission"} {
		ctx.In(hmm.Scope).VariableWithValue(name, c.Params[hmm.Scope+"/"+name].Tensor(dtypes.Float64))
	}
	outs, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, tokens *graph.Node) []*graph.Node {
		return []*graph.Node{cfg.LogLikelihood(ctx, tokens), cfg.Logits(ctx, tokens)}
	})
	require.NoError(t, err)
	res, err := outs.Exec(c.Tokens.Tensor(dtypes.Int32))
	require.NoError(t, err)
	ll := res[0].Value().([]float64)
	logits := res[1].Value().([][][]float64)
	batch, seq := c.Tokens.Shape[0], c.Tokens.Shape[1]
	for b := range batch {
		x := make([]int, seq)
		for i := range x {
			x[i] = int(c.Tokens.Data[b*seq+i])
		}
		require.InDelta(t, math.Log(prefix(x)), ll[b], 1e-12, "sequence %d", b)
		for s := range seq - 1 {
			for w := range v {
				next := append(append([]int(nil), x[:s+1]...), w)
				require.InDelta(t, math.Log(prefix(next)/prefix(x[:s+1])), logits[b][s][w], 1e-12, "sequence %d, position %d, token %d", b, s, w)
			}
		}
	}
}

// TestGenerator: samples of the asked length from the model's tables, the same for the same seed,
// other for another, and greedy decoding picks the likeliest next token as the graph's logits say.
func TestGenerator(t *testing.T) {
	c := loadCases(t)[1]
	cfg := c.Config
	ctx := context.New()
	for _, name := range []string{"initial", "transition", "emission"} {
		ctx.In(hmm.Scope).VariableWithValue(name, c.Params[hmm.Scope+"/"+name].Tensor(dtypes.Float32))
	}
	gen, err := cfg.NewGenerator(backend.MustShared(), ctx)
	require.NoError(t, err)
	draw := func(prompt []int32, n int, s lm.Sampling) []int32 {
		var out []int32
		require.NoError(t, gen.Stream(prompt, n, s, func(tok int32) error { out = append(out, tok); return nil }))
		return out
	}
	s := lm.Sampling{Temperature: 1, Seed: 3}
	a := draw([]int32{1, 2, 3}, 50, s)
	require.Len(t, a, 50)
	require.Equal(t, a, draw([]int32{1, 2, 3}, 50, s))
	s.Seed = 4
	require.NotEqual(t, a, draw([]int32{1, 2, 3}, 50, s))
	for _, tok := range a {
		require.True(t, tok >= 0 && int(tok) < cfg.VocabSize)
	}
	// Greedy after a prompt: the argmax of the graph's last position.
	prompt := []int32{5, 9, 1, 30, 2}
	greedy := draw(prompt, 1, lm.Sampling{})
	logits, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, tokens *graph.Node) *graph.Node {
		return cfg.Logits(ctx, tokens)
	})
	require.NoError(t, err)
	out, err := logits.Exec(tensors.FromValue([][]int32{prompt}))
	require.NoError(t, err)
	last := out[0].Value().([][][]float32)[0][len(prompt)-1]
	best := 0
	for w, l := range last {
		if l > last[best] {
			best = w
		}
	}
	require.Equal(t, int32(best), greedy[0])
	require.Error(t, gen.Stream([]int32{int32(cfg.VocabSize)}, 1, s, func(int32) error { return nil }))
	_, err = hmm.Config{States: 4, VocabSize: 8}.NewGenerator(backend.MustShared(), context.New())
	require.ErrorContains(t, err, "no variable hmm/initial")
}

func TestValidate(t *testing.T) {
	require.EqualError(t, hmm.Config{States: 0, VocabSize: 1, InitStddev: -1}.Validate(),
		"hmm.Config: States 0 must be positive\nVocabSize 1 must be at least 2\nInitStddev -1 must not be negative")
	c := hmm.Config{States: 128, VocabSize: 256}
	require.Equal(t, 128+128*128+128*256, c.NumParams())
	require.Equal(t, 6.0*128*(128+256), c.FLOPsPerToken(64))
}
