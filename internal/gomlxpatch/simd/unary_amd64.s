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
Q4(448, $-700.0)  // the clamp: exp's low end, sigmoid's for -|x|
Q4(480, $300.0)   // tanh's clamp of |x| before exp(2|x|)
Q4(512, $44.014845965556527147994) // tanh: 0.5·MAXLOG, past which it is ±1
Q4(544, $0.625)   // tanh: below, the rational function
Q4(576, $-9.64399179425052238628e-1) // tanhP
Q4(608, $-9.92877231001918586564e1)
Q4(640, $-1.61468768441708447952e3)
Q4(672, $1.12811678491632931402e2)   // tanhQ
Q4(704, $2.23548839060100448583e3)
Q4(736, $4.84406305325125486048e3)
Q4(768, $700.0)   // exp's clamp, high end
GLOBL expconst<>(SB), RODATA, $800


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

// func expAVX2(dst, src *float32, n int) int
// Writes dst[i] = float32(math.Exp(float64(src[i]))) for i < n (n a multiple of 8) and returns n, or
// stops before the first block of eight holding a NaN and returns its index.
TEXT ·expAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	XORQ AX, AX
loop:
	CMPQ AX, CX
	JGE done
	LOAD8
	VMAXPD expconst<>+448(SB), Y2, Y2
	VMINPD expconst<>+768(SB), Y2, Y2
	VMAXPD expconst<>+448(SB), Y3, Y3
	VMINPD expconst<>+768(SB), Y3, Y3
	EXP4(Y2, Y0)
	EXP4(Y3, Y1)
	STORE8
	ADDQ $8, AX
	JMP loop
done:
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

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

// Q4C: one erf constant four times.
#define Q4C(off, v) DATA erfconst<>+off(SB)/8, v; DATA erfconst<>+(off+8)(SB)/8, v; DATA erfconst<>+(off+16)(SB)/8, v; DATA erfconst<>+(off+24)(SB)/8, v


// Go's math.Erf (pure Go on amd64, math/erf.go) constants, four lanes each, and its branch points.
Q4C(0, $0x3FEB0AC160000000) // erx
Q4C(32, $0x3FC06EBA8214DB69) // efx
Q4C(64, $0x3FC06EBA8214DB68) // pp0
Q4C(96, $0xBFD4CD7D691CB913) // pp1
Q4C(128, $0xBF9D2A51DBD7194F) // pp2
Q4C(160, $0xBF77A291236668E4) // pp3
Q4C(192, $0xBEF8EAD6120016AC) // pp4
Q4C(224, $0x3FD97779CDDADC09) // qq1
Q4C(256, $0x3FB0A54C5536CEBA) // qq2
Q4C(288, $0x3F74D022C4D36B0F) // qq3
Q4C(320, $0x3F215DC9221C1A10) // qq4
Q4C(352, $0xBED09C4342A26120) // qq5
Q4C(384, $0xBF6359B8BEF77538) // pa0
Q4C(416, $0x3FDA8D00AD92B34D) // pa1
Q4C(448, $0xBFD7D240FBB8C3F1) // pa2
Q4C(480, $0x3FD45FCA805120E4) // pa3
Q4C(512, $0xBFBC63983D3E28EC) // pa4
Q4C(544, $0x3FA22A36599795EB) // pa5
Q4C(576, $0xBF61BF380A96073F) // pa6
Q4C(608, $0x3FBB3E6618EEE323) // qa1
Q4C(640, $0x3FE14AF092EB6F33) // qa2
Q4C(672, $0x3FB2635CD99FE9A7) // qa3
Q4C(704, $0x3FC02660E763351F) // qa4
Q4C(736, $0x3F8BEDC26B51DD1C) // qa5
Q4C(768, $0x3F888B545735151D) // qa6
Q4C(800, $0xBF843412600D6435) // ra0
Q4C(832, $0xBFE63416E4BA7360) // ra1
Q4C(864, $0xC0251E0441B0E726) // ra2
Q4C(896, $0xC04F300AE4CBA38D) // ra3
Q4C(928, $0xC0644CB184282266) // ra4
Q4C(960, $0xC067135CEBCCABB2) // ra5
Q4C(992, $0xC054526557E4D2F2) // ra6
Q4C(1024, $0xC023A0EFC69AC25C) // ra7
Q4C(1056, $0x4033A6B9BD707687) // sa1
Q4C(1088, $0x4061350C526AE721) // sa2
Q4C(1120, $0x407B290DD58A1A71) // sa3
Q4C(1152, $0x40842B1921EC2868) // sa4
Q4C(1184, $0x407AD02157700314) // sa5
Q4C(1216, $0x405B28A3EE48AE2C) // sa6
Q4C(1248, $0x401A47EF8E484A93) // sa7
Q4C(1280, $0xBFAEEFF2EE749A62) // sa8
Q4C(1312, $0xBF84341239E86F4A) // rb0
Q4C(1344, $0xBFE993BA70C285DE) // rb1
Q4C(1376, $0xC031C209555F995A) // rb2
Q4C(1408, $0xC064145D43C5ED98) // rb3
Q4C(1440, $0xC083EC881375F228) // rb4
Q4C(1472, $0xC09004616A2E5992) // rb5
Q4C(1504, $0xC07E384E9BDC383F) // rb6
Q4C(1536, $0x403E568B261D5190) // sb1
Q4C(1568, $0x40745CAE221B9F0A) // sb2
Q4C(1600, $0x409802EB189D5118) // sb3
Q4C(1632, $0x40A8FFB7688C246A) // sb4
Q4C(1664, $0x40A3F219CEDF3BE6) // sb5
Q4C(1696, $0x407DA874E79FE763) // sb6
Q4C(1728, $0xC03670E242712D62) // sb7
Q4C(1760, $0x3FF0000000000000) // one
Q4C(1792, $0x3FEB000000000000) // c084375
Q4C(1824, $0x3FF4000000000000) // c125
Q4C(1856, $0x4018000000000000) // c6
Q4C(1888, $0x3E30000000000000) // csmall
Q4C(1920, $0x4006DB6DB6DB6DB7) // c20_7
Q4C(1952, $0x3FE2000000000000) // c05625
Q4C(1984, $0xFFFFFFFF00000000) // himask
GLOBL erfconst<>(SB), RODATA, $2016

// func erfAVX2(dst, src *float32, n int) int
// Writes dst[i] = float32(math.Erf(float64(src[i]))) for i < n (n a multiple of 4) and returns n, or
// stops before the first block of four holding a NaN and returns its index. Per block: a = |x|;
// the result for a >= 6 (1), then, where some lane needs it, the branch for [1.25, 6) (two exps),
// [0.84375, 1.25) and [0, 0.84375), each kept for its lanes; x's sign; ±0 for ±0.
TEXT ·erfAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VPCMPEQQ Y14, Y14, Y14
	VPSLLQ $63, Y14, Y15
	VPSRLQ $1, Y14, Y14
	XORQ AX, AX
eloop:
	CMPQ AX, CX
	JGE edone
	VMOVUPS (SI)(AX*4), X0
	VCMPPS $3, X0, X0, X1
	VMOVMSKPS X1, DX
	TESTL DX, DX
	JNZ edone
	VCVTPS2PD X0, Y1
	VANDPD Y14, Y1, Y2
	VMOVUPD erfconst<>+1760(SB), Y3
	// [1.25, 6): s = 1/(a·a); R/S from (ra, sa) below 1/0.35, (rb, sb) from it; z = a with its low
	// 32 bits cleared; exp(-z·z - 0.5625)·exp((z-a)·(z+a) + R/S); 1 - r/a.
	VCMPPD $0x11, erfconst<>+1856(SB), Y2, Y4
	VCMPPD $0x1D, erfconst<>+1824(SB), Y2, Y5
	VANDPD Y4, Y5, Y5
	VMOVMSKPD Y5, DX
	TESTL DX, DX
	JZ skipd
	VMULPD Y2, Y2, Y6
	VMOVUPD erfconst<>+1760(SB), Y7
	VDIVPD Y6, Y7, Y7

	VMULPD erfconst<>+1024(SB), Y7, Y8
	VADDPD erfconst<>+992(SB), Y8, Y8
	VMULPD Y7, Y8, Y8
	VADDPD erfconst<>+960(SB), Y8, Y8
	VMULPD Y7, Y8, Y8
	VADDPD erfconst<>+928(SB), Y8, Y8
	VMULPD Y7, Y8, Y8
	VADDPD erfconst<>+896(SB), Y8, Y8
	VMULPD Y7, Y8, Y8
	VADDPD erfconst<>+864(SB), Y8, Y8
	VMULPD Y7, Y8, Y8
	VADDPD erfconst<>+832(SB), Y8, Y8
	VMULPD Y7, Y8, Y8
	VADDPD erfconst<>+800(SB), Y8, Y8
	VMULPD erfconst<>+1280(SB), Y7, Y9
	VADDPD erfconst<>+1248(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1216(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1184(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1152(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1120(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1088(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1056(SB), Y9, Y9
	VMULPD Y7, Y9, Y9
	VADDPD erfconst<>+1760(SB), Y9, Y9
	VMULPD erfconst<>+1504(SB), Y7, Y10
	VADDPD erfconst<>+1472(SB), Y10, Y10
	VMULPD Y7, Y10, Y10
	VADDPD erfconst<>+1440(SB), Y10, Y10
	VMULPD Y7, Y10, Y10
	VADDPD erfconst<>+1408(SB), Y10, Y10
	VMULPD Y7, Y10, Y10
	VADDPD erfconst<>+1376(SB), Y10, Y10
	VMULPD Y7, Y10, Y10
	VADDPD erfconst<>+1344(SB), Y10, Y10
	VMULPD Y7, Y10, Y10
	VADDPD erfconst<>+1312(SB), Y10, Y10
	VMULPD erfconst<>+1728(SB), Y7, Y11
	VADDPD erfconst<>+1696(SB), Y11, Y11
	VMULPD Y7, Y11, Y11
	VADDPD erfconst<>+1664(SB), Y11, Y11
	VMULPD Y7, Y11, Y11
	VADDPD erfconst<>+1632(SB), Y11, Y11
	VMULPD Y7, Y11, Y11
	VADDPD erfconst<>+1600(SB), Y11, Y11
	VMULPD Y7, Y11, Y11
	VADDPD erfconst<>+1568(SB), Y11, Y11
	VMULPD Y7, Y11, Y11
	VADDPD erfconst<>+1536(SB), Y11, Y11
	VMULPD Y7, Y11, Y11
	VADDPD erfconst<>+1760(SB), Y11, Y11
	VCMPPD $0x11, erfconst<>+1920(SB), Y2, Y12
	VBLENDVPD Y12, Y8, Y10, Y10
	VBLENDVPD Y12, Y9, Y11, Y11
	VDIVPD Y11, Y10, Y10
	VANDPD erfconst<>+1984(SB), Y2, Y6
	VMULPD Y6, Y6, Y8
	VXORPD Y15, Y8, Y8
	VSUBPD erfconst<>+1952(SB), Y8, Y8
	VSUBPD Y2, Y6, Y7
	VADDPD Y2, Y6, Y11
	VMULPD Y11, Y7, Y7
	VADDPD Y10, Y7, Y7
	EXP4(Y8, Y4)
	EXP4(Y7, Y6)
	VMULPD Y6, Y4, Y4
	VDIVPD Y2, Y4, Y4
	VMOVUPD erfconst<>+1760(SB), Y6
	VSUBPD Y4, Y6, Y6
	VCMPPD $0x11, erfconst<>+1856(SB), Y2, Y7
	VBLENDVPD Y7, Y6, Y3, Y3
skipd:
	// [0.84375, 1.25): s = a - 1; erx + P(s)/Q(s).
	VCMPPD $0x11, erfconst<>+1824(SB), Y2, Y4
	VCMPPD $0x1D, erfconst<>+1792(SB), Y2, Y5
	VANDPD Y4, Y5, Y5
	VMOVMSKPD Y5, DX
	TESTL DX, DX
	JZ skipb
	VSUBPD erfconst<>+1760(SB), Y2, Y6

	VMULPD erfconst<>+576(SB), Y6, Y7
	VADDPD erfconst<>+544(SB), Y7, Y7
	VMULPD Y6, Y7, Y7
	VADDPD erfconst<>+512(SB), Y7, Y7
	VMULPD Y6, Y7, Y7
	VADDPD erfconst<>+480(SB), Y7, Y7
	VMULPD Y6, Y7, Y7
	VADDPD erfconst<>+448(SB), Y7, Y7
	VMULPD Y6, Y7, Y7
	VADDPD erfconst<>+416(SB), Y7, Y7
	VMULPD Y6, Y7, Y7
	VADDPD erfconst<>+384(SB), Y7, Y7
	VMULPD erfconst<>+768(SB), Y6, Y8
	VADDPD erfconst<>+736(SB), Y8, Y8
	VMULPD Y6, Y8, Y8
	VADDPD erfconst<>+704(SB), Y8, Y8
	VMULPD Y6, Y8, Y8
	VADDPD erfconst<>+672(SB), Y8, Y8
	VMULPD Y6, Y8, Y8
	VADDPD erfconst<>+640(SB), Y8, Y8
	VMULPD Y6, Y8, Y8
	VADDPD erfconst<>+608(SB), Y8, Y8
	VMULPD Y6, Y8, Y8
	VADDPD erfconst<>+1760(SB), Y8, Y8
	VDIVPD Y8, Y7, Y7
	VADDPD erfconst<>+0(SB), Y7, Y7
	VBLENDVPD Y4, Y7, Y3, Y3
skipb:
	// [0, 0.84375): z = a·a; a + a·(r(z)/s(z)); below 2^-28, a + efx·a.
	VCMPPD $0x11, erfconst<>+1792(SB), Y2, Y4
	VMOVMSKPD Y4, DX
	TESTL DX, DX
	JZ skipa
	VMULPD Y2, Y2, Y5

	VMULPD erfconst<>+192(SB), Y5, Y6
	VADDPD erfconst<>+160(SB), Y6, Y6
	VMULPD Y5, Y6, Y6
	VADDPD erfconst<>+128(SB), Y6, Y6
	VMULPD Y5, Y6, Y6
	VADDPD erfconst<>+96(SB), Y6, Y6
	VMULPD Y5, Y6, Y6
	VADDPD erfconst<>+64(SB), Y6, Y6
	VMULPD erfconst<>+352(SB), Y5, Y7
	VADDPD erfconst<>+320(SB), Y7, Y7
	VMULPD Y5, Y7, Y7
	VADDPD erfconst<>+288(SB), Y7, Y7
	VMULPD Y5, Y7, Y7
	VADDPD erfconst<>+256(SB), Y7, Y7
	VMULPD Y5, Y7, Y7
	VADDPD erfconst<>+224(SB), Y7, Y7
	VMULPD Y5, Y7, Y7
	VADDPD erfconst<>+1760(SB), Y7, Y7
	VDIVPD Y7, Y6, Y6
	VMULPD Y6, Y2, Y6
	VADDPD Y6, Y2, Y6
	VMULPD erfconst<>+32(SB), Y2, Y7
	VADDPD Y7, Y2, Y7
	VCMPPD $0x11, erfconst<>+1888(SB), Y2, Y8
	VBLENDVPD Y8, Y7, Y6, Y6
	VBLENDVPD Y4, Y6, Y3, Y3
skipa:
	VANDPD Y15, Y1, Y4
	VXORPD Y4, Y3, Y3
	VXORPD Y4, Y4, Y4
	VCMPPD $0x00, Y4, Y1, Y4
	VBLENDVPD Y4, Y1, Y3, Y3
	VCVTPD2PSY Y3, X3
	VMOVUPS X3, (DI)(AX*4)
	ADDQ $4, AX
	JMP eloop
edone:
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET

