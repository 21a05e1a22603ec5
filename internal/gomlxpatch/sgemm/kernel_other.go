//go:build !amd64

package sgemm

// useAsm is false: the assembly kernel is written for amd64 only.
var useAsm = false

func kern2x4AVX2(a *float32, lda int, b *float32, ldb, k int, out *float32, ldo int) {
	panic("sgemm: no assembly kernel on this architecture")
}

func kern1x4AVX2(a, b *float32, ldb, k int, out *float32) {
	panic("sgemm: no assembly kernel on this architecture")
}

func axpyRowsAVX2(row *float32, n int, x *float32, kt int, bt *float32, ldbt int) {
	panic("sgemm: no assembly kernel on this architecture")
}

func kernKN4x16AVX2(a *float32, ars, acs int, b *float32, ldb, k int, out *float32, ldo int) {
	panic("sgemm: no assembly kernel on this architecture")
}

func kernKN1x16AVX2(a *float32, acs int, b *float32, ldb, k int, out *float32) {
	panic("sgemm: no assembly kernel on this architecture")
}
