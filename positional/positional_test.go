package positional_test

import (
	"fmt"
	"math"
	"strconv"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/positional"
)

type ropeCase struct {
	X, Positions, R, Out, DX golden.Array
	Base                     float64
}

type goldenFile struct {
	Sinusoidal  map[string]golden.Array `json:"sinusoidal"`
	RoPE        map[string]ropeCase     `json:"rope"`
	ALiBiSlopes map[string][]float64    `json:"alibi_slopes"`
	ALiBiBias   map[string]golden.Array `json:"alibi_bias"`
}

func loadGolden(t *testing.T) goldenFile {
	t.Helper()
	var f goldenFile
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.NotEmpty(t, f.Sinusoidal)
	require.NotEmpty(t, f.RoPE)
	require.NotEmpty(t, f.ALiBiSlopes)
	require.NotEmpty(t, f.ALiBiBias)
	return f
}

func TestSinusoidalGolden(t *testing.T) {
	for name, want := range loadGolden(t).Sinusoidal {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			t.Run(name+"/"+dtype.String(), func(t *testing.T) {
				seq, dim := want.Shape[0], want.Shape[1]
				got, err := graph.ExecOnce(backend.MustShared(), func(g *graph.Graph) *graph.Node {
					return positional.Sinusoidal(g, dtype, seq, dim)
				})
				require.NoError(t, err)
				require.Equal(t, dtype, got.DType())
				tol := 2e-5
				if dtype == dtypes.Float64 {
					tol = 1e-12
				}
				golden.Check(t.Errorf, "sinusoidal", got, want, tol)
			})
		}
	}
}

func TestRoPEGolden(t *testing.T) {
	for name, c := range loadGolden(t).RoPE {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			t.Run(name+"/"+dtype.String(), func(t *testing.T) {
				exec, err := graph.NewExec(backend.MustShared(), func(x, pos, r *graph.Node) []*graph.Node {
					out := positional.RoPE(x, pos, c.Base)
					return []*graph.Node{out, graph.Gradient(graph.ReduceAllSum(graph.Mul(out, r)), x)[0]}
				})
				require.NoError(t, err)
				outs, err := exec.Exec(c.X.Tensor(dtype), c.Positions.Tensor(dtypes.Int32), c.R.Tensor(dtype))
				require.NoError(t, err)
				tol := 2e-5
				if dtype == dtypes.Float64 {
					tol = 1e-12
				}
				// RoPE rotates pairs with a matmul, which XLA on a GPU runs in TF32 for float32.
				tol, gradTol := golden.Tol(backend.MustShared(), dtype, tol, tol)
				golden.Check(t.Errorf, "out", outs[0], c.Out, tol)
				golden.Check(t.Errorf, "dx", outs[1], c.DX, gradTol)
			})
		}
	}
}

func TestALiBiSlopesGolden(t *testing.T) {
	for n, want := range loadGolden(t).ALiBiSlopes {
		heads, err := strconv.Atoi(n)
		require.NoError(t, err)
		got, err := positional.ALiBiSlopes(heads)
		require.NoError(t, err)
		require.InDeltaSlice(t, want, got, 1e-15, "heads=%d", heads)
	}
	_, err := positional.ALiBiSlopes(0)
	require.ErrorContains(t, err, "numHeads must be at least 1, got 0")
}

func TestALiBiBiasGolden(t *testing.T) {
	for name, want := range loadGolden(t).ALiBiBias {
		t.Run(name, func(t *testing.T) {
			h, q, kv := want.Shape[0], want.Shape[1], want.Shape[2]
			got, err := graph.ExecOnce(backend.MustShared(), func(g *graph.Graph) *graph.Node {
				return positional.ALiBiBias(g, dtypes.Float32, h, q, kv)
			})
			require.NoError(t, err)
			golden.Check(t.Errorf, "bias", got, want, 2e-5)
		})
	}
}

func TestLearned(t *testing.T) {
	ctx := context.New()
	table := make([]float32, 8*3)
	for i := range table {
		table[i] = float32(i) / 10
	}
	ctx.In("wpe").VariableWithValue(positional.LearnedVariable, tensors.FromFlatDataAndDimensions(table, 8, 3))
	got, err := context.ExecOnce(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, pos *graph.Node) *graph.Node {
		return positional.Learned(ctx.In("wpe"), pos, 8, 3, dtypes.Float32)
	}, [][]int32{{0, 7}, {2, 3}})
	require.NoError(t, err)
	require.Equal(t, [][][]float32{{{0, 0.1, 0.2}, {2.1, 2.2, 2.3}}, {{0.6, 0.7, 0.8}, {0.9, 1.0, 1.1}}}, got.Value())

	// A fresh table is random (N(0, 0.02²)), not zeros.
	fresh, err := context.ExecOnce(backend.MustShared(), context.New(), func(ctx *context.Context, pos *graph.Node) *graph.Node {
		return positional.Learned(ctx, pos, 16, 4, dtypes.Float32)
	}, []int32{0, 1, 2, 3})
	require.NoError(t, err)
	var nonZero int
	for _, x := range tensors.MustCopyFlatData[float32](fresh) {
		require.Less(t, float64(x*x), 0.01)
		if x != 0 {
			nonZero++
		}
	}
	require.Equal(t, 16, nonZero)
}

// TestPanicsNameShapes checks that bad shapes panic while building, with the shapes in the message.
func TestPanicsNameShapes(t *testing.T) {
	b := backend.MustShared()
	cases := []struct {
		name, want string
		fn         func(g *graph.Graph)
	}{
		{"rope odd headDim", "headDim must be even, got x shape (Float32)[1 2 3 5]", func(g *graph.Graph) {
			positional.RoPE(graph.Zeros(g, shapes.Make(dtypes.Float32, 1, 2, 3, 5)), graph.Iota(g, shapes.Make(dtypes.Int32, 2), 0), 1e4)
		}},
		{"rope rank", "x must be [batch, seq, heads, headDim], got shape (Float32)[2 8]", func(g *graph.Graph) {
			positional.RoPE(graph.Zeros(g, shapes.Make(dtypes.Float32, 2, 8)), graph.Iota(g, shapes.Make(dtypes.Int32, 2), 0), 1e4)
		}},
		{"rope positions", "positions must be [seq] or [batch, seq] for x (Float32)[1 2 3 4], got (Int32)[3]", func(g *graph.Graph) {
			positional.RoPE(graph.Zeros(g, shapes.Make(dtypes.Float32, 1, 2, 3, 4)), graph.Iota(g, shapes.Make(dtypes.Int32, 3), 0), 1e4)
		}},
		{"learned too long", "sequence length 9 (positions (Int32)[9]) exceeds MaxSeqLen 8", func(g *graph.Graph) {
			positional.Learned(context.New(), graph.Iota(g, shapes.Make(dtypes.Int32, 9), 0), 8, 4, dtypes.Float32)
		}},
		{"sinusoidal size", "seqLen (0) and dim (4) must be positive", func(g *graph.Graph) {
			positional.Sinusoidal(g, dtypes.Float32, 0, 4)
		}},
		{"alibi kvLen", "need numHeads >= 1 and 1 <= qLen <= kvLen, got numHeads=2 qLen=5 kvLen=3", func(g *graph.Graph) {
			positional.ALiBiBias(g, dtypes.Float32, 2, 5, 3)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := graph.NewGraph(b, c.name)
			defer g.Finalize()
			msg, panicked := golden.PanicMessage(func() { c.fn(g) })
			require.True(t, panicked, "no panic")
			require.Contains(t, msg, c.want)
		})
	}
}

// TestSinusoidalTableTooLarge: sizes whose product overflows, or makes a table no model could use,
// are an error naming them, not an index or allocation panic.
func TestSinusoidalTableTooLarge(t *testing.T) {
	for _, c := range [][2]int{{math.MaxInt / 2, 4}, {1 << 20, 1 << 20}, {1 << 62, 1 << 62}} {
		_, err := positional.SinusoidalTable(c[0], c[1])
		require.ErrorContains(t, err, fmt.Sprintf("seqLen %d × dim %d is more than a table of 1073741824 values", c[0], c[1]))
	}
	table, err := positional.SinusoidalTable(3, 2)
	require.NoError(t, err)
	require.Len(t, table, 6)
}
