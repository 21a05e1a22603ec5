package gradients_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
)

// checkGradients compares the gradients of loss(inputs...) (a scalar) with respect to every input
// against central finite differences, in float64.
func checkGradients(t *testing.T, loss func(in []*graph.Node) *graph.Node, inputs ...*tensors.Tensor) {
	t.Helper()
	b := backend.MustShared()
	grads, err := graph.NewExec(b, func(in []*graph.Node) []*graph.Node { return graph.Gradient(loss(in), in...) })
	require.NoError(t, err)
	asAny := func(in []*tensors.Tensor) []any {
		out := make([]any, len(in))
		for i, x := range in {
			out[i] = x
		}
		return out
	}
	got, err := grads.Exec(asAny(inputs)...)
	require.NoError(t, err)
	value, err := graph.NewExec(b, func(in []*graph.Node) *graph.Node { return loss(in) })
	require.NoError(t, err)
	eval := func(in []*tensors.Tensor) float64 {
		return tensors.MustCopyFlatData[float64](value.MustExec(asAny(in)...)[0])[0]
	}
	const eps = 1e-5 // truncation ~eps²·f'''/6 and rounding ~1e-16/eps, both well under the 1e-8 tolerance here
	for i, x := range inputs {
		require.Equal(t, x.Shape(), got[i].Shape(), "gradient %d's shape", i)
		grad := tensors.MustCopyFlatData[float64](got[i])
		flat := tensors.MustCopyFlatData[float64](x)
		for k := range flat {
			at := func(d float64) float64 {
				moved := append([]float64(nil), flat...)
				moved[k] += d
				in := append([]*tensors.Tensor(nil), inputs...)
				in[i] = tensors.FromFlatDataAndDimensions(moved, x.Shape().Dimensions...)
				return eval(in)
			}
			fd := (at(eps) - at(-eps)) / (2 * eps)
			require.InDelta(t, fd, grad[k], 1e-8, "input %d [%d]: finite difference %g, gradient %g", i, k, fd, grad[k])
		}
	}
}

// weighted is sum(y · w) for fixed random weights w of y's size, so that the adjoint is random.
func weighted(y *graph.Node, seed uint64) *graph.Node {
	rng := rand.New(rand.NewPCG(seed, 3))
	w := make([]float64, y.Shape().Size())
	for i := range w {
		w[i] = rng.Float64()*2 - 1
	}
	return graph.ReduceAllSum(graph.Mul(y, graph.Const(y.Graph(), tensors.FromFlatDataAndDimensions(w, y.Shape().Dimensions...))))
}

// values returns a [2, 3] tensor of the given values.
func values(v ...float64) *tensors.Tensor { return tensors.FromFlatDataAndDimensions(v, 2, 3) }

// TestGradientsGoMLXLacks checks the gradients registered for ops GoMLX v0.26 defines none for.
func TestGradientsGoMLXLacks(t *testing.T) {
	x := values(0.3, -1.7, 2.2, -0.4, 1.1, -2.6) // no integers, no clamp bound: every op is smooth here
	pos := values(0.3, 1.7, 2.2, 0.4, 1.1, 2.6)
	t.Run("Rsqrt", func(t *testing.T) {
		checkGradients(t, func(in []*graph.Node) *graph.Node { return weighted(graph.Rsqrt(in[0]), 1) }, pos)
	})
	t.Run("Expm1", func(t *testing.T) {
		checkGradients(t, func(in []*graph.Node) *graph.Node { return weighted(graph.Expm1(in[0]), 2) }, x)
	})
	t.Run("Clip_scalar_bounds", func(t *testing.T) {
		checkGradients(t, func(in []*graph.Node) *graph.Node { return weighted(graph.Clip(in[1], in[0], in[2]), 3) },
			tensors.FromValue(-1.0), x, tensors.FromValue(1.5))
	})
	t.Run("Clamp_elementwise_bounds", func(t *testing.T) {
		checkGradients(t, func(in []*graph.Node) *graph.Node { return weighted(graph.Clamp(in[0], in[1], in[2]), 4) },
			values(-1, -1, 0, 0, 1.5, -3), x, values(0, 1, 1, 0.5, 2, -2.5))
	})
	for name, op := range map[string]func(*graph.Node) *graph.Node{"Floor": graph.Floor, "Ceil": graph.Ceil, "Round": graph.Round} {
		t.Run(name, func(t *testing.T) {
			// A step function: zero gradient away from its steps, plus the smooth part beside it.
			checkGradients(t, func(in []*graph.Node) *graph.Node {
				return weighted(graph.Add(op(in[0]), graph.Mul(in[0], in[0])), 7)
			}, x)
		})
	}
}
