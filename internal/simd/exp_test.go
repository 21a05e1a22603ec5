package simd

import (
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// expCheck compares Exp with float32(math.Exp(float64(x))) bit for bit (NaN for NaN).
func expCheck(t *testing.T, src []float32) {
	t.Helper()
	dst := make([]float32, len(src))
	Exp(dst, src)
	bad := 0
	for i, x := range src {
		want := float32(math.Exp(float64(x)))
		got := dst[i]
		if math.Float32bits(got) != math.Float32bits(want) && !(want != want && got != got) {
			if bad < 5 {
				t.Errorf("Exp(%g [%#08x]) = %g [%#08x], Go gives %g [%#08x]", x, math.Float32bits(x), got, math.Float32bits(got), want, math.Float32bits(want))
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d differ", bad, len(src))
	}
}

// TestExpMatchesGo: every 1,021st float32 bit pattern (both signs, all exponents: 4.2 million
// values, NaNs and infinities among them), every 997th where float32(exp) is neither 0 nor +Inf
// (2.3 million), random values at lengths around the 8-element blocks, in place. (All 2^32 were
// compared once with BITTER_EXP_ALL=1.)
func TestExpMatchesGo(t *testing.T) {
	if !useExpAsm {
		t.Log("no AVX2/FMA here: Exp is Go's loop")
	}
	var src []float32
	for b := uint64(0); b < 1<<32; b += 1021 {
		src = append(src, math.Float32frombits(uint32(b)))
	}
	expCheck(t, src)
	src = src[:0]
	for _, hi := range []float32{95, -110} { // |x| up to where float32(exp) is 0 or +Inf, every 997th
		for b := uint32(0); b <= math.Float32bits(hi); b += 997 {
			src = append(src, math.Float32frombits(b|math.Float32bits(hi)&(1<<31)))
		}
	}
	expCheck(t, src)
	rng := rand.New(rand.NewPCG(3, 4))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
		float32(math.Copysign(0, -1)), -1e30, 1e30, -88.72284, 88.72284, 88.72283, -103.97208, -103.97209}
	for _, n := range []int{0, 1, 7, 8, 9, 16, 31, 33, 100, 1029} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * 20)
			if rng.IntN(20) == 0 {
				x[i] = special[rng.IntN(len(special))]
			}
		}
		expCheck(t, x)
		want := make([]float32, n)
		for i, v := range x {
			want[i] = float32(math.Exp(float64(v)))
		}
		Exp(x, x) // in place
		for i := range x {
			if math.Float32bits(x[i]) != math.Float32bits(want[i]) && !(x[i] != x[i] && want[i] != want[i]) {
				t.Fatalf("in place, n=%d: element %d is %g, want %g", n, i, x[i], want[i])
			}
		}
	}
}

// TestExpAllFloat32 compares all 2^32 float32 values when BITTER_EXP_ALL is set (a minute or so).
func TestExpAllFloat32(t *testing.T) {
	if os.Getenv("BITTER_EXP_ALL") == "" {
		t.Skip("set BITTER_EXP_ALL=1 to compare every float32")
	}
	src := make([]float32, 1<<24)
	for hi := uint64(0); hi < 1<<32; hi += 1 << 24 {
		for i := range src {
			src[i] = math.Float32frombits(uint32(hi) + uint32(i))
		}
		expCheck(t, src)
	}
}

func BenchmarkExp(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	src, dst := make([]float32, 4096), make([]float32, 4096)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 5)
	}
	b.Run("simd", func(b *testing.B) {
		b.SetBytes(4 * int64(len(src)))
		for b.Loop() {
			Exp(dst, src)
		}
	})
	b.Run("go", func(b *testing.B) {
		b.SetBytes(4 * int64(len(src)))
		for b.Loop() {
			for i, x := range src {
				dst[i] = float32(math.Exp(float64(x)))
			}
		}
	})
}
