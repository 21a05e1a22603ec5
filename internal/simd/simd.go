// Package simd holds float32 elementwise loops in AVX2 assembly for the pure-Go backend's binary
// ops (internal/simplegofix), with Go loops elsewhere. Each lane computes exactly the IEEE operation
// the Go loop does (no fused multiply-add), so the results are the Go loop's bit for bit.
package simd

// Op is an elementwise operation.
type Op int

const (
	Add Op = iota
	Sub
	Mul
	Div
)

// Apply writes dst[i] = a[i] op b[i] for i < len(dst); a and b must be at least as long. dst may be
// a or b (each element is read before it is written).
func Apply(op Op, dst, a, b []float32) {
	n := len(dst)
	a, b = a[:n], b[:n]
	i := 0
	if useAsm && n >= 32 {
		i = n &^ 31
		applyAVX2(int(op), &dst[0], &a[0], &b[0], i)
	}
	dst, a, b = dst[i:], a[i:], b[i:]
	switch op {
	case Add:
		for j := range dst {
			dst[j] = a[j] + b[j]
		}
	case Sub:
		for j := range dst {
			dst[j] = a[j] - b[j]
		}
	case Mul:
		for j := range dst {
			dst[j] = a[j] * b[j]
		}
	case Div:
		for j := range dst {
			dst[j] = a[j] / b[j]
		}
	}
}
