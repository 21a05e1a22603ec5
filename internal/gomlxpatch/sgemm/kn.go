package sgemm

import "fmt"

// kcKN is the slice of the contracting axis DotKN multiplies at once.
const kcKN = 64

// DotKN adds a·b to out, with b in rows of the contracting axis that run along out's columns:
//
//	out[i*ldo+j] += Σ_p a[i*ars+p*acs] · b[p*ldb+j]   for i < m, j < n, p < k.
//
// a's element (i, p) is at i*ars + p*acs: ars = lda and acs = 1 for a in rows of the contracting
// axis (out = a·b), ars = 1 and acs = lda for a in columns (out = aᵀ·b, as in a weight gradient that
// sums over tokens). Neither operand is copied: a weight used as [in, out] and the two activations of
// a weight gradient enter as they are, where DotNT needs them transposed. The order of the sums is
// fixed by m, n and k alone. It panics when a slice is too short for its dimensions and strides.
func DotKN(out, a, b []float32, m, n, k, ars, acs, ldb, ldo int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	if ars < 0 || acs < 0 || ldb < n || ldo < n || (m-1)*ars+(k-1)*acs >= len(a) || (k-1)*ldb+n > len(b) || (m-1)*ldo+n > len(out) {
		panic(fmt.Sprintf("sgemm.DotKN: m=%d n=%d k=%d ars=%d acs=%d ldb=%d ldo=%d do not fit len(a)=%d len(b)=%d len(out)=%d",
			m, n, k, ars, acs, ldb, ldo, len(a), len(b), len(out)))
	}
	n16 := n &^ 15
	// k in slices of kcKN rows of b, so that a slice (kcKN x n) stays in the L2 cache while every
	// row of a passes over it.
	for p0 := 0; p0 < k; p0 += kcKN {
		kk := min(kcKN, k-p0)
		ap, bp := a[p0*acs:], b[p0*ldb:]
		i := 0
		for ; i+4 <= m; i += 4 {
			for j := 0; j < n16; j += 16 {
				kernelKN4x16(ap[i*ars:], ars, acs, bp[j:], ldb, kk, out[i*ldo+j:], ldo)
			}
		}
		for ; i < m; i++ {
			for j := 0; j < n16; j += 16 {
				kernelKN1x16(ap[i*ars:], acs, bp[j:], ldb, kk, out[i*ldo+j:])
			}
		}
	}
	// Columns past the last 16: one sum per element.
	for i := range m {
		for j := n16; j < n; j++ {
			var s float32
			for p := range k {
				s += a[i*ars+p*acs] * b[p*ldb+j]
			}
			out[i*ldo+j] += s
		}
	}
}

// kernelKN4x16 adds to out rows 0..3 (ldo apart), columns 0..15, Σ_p a(r, p)·b[p*ldb+c], a(r, p) at
// r*ars+p*acs.
func kernelKN4x16(a []float32, ars, acs int, b []float32, ldb, k int, out []float32, ldo int) {
	_ = a[3*ars+(k-1)*acs]
	_ = b[(k-1)*ldb+15]
	_ = out[3*ldo+15]
	if useAsm {
		kernKN4x16AVX2(&a[0], ars, acs, &b[0], ldb, k, &out[0], ldo)
		return
	}
	kernKN4x16Go(a, ars, acs, b, ldb, k, out, ldo)
}

// kernelKN1x16 is kernelKN4x16 for one row.
func kernelKN1x16(a []float32, acs int, b []float32, ldb, k int, out []float32) {
	_ = a[(k-1)*acs]
	_ = b[(k-1)*ldb+15]
	_ = out[15]
	if useAsm {
		kernKN1x16AVX2(&a[0], acs, &b[0], ldb, k, &out[0])
		return
	}
	kernKN1x16Go(a, acs, b, ldb, k, out)
}

// kernKN4x16Go is the portable kernel: the same tile in Go's scalar arithmetic (unfused, so it
// agrees with the assembly one to rounding).
func kernKN4x16Go(a []float32, ars, acs int, b []float32, ldb, k int, out []float32, ldo int) {
	var s [4][16]float32
	for p := range k {
		brow := b[p*ldb : p*ldb+16]
		for r := range 4 {
			x := a[r*ars+p*acs]
			for c, y := range brow {
				s[r][c] += x * y
			}
		}
	}
	for r := range 4 {
		for c := range 16 {
			out[r*ldo+c] += s[r][c]
		}
	}
}

func kernKN1x16Go(a []float32, acs int, b []float32, ldb, k int, out []float32) {
	var s [16]float32
	for p := range k {
		x := a[p*acs]
		for c, y := range b[p*ldb : p*ldb+16] {
			s[c] += x * y
		}
	}
	for c := range 16 {
		out[c] += s[c]
	}
}
