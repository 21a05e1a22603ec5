#include "textflag.h"

// ROWS applies INSTR to 32 floats a step: four ymm loads of a, INSTR b0..b3 into each (dst = a op
// b), four results stored to dst. Registers: DI dst, SI a, CX n (bytes), AX the byte offset.
#define ROWS(label, INSTR, b0, b1, b2, b3) \
label: \
	VMOVUPS (SI)(AX*1), Y0 \
	VMOVUPS 32(SI)(AX*1), Y1 \
	VMOVUPS 64(SI)(AX*1), Y2 \
	VMOVUPS 96(SI)(AX*1), Y3 \
	INSTR b0, Y0, Y0 \
	INSTR b1, Y1, Y1 \
	INSTR b2, Y2, Y2 \
	INSTR b3, Y3, Y3 \
	VMOVUPS Y0, (DI)(AX*1) \
	VMOVUPS Y1, 32(DI)(AX*1) \
	VMOVUPS Y2, 64(DI)(AX*1) \
	VMOVUPS Y3, 96(DI)(AX*1) \
	ADDQ $128, AX \
	CMPQ AX, CX \
	JLT label \
	VZEROUPPER \
	RET

// LOOP: ROWS with b read from DX at the same offsets as a.
#define LOOP(label, INSTR) ROWS(label, INSTR, (DX)(AX*1), 32(DX)(AX*1), 64(DX)(AX*1), 96(DX)(AX*1))

// func applyAVX2(op int, dst, a, b *float32, n int)
TEXT ·applyAVX2(SB), NOSPLIT, $0-40
	MOVQ op+0(FP), R8
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	XORQ AX, AX
	CMPQ R8, $1
	JEQ sub
	CMPQ R8, $2
	JEQ mul
	CMPQ R8, $3
	JEQ div
	LOOP(add, VADDPS)
sub:
	LOOP(subloop, VSUBPS)
mul:
	LOOP(mulloop, VMULPS)
div:
	LOOP(divloop, VDIVPS)

// SLOOPR and SLOOPL apply INSTR to 32 floats a step with the scalar broadcast in Y4: on the right
// (ROWS with Y4 for b: dst = a op s), or on the left (INSTR (SI), Y4, dst: dst = s op a).
#define SLOOPR(label, INSTR) ROWS(label, INSTR, Y4, Y4, Y4, Y4)

#define SLOOPL(label, INSTR) \
label: \
	INSTR (SI)(AX*1), Y4, Y0 \
	INSTR 32(SI)(AX*1), Y4, Y1 \
	INSTR 64(SI)(AX*1), Y4, Y2 \
	INSTR 96(SI)(AX*1), Y4, Y3 \
	VMOVUPS Y0, (DI)(AX*1) \
	VMOVUPS Y1, 32(DI)(AX*1) \
	VMOVUPS Y2, 64(DI)(AX*1) \
	VMOVUPS Y3, 96(DI)(AX*1) \
	ADDQ $128, AX \
	CMPQ AX, CX \
	JLT label \
	VZEROUPPER \
	RET

// func applyScalarAVX2(op int, dst, a *float32, s float32, left bool, n int)
TEXT ·applyScalarAVX2(SB), NOSPLIT, $0-40
	MOVQ op+0(FP), R8
	MOVQ dst+8(FP), DI
	MOVQ a+16(FP), SI
	VBROADCASTSS s+24(FP), Y4
	MOVBQZX left+28(FP), R9
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	XORQ AX, AX
	TESTQ R9, R9
	JNZ leftops
	CMPQ R8, $1
	JEQ rsub
	CMPQ R8, $2
	JEQ rmul
	CMPQ R8, $3
	JEQ rdiv
	SLOOPR(radd, VADDPS)
rsub:
	SLOOPR(rsubloop, VSUBPS)
rmul:
	SLOOPR(rmulloop, VMULPS)
rdiv:
	SLOOPR(rdivloop, VDIVPS)
leftops:
	CMPQ R8, $1
	JEQ lsub
	CMPQ R8, $2
	JEQ lmul
	CMPQ R8, $3
	JEQ ldiv
	SLOOPL(ladd, VADDPS)
lsub:
	SLOOPL(lsubloop, VSUBPS)
lmul:
	SLOOPL(lmulloop, VMULPS)
ldiv:
	SLOOPL(ldivloop, VDIVPS)
