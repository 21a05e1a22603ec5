//go:build !amd64

package simd

var useAsm = false

func applyAVX2(op int, dst, a, b *float32, n int) { panic("simd: no assembly on this architecture") }
