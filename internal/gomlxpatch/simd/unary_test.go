package simd

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// unaryFuncs are the vectorised functions and the Go expressions they must equal bit for bit.
var unaryFuncs = []struct {
	name string
	fn   func(dst, src []float32)
	ref  func(float32) float32
	// hi: |x| past which the result no longer changes (float32 0, 1, ±1 or +Inf), for the dense sample.
	hi float32
}{
	{"Exp", Exp, exp32, 110},
	{"Sigmoid", Sigmoid, sigmoid32, 110},
	{"Tanh", Tanh, tanh32, 50},
	{"Erf", Erf, erf32, 7},
}

// check compares fn with ref on src, bit for bit (NaN for NaN).
func check(t *testing.T, name string, fn func(dst, src []float32), ref func(float32) float32, src []float32) {
	t.Helper()
	dst := make([]float32, len(src))
	fn(dst, src)
	bad := 0
	for i, x := range src {
		want, got := ref(x), dst[i]
		if !sameBits(got, want) {
			if bad < 5 {
				t.Errorf("%s(%g [%#08x]) = %g [%#08x], Go gives %g [%#08x]", name, x, math.Float32bits(x), got, math.Float32bits(got), want, math.Float32bits(want))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d differ", name, bad, len(src))
	}
}

// TestUnaryMatchGo: for Exp, Sigmoid, Tanh and Erf, every 1,021st float32 bit pattern (both signs, all
// exponents: 4.2 million values, NaNs and infinities among them), every 997th where the result
// still changes (2 million or more), random values at lengths around the 8-element blocks, in place.
// (All 2^32 inputs were compared once with BITTER_SIMD_ALL=1.)
func TestUnaryMatchGo(t *testing.T) {
	if !useExpAsm {
		t.Log("no AVX2/FMA here: these are Go's loops")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
		float32(math.Copysign(0, -1)), -1e30, 1e30, -88.72284, 88.72284, 88.72283, -103.97208, -103.97209,
		0.625, -0.625, math.Nextafter32(0.625, 0), 44.014847, -44.014847, 44.01484, 1e-30, -1e-40,
		0.84375, -0.84375, 1.25, -1.25, 6, -6, 2.857143, 2.8571427, 3.7252903e-09, 3.7252899e-09, 5.9999995}
	for _, f := range unaryFuncs {
		var src []float32
		for b := uint64(0); b < 1<<32; b += 1021 {
			src = append(src, math.Float32frombits(uint32(b)))
		}
		for _, hi := range []float32{f.hi, -f.hi} {
			for b := uint32(0); b <= math.Float32bits(hi)&^(1<<31); b += 997 {
				src = append(src, math.Float32frombits(b|math.Float32bits(hi)&(1<<31)))
			}
		}
		src = append(src, special...)
		check(t, f.name, f.fn, f.ref, src)
		for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 100, 1029} {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64() * 20)
				if rng.IntN(20) == 0 {
					x[i] = special[rng.IntN(len(special))]
				}
			}
			check(t, f.name, f.fn, f.ref, x)
			want := make([]float32, n)
			for i, v := range x {
				want[i] = f.ref(v)
			}
			f.fn(x, x) // in place
			for i := range x {
				if !sameBits(x[i], want[i]) {
					t.Fatalf("%s in place, n=%d: element %d is %g, want %g", f.name, n, i, x[i], want[i])
				}
			}
		}
	}
}

// TestUnaryAllFloat32 compares all 2^32 float32 inputs of each function when BITTER_SIMD_ALL is
// set (about a minute each on one core).
func TestUnaryAllFloat32(t *testing.T) {
	if os.Getenv("BITTER_SIMD_ALL") == "" {
		t.Skip("set BITTER_SIMD_ALL=1 to compare every float32")
	}
	src := make([]float32, 1<<24)
	for _, f := range unaryFuncs {
		for hi := uint64(0); hi < 1<<32; hi += 1 << 24 {
			for i := range src {
				src[i] = math.Float32frombits(uint32(hi) + uint32(i))
			}
			check(t, f.name, f.fn, f.ref, src)
		}
	}
}

func BenchmarkUnary(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	src, dst := make([]float32, 4096), make([]float32, 4096)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
	}
	for _, f := range unaryFuncs {
		b.Run(f.name+"/simd", func(b *testing.B) {
			b.SetBytes(4 * int64(len(src)))
			for b.Loop() {
				f.fn(dst, src)
			}
		})
		b.Run(f.name+"/go", func(b *testing.B) {
			b.SetBytes(4 * int64(len(src)))
			for b.Loop() {
				for i, x := range src {
					dst[i] = f.ref(x)
				}
			}
		})
	}
}
