package sgemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naive is out + a·bᵀ in float64, the reference.
func naive(out, a, b []float32, m, n, k, lda, ldb, ldo int) []float64 {
	want := make([]float64, len(out))
	for i := range out {
		want[i] = float64(out[i])
	}
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += float64(a[i*lda+p]) * float64(b[j*ldb+p])
			}
			want[i*ldo+j] += s
		}
	}
	return want
}

func random(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// checkDotNT runs DotNT on random inputs and compares every element of out (including the padding
// past each row, which must not change) with the float64 reference: the tolerance is float32
// rounding of k terms, relative to the sum of the terms' magnitudes.
func checkDotNT(t *testing.T, rng *rand.Rand, m, n, k, pad int) {
	t.Helper()
	lda, ldb, ldo := k+pad, k+2*pad, n+pad
	a, b := random(rng, (m-1)*lda+k+pad), random(rng, (n-1)*ldb+k+pad)
	out := random(rng, (m-1)*ldo+n+pad)
	want := naive(out, a, b, m, n, k, lda, ldb, ldo)
	DotNT(out, a, b, m, n, k, lda, ldb, ldo)
	for idx := range out {
		i, j := idx/ldo, idx%ldo
		inside := i < m && j < n
		if !inside {
			if float64(out[idx]) != want[idx] {
				t.Fatalf("m=%d n=%d k=%d pad=%d: out[%d] outside the product changed: %g, was %g", m, n, k, pad, idx, out[idx], want[idx])
			}
			continue
		}
		var mag float64
		for p := range k {
			mag += math.Abs(float64(a[i*lda+p]) * float64(b[j*ldb+p]))
		}
		tol := 4*float64(k)*0x1p-24*mag + 1e-6
		if d := math.Abs(float64(out[idx]) - want[idx]); d > tol {
			t.Fatalf("m=%d n=%d k=%d pad=%d: out[%d,%d] = %g, want %g (|diff| %g > %g)", m, n, k, pad, i, j, out[idx], want[idx], d, tol)
		}
	}
}

func TestDotNTAgainstFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Every remainder of m (tiles of 2), n (of 4) and k (of 8), k across the kc slice, and padding.
	for _, m := range []int{1, 2, 3, 5, 32} {
		for _, n := range []int{1, 3, 4, 7, 12, 32, 45} {
			for _, k := range []int{1, 2, 4, 7, 8, 10, 12, 13, 32, 520, 1100} {
				for _, pad := range []int{0, 3} {
					checkDotNT(t, rng, m, n, k, pad)
				}
			}
		}
	}
}

// TestKernelsAgree runs both kernels where this CPU has the assembly one: the same tiles, to rounding.
func TestKernelsAgree(t *testing.T) {
	if !useAsm {
		t.Skip("no AVX2/FMA kernel on this machine (or BITTER_SGEMM_GO is set)")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, k := range []int{8, 32, 512} {
		a, b := random(rng, 2*k), random(rng, 4*k)
		o1, o2 := random(rng, 8), make([]float32, 8)
		copy(o2, o1)
		kern2x4AVX2(&a[0], k, &b[0], k, k, &o1[0], 4)
		kern2x4Go(a, k, b, k, k, o2, 4)
		r1, r2 := random(rng, 4), make([]float32, 4)
		copy(r2, r1)
		kern1x4AVX2(&a[0], &b[0], k, k, &r1[0])
		kern1x4Go(a, b, k, k, r2)
		for i := range o1 {
			if d := math.Abs(float64(o1[i] - o2[i])); d > 1e-5*float64(k) {
				t.Errorf("k=%d: 2x4 tile element %d: asm %g, Go %g", k, i, o1[i], o2[i])
			}
		}
		for i := range r1 {
			if d := math.Abs(float64(r1[i] - r2[i])); d > 1e-5*float64(k) {
				t.Errorf("k=%d: 1x4 tile element %d: asm %g, Go %g", k, i, r1[i], r2[i])
			}
		}
	}
}

// TestGoKernelAgainstFloat64 checks the portable kernel through DotNT on a CPU with AVX2 as well.
func TestGoKernelAgainstFloat64(t *testing.T) {
	defer func(old bool) { useAsm = old }(useAsm)
	useAsm = false
	rng := rand.New(rand.NewPCG(5, 6))
	for _, dims := range [][3]int{{3, 7, 13}, {32, 32, 32}, {5, 9, 1100}} {
		checkDotNT(t, rng, dims[0], dims[1], dims[2], 2)
	}
}

func TestDotNTDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a, b := random(rng, 37*75), random(rng, 29*75)
	o1, o2 := make([]float32, 37*29), make([]float32, 37*29)
	DotNT(o1, a, b, 37, 29, 75, 75, 75, 29)
	DotNT(o2, a, b, 37, 29, 75, 75, 75, 29)
	for i := range o1 {
		if math.Float32bits(o1[i]) != math.Float32bits(o2[i]) {
			t.Fatalf("element %d: %g then %g", i, o1[i], o2[i])
		}
	}
}

func TestDotNTRejectsShortSlices(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic for an a shorter than m rows")
		}
	}()
	DotNT(make([]float32, 4), make([]float32, 3), make([]float32, 4), 2, 2, 2, 2, 2, 2)
}

// BenchmarkDotNT: GFLOP/s of one core on the shapes the pure-Go backend hands over: its 32x32
// blocks, and whole matrices of the small path.
func BenchmarkDotNT(b *testing.B) {
	for _, d := range [][3]int{{32, 32, 32}, {64, 64, 64}, {128, 512, 128}, {128, 128, 4096}} {
		m, n, k := d[0], d[1], d[2]
		b.Run(fmt.Sprintf("%dx%dx%d", m, n, k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			x, y, out := random(rng, m*k), random(rng, n*k), make([]float32, m*n)
			for b.Loop() {
				DotNT(out, x, y, m, n, k, k, k, n)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
