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
GLOBL expconst<>(SB), RODATA, $448

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
