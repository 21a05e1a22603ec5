package simd

import "math"

// Exp writes dst[i] = float32(math.Exp(float64(src[i]))) for i < len(dst), bit for bit (the
// expression GoMLX's pure-Go backend evaluates for a float32 Exp); src must be at least as long,
// and dst may be src.
func Exp(dst, src []float32) {
	applyN(8, dst, src, useExpAsm, expAVX2, exp32)
}

// Sigmoid writes dst[i] = 1/(1+exp(-src[i])) for i < len(dst) as GoMLX's pure-Go backend computes a
// float32 Logistic, bit for bit: in float64, 1/(1+exp(-x)) for x ≥ 0 and e/(1+e) with e = exp(x)
// below. dst may be src.
func Sigmoid(dst, src []float32) {
	applyN(8, dst, src, useExpAsm, sigmoidAVX2, sigmoid32)
}

// Tanh writes dst[i] = float32(math.Tanh(float64(src[i]))) for i < len(dst), bit for bit. dst may
// be src.
func Tanh(dst, src []float32) {
	applyN(8, dst, src, useMathAsm, tanhAVX2, tanh32)
}

// Erf writes dst[i] = float32(math.Erf(float64(src[i]))) for i < len(dst), bit for bit. dst may be
// src.
func Erf(dst, src []float32) {
	applyN(4, dst, src, useMathAsm, erfAVX2, erf32)
}

func exp32(x float32) float32  { return float32(math.Exp(float64(x))) }
func erf32(x float32) float32  { return float32(math.Erf(float64(x))) }
func tanh32(x float32) float32 { return float32(math.Tanh(float64(x))) }

// sigmoid32 is GoMLX v0.26's execLogisticGeneric for one float32.
func sigmoid32(x float32) float32 {
	if x >= 0 {
		return float32(1.0 / (1.0 + math.Exp(-float64(x))))
	}
	e := math.Exp(float64(x))
	return float32(e / (1.0 + e))
}

// applyN runs the assembly loop asm over dst's blocks of block elements when use is set, and scalar
// on the rest: the tail, and the blocks holding a NaN (the loops leave those to Go, for the NaN's
// payload).
func applyN(block int, dst, src []float32, use bool, asm func(dst, src *float32, n int) int, scalar func(float32) float32) {
	n := len(dst)
	src = src[:n]
	i := 0
	if use {
		for blocks := n - n%block; i < blocks; {
			i += asm(&dst[i], &src[i], blocks-i)
			if i < blocks { // a block with a NaN
				for j := i; j < i+block; j++ {
					dst[j] = scalar(src[j])
				}
				i += block
			}
		}
	}
	for ; i < n; i++ {
		dst[i] = scalar(src[i])
	}
}
