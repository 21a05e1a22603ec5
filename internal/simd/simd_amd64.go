package simd

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAsm: the CPU has AVX2, and BITTER_SGEMM_GO (which forces bitter's Go kernels) is not set.
var useAsm = cpu.X86.HasAVX2 && os.Getenv("BITTER_SGEMM_GO") == ""

// useExpAsm: useAsm, and the CPU has FMA, so that math.Exp takes the fused path expAVX2 copies.
var useExpAsm = useAsm && cpu.X86.HasFMA && cpu.X86.HasAVX

// applyAVX2 is Apply's loop over n elements, n a positive multiple of 32.
//
//go:noescape
func applyAVX2(op int, dst, a, b *float32, n int)

// expAVX2 is Exp's loop over n elements, n a positive multiple of 8; it stops at the first block of
// eight that holds a NaN and returns its index (n when there is none).
//
//go:noescape
func expAVX2(dst, src *float32, n int) int
