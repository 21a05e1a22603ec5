package main

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
)

func TestProbeOnThisBackend(t *testing.T) {
	b := backend.MustShared()
	res, err := Probe(b, 3)
	require.NoError(t, err)
	require.NotEmpty(t, res.Description)
	// In float32 the errors are rounding, far inside the tolerance; with float32 matmuls in TF32
	// (on a GPU, or emulated: BITTER_EMULATE_TF32=1) they are TF32's, still inside it.
	bound := 1e-5
	if backend.TF32(b) {
		bound = Tol
	}
	require.Less(t, res.LossErr, bound)
	require.Less(t, res.GradErr, bound)
	t.Logf("%s: loss %.1e, gradient %.1e", res.Description, res.LossErr, res.GradErr)
	require.Positive(t, res.Run)
}

// TestReferenceIsTheGradient checks the float64 reference's gradient against central differences of
// its loss, so that the probe compares with a right answer.
func TestReferenceIsTheGradient(t *testing.T) {
	const n, d, c = 3, 4, 5
	x := []float32{0.3, -1.2, 0.8, 0.1, -0.5, 0.9, 1.4, -0.2, 0.7, -0.6, 0.05, 1.1}
	w := make([]float32, d*c)
	for i := range w {
		w[i] = float32(math.Sin(float64(i)*1.7)) * 0.5
	}
	labels := []int32{4, 0, 2}
	_, grad := reference(x, w, labels, n, d, c)
	const eps = 1e-3
	for i := range w {
		saved := w[i]
		w[i] = saved + eps
		plus, _ := reference(x, w, labels, n, d, c)
		w[i] = saved - eps
		minus, _ := reference(x, w, labels, n, d, c)
		w[i] = saved
		// eps is rounded to float32 in w: divide by the step w actually took.
		step := float64(saved+eps) - float64(saved-eps)
		require.InDelta(t, (plus-minus)/step, grad[i], 1e-6, "d loss / d w[%d]", i)
	}
}

// TestWrongResultsFail: the probe's check (golden.RelErr within Tol) fails an unwritten output and
// a NaN.
func TestWrongResultsFail(t *testing.T) {
	want := []float64{1, -2, 3}
	require.InDelta(t, 0, golden.RelErr(float64s([]float32{1, -2, 3}), want), 1e-12)
	require.Greater(t, golden.RelErr(float64s([]float32{0, 0, 0}), want), Tol, "an unwritten output")
	require.False(t, golden.RelErr(float64s([]float32{1, float32(math.NaN()), 3}), want) <= Tol, "a NaN must not pass")
}
