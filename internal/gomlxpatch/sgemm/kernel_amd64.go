package sgemm

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAsm: the CPU has AVX2 and FMA, and BITTER_SGEMM_GO is not set (it forces the Go kernel, for
// comparisons).
var useAsm = cpu.X86.HasAVX2 && cpu.X86.HasFMA && os.Getenv("BITTER_SGEMM_GO") == ""

// kern2x4AVX2 is kernel2x4 in AVX2/FMA assembly (kernel_amd64.s); k must be a positive multiple of 8.
//
//go:noescape
func kern2x4AVX2(a *float32, lda int, b *float32, ldb, k int, out *float32, ldo int)

// kern1x4AVX2 is kernel1x4 in AVX2/FMA assembly; k must be a positive multiple of 8.
//
//go:noescape
func kern1x4AVX2(a, b *float32, ldb, k int, out *float32)

// axpyRowsAVX2 adds Σ_p x[p]·bt[p*ldbt+j] to row[j] for j < n (n a positive multiple of 8) and
// p < kt (kt ≥ 1), in AVX2/FMA assembly.
//
//go:noescape
func axpyRowsAVX2(row *float32, n int, x *float32, kt int, bt *float32, ldbt int)

// kernKN4x16AVX2 is kernelKN4x16 in AVX2/FMA assembly; k must be positive.
//
//go:noescape
func kernKN4x16AVX2(a *float32, ars, acs int, b *float32, ldb, k int, out *float32, ldo int)

// kernKN1x16AVX2 is kernelKN1x16 in AVX2/FMA assembly; k must be positive.
//
//go:noescape
func kernKN1x16AVX2(a *float32, acs int, b *float32, ldb, k int, out *float32)
