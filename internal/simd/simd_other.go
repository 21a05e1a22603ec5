//go:build !amd64

package simd

var useAsm, useExpAsm = false, false

func applyAVX2(op int, dst, a, b *float32, n int) { panic("simd: no assembly on this architecture") }

func expAVX2(dst, src *float32, n int) int { panic("simd: no assembly on this architecture") }
