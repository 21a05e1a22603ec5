package simd

import (
	"math"
	"math/rand/v2"
	"testing"
)

func goApply(op Op, dst, a, b []float32) {
	for i := range dst {
		switch op {
		case Add:
			dst[i] = a[i] + b[i]
		case Sub:
			dst[i] = a[i] - b[i]
		case Mul:
			dst[i] = a[i] * b[i]
		case Div:
			dst[i] = a[i] / b[i]
		}
	}
}

// TestApplyMatchesGo compares Apply with the plain Go loop bit for bit (NaN for NaN: Go leaves a
// NaN's payload to the hardware and an add's operand order to the compiler), over lengths around
// the 32-element blocks, operands with NaNs, infinities, signed zeros and subnormals, and dst
// aliasing a or b.
func TestApplyMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
		float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, 1e-40, math.MaxFloat32}
	fill := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * math.Pow(10, 6*rng.Float64()-3))
			if rng.IntN(10) == 0 {
				x[i] = special[rng.IntN(len(special))]
			}
		}
		return x
	}
	for _, op := range []Op{Add, Sub, Mul, Div} {
		for _, n := range []int{0, 1, 31, 32, 33, 64, 95, 200, 1027} {
			for alias := range 3 {
				a, b := fill(n), fill(n)
				want := make([]float32, n)
				goApply(op, want, a, b)
				dst := make([]float32, n)
				switch alias {
				case 1:
					dst = a
				case 2:
					dst = b
				}
				Apply(op, dst, a, b)
				for i := range want {
					if g, w := dst[i], want[i]; !sameBits(g, w) {
						t.Fatalf("op %d n=%d alias=%d: element %d is %g, Go's %g", op, n, alias, i, g, w)
					}
				}
			}
		}
	}
}

// TestApplyScalarMatchesGo compares ApplyScalar with the plain Go loop bit for bit (NaN for NaN),
// both sides of the scalar, every op, lengths around the 32-element blocks, special values in both
// the operand and the scalar, and dst aliasing a.
func TestApplyScalarMatchesGo(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	special := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
		float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, 1e-40, math.MaxFloat32}
	for _, op := range []Op{Add, Sub, Mul, Div} {
		for _, left := range []bool{false, true} {
			for _, n := range []int{0, 1, 31, 32, 33, 64, 95, 200, 1027} {
				for _, s := range append([]float32{1.5, -3.25e-3}, special...) {
					a := make([]float32, n)
					for i := range a {
						a[i] = float32(rng.NormFloat64() * math.Pow(10, 6*rng.Float64()-3))
						if rng.IntN(10) == 0 {
							a[i] = special[rng.IntN(len(special))]
						}
					}
					want := make([]float32, n)
					for i, x := range a {
						want[i] = goScalar(op, x, s, left)
					}
					for _, inPlace := range []bool{false, true} {
						dst := make([]float32, n)
						src := a
						if inPlace {
							src = append([]float32(nil), a...)
							dst = src
						}
						ApplyScalar(op, dst, src, s, left)
						for i := range want {
							if !sameBits(dst[i], want[i]) {
								t.Fatalf("op %d left=%v n=%d s=%g in place=%v: element %d (a=%g) is %g, Go gives %g",
									op, left, n, s, inPlace, i, a[i], dst[i], want[i])
							}
						}
					}
				}
			}
		}
	}
}

// sameBits: g and w are the same float32 bit for bit, or both NaN (Go leaves a NaN's payload to the
// hardware and the order of an add's operands to the compiler).
func sameBits(g, w float32) bool {
	return math.Float32bits(g) == math.Float32bits(w) || (g != g && w != w)
}

func goScalar(op Op, x, s float32, left bool) float32 {
	if left {
		x, s = s, x
	}
	switch op {
	case Add:
		return x + s
	case Sub:
		return x - s
	case Mul:
		return x * s
	}
	return x / s
}

func BenchmarkApply(b *testing.B) {
	for _, n := range []int{4096, 1 << 18} {
		x, y, z := make([]float32, n), make([]float32, n), make([]float32, n)
		b.Run("asm", func(b *testing.B) {
			for b.Loop() {
				Apply(Add, z, x, y)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
		b.Run("go", func(b *testing.B) {
			for b.Loop() {
				goApply(Add, z, x, y)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}
