package simd

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAsm: the CPU has AVX2, and BITTER_SGEMM_GO (which forces bitter's Go kernels) is not set.
var useAsm = cpu.X86.HasAVX2 && os.Getenv("BITTER_SGEMM_GO") == ""

// applyAVX2 is Apply's loop over n elements, n a positive multiple of 32.
//
//go:noescape
func applyAVX2(op int, dst, a, b *float32, n int)
