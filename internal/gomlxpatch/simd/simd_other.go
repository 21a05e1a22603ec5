//go:build !amd64

package simd

var useAsm, useExpAsm, useMathAsm = false, false, false

func applyAVX2(op int, dst, a, b *float32, n int) { panic("simd: no assembly on this architecture") }

func expAVX2(dst, src *float32, n int) int { panic("simd: no assembly on this architecture") }

func sigmoidAVX2(dst, src *float32, n int) int { panic("simd: no assembly on this architecture") }

func tanhAVX2(dst, src *float32, n int) int { panic("simd: no assembly on this architecture") }

func erfAVX2(dst, src *float32, n int) int { panic("simd: no assembly on this architecture") }

func applyScalarAVX2(op int, dst, a *float32, s float32, left bool, n int) {
	panic("simd: no assembly on this architecture")
}
