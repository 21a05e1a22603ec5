#include "textflag.h"

// LOOP applies INSTR to 32 floats a step: four ymm loads of a, four of b, four results stored to dst.
// Registers: DI dst, SI a, DX b, CX n (bytes), AX the byte offset.
#define LOOP(label, INSTR) \
label: \
	VMOVUPS (SI)(AX*1), Y0 \
	VMOVUPS 32(SI)(AX*1), Y1 \
	VMOVUPS 64(SI)(AX*1), Y2 \
	VMOVUPS 96(SI)(AX*1), Y3 \
	INSTR (DX)(AX*1), Y0, Y0 \
	INSTR 32(DX)(AX*1), Y1, Y1 \
	INSTR 64(DX)(AX*1), Y2, Y2 \
	INSTR 96(DX)(AX*1), Y3, Y3 \
	VMOVUPS Y0, (DI)(AX*1) \
	VMOVUPS Y1, 32(DI)(AX*1) \
	VMOVUPS Y2, 64(DI)(AX*1) \
	VMOVUPS Y3, 96(DI)(AX*1) \
	ADDQ $128, AX \
	CMPQ AX, CX \
	JLT label \
	VZEROUPPER \
	RET

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
