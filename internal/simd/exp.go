package simd

import "math"

// Exp writes dst[i] = float32(math.Exp(float64(src[i]))) for i < len(dst), bit for bit (the
// expression GoMLX's pure-Go backend evaluates for a float32 Exp); src must be at least as long,
// and dst may be src.
func Exp(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	if useExpAsm {
		for blocks := n &^ 7; i < blocks; {
			i = expAVX2(&dst[i], &src[i], blocks-i) + i
			if i < blocks { // a block with a NaN: Go's function, for its payload
				for j := i; j < i+8; j++ {
					dst[j] = float32(math.Exp(float64(src[j])))
				}
				i += 8
			}
		}
	}
	for ; i < n; i++ {
		dst[i] = float32(math.Exp(float64(src[i])))
	}
}
