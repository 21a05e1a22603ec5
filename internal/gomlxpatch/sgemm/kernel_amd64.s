#include "textflag.h"

// Eight-lane sums of a row of a against four rows of b, reduced to four floats and added to out.
// Registers: SI, R12 rows of a; DI, R9, R10, R11 rows of b; R13 the byte offset along k, CX its end.

// HSUM4 reduces four eight-lane sums (y0..y3) to their four totals in the low 128 bits of y0 (x0),
// in the order [y0, y1, y2, y3], using tmp as scratch; y1 and y2 are overwritten.
#define HSUM4(y0, y1, y2, y3, x0, tmpx) \
	VHADDPS y1, y0, y0 \
	VHADDPS y3, y2, y2 \
	VHADDPS y2, y0, y0 \
	VEXTRACTF128 $1, y0, tmpx \
	VADDPS tmpx, x0, x0

// func kern2x4AVX2(a *float32, lda int, b *float32, ldb, k int, out *float32, ldo int)
TEXT ·kern2x4AVX2(SB), NOSPLIT, $0-56
	MOVQ a+0(FP), SI
	MOVQ lda+8(FP), AX
	SHLQ $2, AX
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), BX
	SHLQ $2, BX
	MOVQ k+32(FP), CX
	SHLQ $2, CX
	MOVQ out+40(FP), DX
	MOVQ ldo+48(FP), R8
	SHLQ $2, R8

	LEAQ (SI)(AX*1), R12
	LEAQ (DI)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (R10)(BX*1), R11

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ R13, R13

loop2:
	VMOVUPS (SI)(R13*1), Y8
	VMOVUPS (R12)(R13*1), Y9
	VMOVUPS (DI)(R13*1), Y10
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y10, Y9, Y4
	VMOVUPS (R9)(R13*1), Y11
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y11, Y9, Y5
	VMOVUPS (R10)(R13*1), Y10
	VFMADD231PS Y10, Y8, Y2
	VFMADD231PS Y10, Y9, Y6
	VMOVUPS (R11)(R13*1), Y11
	VFMADD231PS Y11, Y8, Y3
	VFMADD231PS Y11, Y9, Y7
	ADDQ $32, R13
	CMPQ R13, CX
	JLT loop2

	HSUM4(Y0, Y1, Y2, Y3, X0, X8)
	VADDPS (DX), X0, X0
	VMOVUPS X0, (DX)
	HSUM4(Y4, Y5, Y6, Y7, X4, X9)
	VADDPS (DX)(R8*1), X4, X4
	VMOVUPS X4, (DX)(R8*1)
	VZEROUPPER
	RET

// func kern1x4AVX2(a, b *float32, ldb, k int, out *float32)
TEXT ·kern1x4AVX2(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ ldb+16(FP), BX
	SHLQ $2, BX
	MOVQ k+24(FP), CX
	SHLQ $2, CX
	MOVQ out+32(FP), DX

	LEAQ (DI)(BX*1), R9
	LEAQ (R9)(BX*1), R10
	LEAQ (R10)(BX*1), R11

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ R13, R13

loop1:
	VMOVUPS (SI)(R13*1), Y8
	VFMADD231PS (DI)(R13*1), Y8, Y0
	VFMADD231PS (R9)(R13*1), Y8, Y1
	VFMADD231PS (R10)(R13*1), Y8, Y2
	VFMADD231PS (R11)(R13*1), Y8, Y3
	ADDQ $32, R13
	CMPQ R13, CX
	JLT loop1

	HSUM4(Y0, Y1, Y2, Y3, X0, X8)
	VADDPS (DX), X0, X0
	VMOVUPS X0, (DX)
	VZEROUPPER
	RET

// func axpyRowsAVX2(row *float32, n int, x *float32, kt int, bt *float32, ldbt int)
// row[j] += Σ_{p<kt} x[p]·bt[p*ldbt+j] for j < n, n a positive multiple of 8, kt ≥ 1: eight columns
// at a time, the terms fused in increasing p.
// Registers: DI row, CX n (bytes), SI x, R8 kt, DX bt, R9 ldbt (bytes), R10 j (bytes), R11 p, R12 the
// address of bt[p*ldbt+j].
TEXT ·axpyRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ row+0(FP), DI
	MOVQ n+8(FP), CX
	SHLQ $2, CX
	MOVQ x+16(FP), SI
	MOVQ kt+24(FP), R8
	MOVQ bt+32(FP), DX
	MOVQ ldbt+40(FP), R9
	SHLQ $2, R9
	XORQ R10, R10

cols:
	VMOVUPS (DI)(R10*1), Y0
	LEAQ (DX)(R10*1), R12
	XORQ R11, R11

terms:
	VBROADCASTSS (SI)(R11*4), Y1
	VFMADD231PS (R12), Y1, Y0
	ADDQ R9, R12
	INCQ R11
	CMPQ R11, R8
	JLT terms

	VMOVUPS Y0, (DI)(R10*1)
	ADDQ $32, R10
	CMPQ R10, CX
	JLT cols

	VZEROUPPER
	RET

// func kernKN4x16AVX2(a *float32, ars, acs int, b *float32, ldb, k int, out *float32, ldo int)
// out[r*ldo+c] += Σ_{p<k} a[r*ars+p*acs]·b[p*ldb+c] for r < 4, c < 16, k ≥ 1: b's rows run along the
// output's columns (two eight-lane vectors), a's four elements of each p are broadcast; eight
// accumulators, fused multiply-adds in increasing p, added to out at the end.
// Registers: SI, R10, R11, R12 the rows of a; R13 the byte offset p*acs; BX acs (bytes); R14 the row
// p of b; R8 ldb (bytes); CX the terms left; DX out; R9 ldo (bytes).
TEXT ·kernKN4x16AVX2(SB), NOSPLIT, $0-64
	MOVQ a+0(FP), SI
	MOVQ ars+8(FP), AX
	SHLQ $2, AX
	MOVQ acs+16(FP), BX
	SHLQ $2, BX
	MOVQ b+24(FP), R14
	MOVQ ldb+32(FP), R8
	SHLQ $2, R8
	MOVQ k+40(FP), CX
	MOVQ out+48(FP), DX
	MOVQ ldo+56(FP), R9
	SHLQ $2, R9

	LEAQ (SI)(AX*1), R10
	LEAQ (R10)(AX*1), R11
	LEAQ (R11)(AX*1), R12

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ R13, R13

loopkn4:
	VMOVUPS (R14), Y12
	VMOVUPS 32(R14), Y13
	VBROADCASTSS (SI)(R13*1), Y14
	VFMADD231PS Y12, Y14, Y0
	VFMADD231PS Y13, Y14, Y1
	VBROADCASTSS (R10)(R13*1), Y15
	VFMADD231PS Y12, Y15, Y2
	VFMADD231PS Y13, Y15, Y3
	VBROADCASTSS (R11)(R13*1), Y14
	VFMADD231PS Y12, Y14, Y4
	VFMADD231PS Y13, Y14, Y5
	VBROADCASTSS (R12)(R13*1), Y15
	VFMADD231PS Y12, Y15, Y6
	VFMADD231PS Y13, Y15, Y7
	ADDQ BX, R13
	ADDQ R8, R14
	DECQ CX
	JNZ loopkn4

	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	VADDPS 32(DX), Y1, Y1
	VMOVUPS Y1, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y2, Y2
	VMOVUPS Y2, (DX)
	VADDPS 32(DX), Y3, Y3
	VMOVUPS Y3, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y4, Y4
	VMOVUPS Y4, (DX)
	VADDPS 32(DX), Y5, Y5
	VMOVUPS Y5, 32(DX)
	ADDQ R9, DX
	VADDPS (DX), Y6, Y6
	VMOVUPS Y6, (DX)
	VADDPS 32(DX), Y7, Y7
	VMOVUPS Y7, 32(DX)
	VZEROUPPER
	RET

// func kernKN1x16AVX2(a *float32, acs int, b *float32, ldb, k int, out *float32)
// kernKN4x16AVX2 for one row of a and out.
TEXT ·kernKN1x16AVX2(SB), NOSPLIT, $0-48
	MOVQ a+0(FP), SI
	MOVQ acs+8(FP), BX
	SHLQ $2, BX
	MOVQ b+16(FP), R14
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ k+32(FP), CX
	MOVQ out+40(FP), DX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

loopkn1:
	VBROADCASTSS (SI), Y14
	VFMADD231PS (R14), Y14, Y0
	VFMADD231PS 32(R14), Y14, Y1
	ADDQ BX, SI
	ADDQ R8, R14
	DECQ CX
	JNZ loopkn1

	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DX)
	VADDPS 32(DX), Y1, Y1
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
