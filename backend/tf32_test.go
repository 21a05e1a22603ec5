package backend_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
)

func TestEmulateTF32RoundsFloat32MatmulOperands(t *testing.T) {
	t.Setenv(backend.EmulateTF32EnvVar, "")
	b, err := backend.NewWithConfig(backend.DefaultConfig)
	require.NoError(t, err)
	defer b.Finalize()
	require.False(t, backend.TF32(b))
	e := backend.EmulateTF32(b)
	require.True(t, backend.TF32(e))
	require.Equal(t, "go", e.String())
	require.Contains(t, e.Description(), "TF32")

	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 64)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
	}
	x[0], x[1] = 1+1.0/4096, -(1 + 3.0/4096) // a quarter and three quarters of TF32's step 2^-10 at 1
	eye := make([][]float32, len(x))
	for i := range eye {
		eye[i] = make([]float32, len(x))
		eye[i][i] = 1
	}
	for _, tf32 := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "emulated"}[tf32], func(t *testing.T) {
			on := b
			if tf32 {
				on = e
			}
			dot, err := graph.ExecOnce(on, func(x, eye *graph.Node) *graph.Node { return graph.Dot(eye, x) }, x, eye)
			require.NoError(t, err)
			general, err := graph.ExecOnce(on, func(x, eye *graph.Node) *graph.Node {
				return graph.DotGeneral(x, []int{0}, nil, eye, []int{0}, nil)
			}, x, eye)
			require.NoError(t, err)
			require.Equal(t, dot.Value(), general.Value(), "Dot and DotGeneral")
			got := dot.Value().([]float32)
			for i, v := range x {
				if !tf32 {
					require.Equal(t, v, got[i])
					continue
				}
				bits := math.Float32bits(got[i])
				require.Zero(t, bits&(1<<13-1), "x=%g: %g keeps more than TF32's 10 mantissa bits", v, got[i])
				ulp := math.Ldexp(1, math.Ilogb(float64(v))-10) // TF32's step at v's binade
				require.LessOrEqual(t, math.Abs(float64(got[i])-float64(v)), ulp/2, "x=%g rounded to %g", v, got[i])
			}
			if tf32 {
				require.Equal(t, float32(1), got[0])
				require.Equal(t, float32(-(1 + 4.0/4096)), got[1])
			}
		})
	}

	// float64 matmuls are left alone.
	x64 := []float64{1 + 1e-9, -3.25e-7}
	out, err := graph.ExecOnce(e, func(x, eye *graph.Node) *graph.Node { return graph.Dot(eye, x) },
		x64, [][]float64{{1, 0}, {0, 1}})
	require.NoError(t, err)
	require.Equal(t, x64, out.Value())
}

func TestEmulateTF32FromEnv(t *testing.T) {
	t.Setenv(backend.EmulateTF32EnvVar, "1")
	b, err := backend.NewWithConfig(backend.DefaultConfig)
	require.NoError(t, err)
	defer b.Finalize()
	require.True(t, backend.TF32(b))
	require.True(t, backend.EmulateTF32(b) == b, "wrapping twice")
}
