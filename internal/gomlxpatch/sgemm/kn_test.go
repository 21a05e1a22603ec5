package sgemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// checkDotKN runs DotKN on random inputs, with a in rows (transposed = false: a is m rows of k,
// lda apart) or in columns (a is k rows of m, lda apart), and compares every element of out,
// including the padding past each row, with float64.
func checkDotKN(t *testing.T, rng *rand.Rand, m, n, k, pad int, transposed bool) {
	t.Helper()
	lda, ldb, ldo := k+pad, n+2*pad, n+pad
	ars, acs, aLen := lda, 1, (m-1)*lda+k+pad
	if transposed {
		lda = m + pad
		ars, acs, aLen = 1, lda, (k-1)*lda+m+pad
	}
	a, b := random(rng, aLen), random(rng, (k-1)*ldb+n+pad)
	out := random(rng, (m-1)*ldo+n+pad)
	want := make([]float64, len(out))
	for i := range out {
		want[i] = float64(out[i])
	}
	mag := make([]float64, len(out))
	for i := range m {
		for j := range n {
			for p := range k {
				x := float64(a[i*ars+p*acs]) * float64(b[p*ldb+j])
				want[i*ldo+j] += x
				mag[i*ldo+j] += math.Abs(x)
			}
		}
	}
	DotKN(out, a, b, m, n, k, ars, acs, ldb, ldo)
	for idx := range out {
		i, j := idx/ldo, idx%ldo
		if i >= m || j >= n {
			if float64(out[idx]) != want[idx] {
				t.Fatalf("m=%d n=%d k=%d pad=%d transposed=%v: out[%d] outside the product changed", m, n, k, pad, transposed, idx)
			}
			continue
		}
		tol := 4*float64(k)*0x1p-24*mag[idx] + 1e-6
		if d := math.Abs(float64(out[idx]) - want[idx]); d > tol {
			t.Fatalf("m=%d n=%d k=%d pad=%d transposed=%v: out[%d,%d] = %g, want %g (|diff| %g > %g)",
				m, n, k, pad, transposed, i, j, out[idx], want[idx], d, tol)
		}
	}
}

func TestDotKNAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	// Every remainder of m (tiles of 4) and n (of 16), short and long k, padding, both layouts of a.
	for _, m := range []int{1, 3, 4, 5, 9, 33} {
		for _, n := range []int{1, 15, 16, 17, 40, 64} {
			for _, k := range []int{1, 2, 7, 64, 1100} {
				for _, pad := range []int{0, 3} {
					for _, tr := range []bool{false, true} {
						checkDotKN(t, rng, m, n, k, pad, tr)
					}
				}
			}
		}
	}
}

// TestKNKernelsAgree runs both kernels where this CPU has the assembly one: the same tiles, to rounding.
func TestKNKernelsAgree(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA assembly kernel on this CPU")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, k := range []int{1, 9, 300} {
		a, b := random(rng, 4*k+4), random(rng, k*20)
		o1, o2 := random(rng, 4*18), make([]float32, 4*18)
		copy(o2, o1)
		kernKN4x16AVX2(&a[0], k, 1, &b[0], 20, k, &o1[0], 18)
		kernKN4x16Go(a, k, 1, b, 20, k, o2, 18)
		r1, r2 := random(rng, 16), make([]float32, 16)
		copy(r2, r1)
		kernKN1x16AVX2(&a[0], 4, &b[0], 20, k, &r1[0])
		kernKN1x16Go(a, 4, b, 20, k, r2)
		for i := range o1 {
			if d := math.Abs(float64(o1[i] - o2[i])); d > 1e-4*math.Sqrt(float64(k)) {
				t.Fatalf("k=%d: 4x16 element %d: asm %g, Go %g", k, i, o1[i], o2[i])
			}
		}
		for i := range r1 {
			if d := math.Abs(float64(r1[i] - r2[i])); d > 1e-4*math.Sqrt(float64(k)) {
				t.Fatalf("k=%d: 1x16 element %d: asm %g, Go %g", k, i, r1[i], r2[i])
			}
		}
	}
}

func TestDotKNRejectsShortSlices(t *testing.T) {
	a, b, out := make([]float32, 4*8), make([]float32, 8*16), make([]float32, 4*16)
	DotKN(out, a, b, 4, 16, 8, 8, 1, 16, 16) // fits exactly
	for _, c := range []struct{ m, n, k, ars, acs, ldb, ldo int }{
		{5, 16, 8, 8, 1, 16, 16}, {4, 17, 8, 8, 1, 17, 17}, {4, 16, 9, 8, 1, 16, 16}, {4, 16, 8, 1, 5, 16, 16},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", c)
				}
			}()
			DotKN(out, a, b, c.m, c.n, c.k, c.ars, c.acs, c.ldb, c.ldo)
		}()
	}
}

func BenchmarkDotKN(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, d := range []struct {
		name              string
		m, n, k, ars, acs int
	}{
		{"NN_4x960x240", 4, 960, 240, 240, 1},       // an LSTM step: h·W
		{"TN_240x960x4", 240, 960, 4, 1, 240},       // its weight gradient over a batch of 4
		{"NN_2048x512x128", 2048, 512, 128, 128, 1}, // a transformer projection
		{"TN_128x512x2048", 128, 512, 2048, 1, 128}, // its weight gradient over 2,048 tokens
	} {
		b.Run(d.name, func(b *testing.B) {
			aLen := (d.m-1)*d.ars + (d.k-1)*d.acs + 1
			x, y, out := random(rng, aLen), random(rng, d.k*d.n), make([]float32, d.m*d.n)
			for b.Loop() {
				DotKN(out, x, y, d.m, d.n, d.k, d.ars, d.acs, d.n, d.n)
			}
			b.ReportMetric(2*float64(d.m*d.n*d.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
