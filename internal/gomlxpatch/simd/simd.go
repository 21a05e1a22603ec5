// Package simd holds float32 elementwise loops in AVX2 assembly for the pure-Go backend
// (internal/gomlxpatch/purego), with Go loops elsewhere, each equal bit for bit to the Go expression GoMLX
// evaluates. The binary ops (Apply) compute exactly the IEEE operation per lane that the Go loop
// does (no fused multiply-add). The unary functions (Exp, Sigmoid, Tanh, Erf; unary.go) take each
// float32 to float64 and follow Go's math function operation for operation (math.Exp's FMA assembly
// path; math.Tanh's and math.Erf's pure-Go branches, unfused) before rounding back to float32.
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

// ApplyScalar writes dst[i] = a[i] op s, or s op a[i] when left, for i < len(dst); a must be at least
// as long, and dst may be a.
func ApplyScalar(op Op, dst, a []float32, s float32, left bool) {
	n := len(dst)
	a = a[:n]
	i := 0
	if useAsm && n >= 32 {
		i = n &^ 31
		applyScalarAVX2(int(op), &dst[0], &a[0], s, left, i)
	}
	dst, a = dst[i:], a[i:]
	switch {
	case op == Add && !left:
		for j := range dst {
			dst[j] = a[j] + s
		}
	case op == Add:
		for j := range dst {
			dst[j] = s + a[j]
		}
	case op == Sub && !left:
		for j := range dst {
			dst[j] = a[j] - s
		}
	case op == Sub:
		for j := range dst {
			dst[j] = s - a[j]
		}
	case op == Mul && !left:
		for j := range dst {
			dst[j] = a[j] * s
		}
	case op == Mul:
		for j := range dst {
			dst[j] = s * a[j]
		}
	case op == Div && !left:
		for j := range dst {
			dst[j] = a[j] / s
		}
	case op == Div:
		for j := range dst {
			dst[j] = s / a[j]
		}
	}
}
