#include "textflag.h"

// Go's math.Exp on amd64 (math/exp_amd64.s, the path it takes when the CPU has FMA), four float64
// lanes at a time, the same operations in the same order, so each lane's result is Go's bit for
// bit. Inputs are clamped to [-700, 700] first, where Go's function takes its normal path
// (the exponent it scales by stays a normal float64's): every float32 outside that range has
// float32(exp) = 0 or +Inf either way. NaNs are left to the caller.

// Each constant four times, one ymm register's worth.
#define Q4(off, v) DATA expconst<>+off(SB)/8, v; DATA expconst<>+(off+8)(SB)/8, v; DATA expconst<>+(off+16)(SB)/8, v; DATA expconst<>+(off+24)(SB)/8, v

Q4(0, $1.4426950408889634073599246810018920)    // LOG2E
Q4(32, $0.69314718055966295651160180568695068359375) // LN2U
Q4(64, $0.28235290563031577122588448175013436025525412068e-12) // LN2L
Q4(96, $0.0625)
Q4(128, $2.4801587301587301587e-5)
Q4(160, $1.9841269841269841270e-4)
Q4(192, $1.3888888888888888889e-3)
Q4(224, $8.3333333333333333333e-3)
Q4(256, $4.1666666666666666667e-2)
Q4(288, $1.6666666666666666667e-1)
Q4(320, $0.5)
Q4(352, $1.0)
Q4(384, $2.0)
Q4(416, $0x3FF)   // exponent bias, as int64 lanes
Q4(448, $-700.0)  // sigmoid's clamp of -|x|
Q4(480, $300.0)   // tanh's clamp of |x| before exp(2|x|)
Q4(512, $44.014845965556527147994) // tanh: 0.5·MAXLOG, past which it is ±1
Q4(544, $0.625)   // tanh: below, the rational function
Q4(576, $-9.64399179425052238628e-1) // tanhP
Q4(608, $-9.92877231001918586564e1)
Q4(640, $-1.61468768441708447952e3)
Q4(672, $1.12811678491632931402e2)   // tanhQ
Q4(704, $2.23548839060100448583e3)
Q4(736, $4.84406305325125486048e3)
GLOBL expconst<>(SB), RODATA, $768

// Eight float32 limits: the clamp.
DATA explim<>+0(SB)/4, $-700.0
DATA explim<>+4(SB)/4, $700.0
GLOBL explim<>(SB), RODATA, $8

// EXP4 computes Go's exp of the four float64 lanes of in into out. Clobbers Y9-Y13.
#define EXP4(in, out) \
	VMULPD expconst<>+0(SB), in, Y9 \
	VCVTPD2DQY Y9, X10 \
	VCVTDQ2PD X10, Y11 \
	VFNMADD231PD expconst<>+32(SB), Y11, in \
	VFNMADD231PD expconst<>+64(SB), Y11, in \
	VMULPD expconst<>+96(SB), in, in \
	VMOVUPD expconst<>+128(SB), Y12 \
	VFMADD213PD expconst<>+160(SB), in, Y12 \
	VFMADD213PD expconst<>+192(SB), in, Y12 \
	VFMADD213PD expconst<>+224(SB), in, Y12 \
	VFMADD213PD expconst<>+256(SB), in, Y12 \
	VFMADD213PD expconst<>+288(SB), in, Y12 \
	VFMADD213PD expconst<>+320(SB), in, Y12 \
	VFMADD213PD expconst<>+352(SB), in, Y12 \
	VMULPD Y12, in, in \
	VADDPD expconst<>+384(SB), in, Y12 \
	VMULPD Y12, in, in \
	VADDPD expconst<>+384(SB), in, Y12 \
	VMULPD Y12, in, in \
	VADDPD expconst<>+384(SB), in, Y12 \
	VMULPD Y12, in, in \
	VADDPD expconst<>+384(SB), in, Y12 \
	VFMADD213PD expconst<>+352(SB), Y12, in \
	VPMOVSXDQ X10, Y13 \
	VPADDQ expconst<>+416(SB), Y13, Y13 \
	VPSLLQ $52, Y13, Y13 \
	VMULPD Y13, in, out

// func expAVX2(dst, src *float32, n int) int
// Writes dst[i] = float32(math.Exp(float64(src[i]))) for i < n (n a multiple of 8) and returns n, or
// stops before the first block of eight holding a NaN and returns its index.
TEXT ·expAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS explim<>+0(SB), Y14
	VBROADCASTSS explim<>+4(SB), Y15
	XORQ AX, AX
loop:
	CMPQ AX, CX
	JGE done
	VMOVUPS (SI)(AX*4), Y0
	VCMPPS $3, Y0, Y0, Y1 // unordered: NaN lanes
	VMOVMSKPS Y1, DX
	TESTL DX, DX
	JNZ done
	VMAXPS Y14, Y0, Y0
	VMINPS Y15, Y0, Y0
	VCVTPS2PD X0, Y2
	VEXTRACTF128 $1, Y0, X3
	VCVTPS2PD X3, Y3
	EXP4(Y2, Y4)
	EXP4(Y3, Y5)
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VINSERTF128 $1, X5, Y4, Y4
	VMOVUPS Y4, (DI)(AX*4)
	ADDQ $8, AX
	JMP loop
done:
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

// LOAD8 loads eight float32 at (SI)(AX*4) as two float64 vectors, Y2 (the first four) and Y3, or
// jumps to done when one of them is a NaN.
#define LOAD8 \
	VMOVUPS (SI)(AX*4), Y0 \
	VCMPPS $3, Y0, Y0, Y1 \
	VMOVMSKPS Y1, DX \
	TESTL DX, DX \
	JNZ done \
	VCVTPS2PD X0, Y2 \
	VEXTRACTF128 $1, Y0, X3 \
	VCVTPS2PD X3, Y3

// STORE8 rounds Y0 (the first four) and Y1 to float32 and stores them at (DI)(AX*4).
#define STORE8 \
	VCVTPD2PSY Y0, X0 \
	VCVTPD2PSY Y1, X1 \
	VINSERTF128 $1, X1, Y0, Y0 \
	VMOVUPS Y0, (DI)(AX*4)

// SIGMOID4 is simplego's float32 Logistic in float64 lanes: x >= 0 ? 1/(1+exp(-x)) : e/(1+e) with
// e = exp(x); both are exp(-|x|), clamped at -700 (past it the float32 result is 1 or 0 either way).
// Y14 holds the sign mask. Clobbers Y4-Y13.
#define SIGMOID4(x, out) \
	VORPD Y14, x, Y4 \
	VMAXPD expconst<>+448(SB), Y4, Y4 \
	EXP4(Y4, Y5) \
	VADDPD expconst<>+352(SB), Y5, Y6 \
	VXORPD Y7, Y7, Y7 \
	VCMPPD $0x1D, Y7, x, Y7 \
	VBLENDVPD Y7, expconst<>+352(SB), Y5, Y8 \
	VDIVPD Y6, Y8, out

// func sigmoidAVX2(dst, src *float32, n int) int
// Writes dst[i] = simplego's float32 Logistic of src[i] for i < n (n a multiple of 8) and returns n,
// or stops before the first block of eight holding a NaN and returns its index.
TEXT ·sigmoidAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VPCMPEQQ Y14, Y14, Y14
	VPSLLQ $63, Y14, Y14
	XORQ AX, AX
sloop:
	CMPQ AX, CX
	JGE done
	LOAD8
	SIGMOID4(Y2, Y0)
	SIGMOID4(Y3, Y1)
	STORE8
	ADDQ $8, AX
	JMP sloop
done:
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

// TANH4 is Go's math.Tanh (pure Go on amd64, math/tanh.go) in float64 lanes: z = |x|; ±1 past
// 0.5·MAXLOG; from 0.625, 1 - 2/(exp(2z)+1) with x's sign; below, x + x·s·P(s)/Q(s) with s = x·x;
// x itself for ±0. Every branch is computed, the lane's is kept. Y14 holds the sign mask, Y15 the
// absolute-value mask. Clobbers Y4-Y13.
#define TANH4(x, out) \
	VANDPD Y15, x, Y4 \
	VMINPD expconst<>+480(SB), Y4, Y5 \
	VADDPD Y5, Y5, Y5 \
	EXP4(Y5, Y6) \
	VADDPD expconst<>+352(SB), Y6, Y6 \
	VMOVUPD expconst<>+384(SB), Y7 \
	VDIVPD Y6, Y7, Y7 \
	VMOVUPD expconst<>+352(SB), Y8 \
	VSUBPD Y7, Y8, Y8 \
	VANDPD Y14, x, Y7 \
	VXORPD Y7, Y8, Y8 \
	VORPD expconst<>+352(SB), Y7, Y9 \
	VCMPPD $0x1E, expconst<>+512(SB), Y4, Y10 \
	VBLENDVPD Y10, Y9, Y8, Y8 \
	VMULPD x, x, Y9 \
	VMULPD expconst<>+576(SB), Y9, Y10 \
	VADDPD expconst<>+608(SB), Y10, Y10 \
	VMULPD Y9, Y10, Y10 \
	VADDPD expconst<>+640(SB), Y10, Y10 \
	VADDPD expconst<>+672(SB), Y9, Y11 \
	VMULPD Y9, Y11, Y11 \
	VADDPD expconst<>+704(SB), Y11, Y11 \
	VMULPD Y9, Y11, Y11 \
	VADDPD expconst<>+736(SB), Y11, Y11 \
	VMULPD Y9, x, Y12 \
	VMULPD Y10, Y12, Y12 \
	VDIVPD Y11, Y12, Y12 \
	VADDPD Y12, x, Y12 \
	VCMPPD $0x11, expconst<>+544(SB), Y4, Y13 \
	VBLENDVPD Y13, Y12, Y8, Y8 \
	VXORPD Y13, Y13, Y13 \
	VCMPPD $0x00, Y13, x, Y13 \
	VBLENDVPD Y13, x, Y8, out

// func tanhAVX2(dst, src *float32, n int) int
// Writes dst[i] = float32(math.Tanh(float64(src[i]))) for i < n (n a multiple of 8) and returns n, or
// stops before the first block of eight holding a NaN and returns its index.
TEXT ·tanhAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VPCMPEQQ Y14, Y14, Y14
	VPSRLQ $1, Y14, Y15
	VPSLLQ $63, Y14, Y14
	XORQ AX, AX
tloop:
	CMPQ AX, CX
	JGE done
	LOAD8
	TANH4(Y2, Y0)
	TANH4(Y3, Y1)
	STORE8
	ADDQ $8, AX
	JMP tloop
done:
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET
