package simd

import (
	"os"

	"golang.org/x/sys/cpu"
)

// useAsm: the CPU has AVX2, and BITTER_SGEMM_GO (which forces bitter's Go kernels) is not set.
var useAsm = cpu.X86.HasAVX2 && os.Getenv("BITTER_SGEMM_GO") == ""

// useExpAsm: useAsm, and the CPU has FMA, so that math.Exp takes the fused path expAVX2 copies.
var useExpAsm = useAsm && cpu.X86.HasFMA && cpu.X86.HasAVX

// useMathAsm (Tanh, Erf): useExpAsm, and math.Tanh's and math.Erf's multiply-adds are not fused
// (fused_v3.go).
var useMathAsm = useExpAsm && !fusedMath

// applyAVX2 is Apply's loop over n elements, n a positive multiple of 32.
//
//go:noescape
func applyAVX2(op int, dst, a, b *float32, n int)

// expAVX2 is Exp's loop over n elements, n a positive multiple of 8; it stops at the first block of
// eight that holds a NaN and returns its index (n when there is none).
//
//go:noescape
func expAVX2(dst, src *float32, n int) int

// applyScalarAVX2 is ApplyScalar's loop over n elements, n a positive multiple of 32.
//
//go:noescape
func applyScalarAVX2(op int, dst, a *float32, s float32, left bool, n int)

// sigmoidAVX2 and tanhAVX2 are Sigmoid's and Tanh's loops, as expAVX2 is Exp's.
//
//go:noescape
func sigmoidAVX2(dst, src *float32, n int) int

//go:noescape
func tanhAVX2(dst, src *float32, n int) int

// erfAVX2 is Erf's loop over blocks of four.
//
//go:noescape
func erfAVX2(dst, src *float32, n int) int
