// Package sgemm multiplies float32 matrices for GoMLX's pure-Go backend, whose own kernels are
// scalar Go: on amd64 CPUs with AVX2 and FMA it runs an assembly micro-kernel, elsewhere a Go one
// with the same register blocking. Package internal/gomlxpatch/gradients installs it in place of the pure-Go
// backend's float32 DotGeneral kernels.
//
// Both operands are laid out as the pure-Go backend normalises them: rows of the contracting axis,
// so a product is out = a·bᵀ (NT), every dot product reading two contiguous rows.
package sgemm

import (
	"fmt"
	"sync"
)

// kc is the slice of the contracting axis multiplied at once: 2+4 rows of it (12 KiB) stay in the
// L1 cache while a 2x4 tile of the output is summed.
const kc = 512

// Accelerated reports whether DotNT runs the AVX2/FMA assembly kernel (false: the Go kernel).
func Accelerated() bool { return useAsm }

// DotNT adds a·bᵀ to out:
//
//	out[i*ldo+j] += Σ_p a[i*lda+p] · b[j*ldb+p]   for i < m, j < n, p < k.
//
// The order of the sums is fixed by m, n and k alone, so equal inputs give equal outputs. It panics
// when a slice is too short for its dimensions and leading dimension.
func DotNT(out, a, b []float32, m, n, k, lda, ldb, ldo int) {
	if m <= 0 || n <= 0 || k <= 0 {
		return
	}
	if lda < k || ldb < k || ldo < n || (m-1)*lda+k > len(a) || (n-1)*ldb+k > len(b) || (m-1)*ldo+n > len(out) {
		panic(fmt.Sprintf("sgemm.DotNT: m=%d n=%d k=%d lda=%d ldb=%d ldo=%d do not fit len(a)=%d len(b)=%d len(out)=%d",
			m, n, k, lda, ldb, ldo, len(a), len(b), len(out)))
	}
	k8, n4 := k&^7, n&^3
	for p0 := 0; p0 < k8; p0 += kc {
		kk := min(kc, k8-p0)
		i := 0
		for ; i+2 <= m; i += 2 {
			for j := 0; j < n4; j += 4 {
				kernel2x4(a[i*lda+p0:], lda, b[j*ldb+p0:], ldb, kk, out[i*ldo+j:], ldo)
			}
		}
		if i < m {
			for j := 0; j < n4; j += 4 {
				kernel1x4(a[i*lda+p0:], b[j*ldb+p0:], ldb, kk, out[i*ldo+j:])
			}
		}
	}
	// What the tiles left: the last k%8 terms of the first n4 columns, and whole columns past n4.
	if k8 < k && n4 > 0 {
		tail(out, a, b, m, n4, k8, k, lda, ldb, ldo)
	}
	for i := range m {
		ar := a[i*lda : i*lda+k]
		for j := n4; j < n; j++ {
			out[i*ldo+j] += dot(ar, b[j*ldb:j*ldb+k])
		}
	}
}

// tail adds the terms k8 <= p < k (fewer than 8) of the first n4 columns: b's few columns of them are
// copied out as rows, so that each row of out takes them as a run along j (eight columns at a time in
// the assembly kernel), every element adding its terms in increasing p. Products whose contracting
// axis is shorter than 8 (an RNN's weight gradient over a batch of 4) are all tail; they used to cost
// one call of dot per element of out.
func tail(out, a, b []float32, m, n4, k8, k, lda, ldb, ldo int) {
	kt := k - k8
	bufp := tailPool.Get().(*[]float32)
	if cap(*bufp) < kt*n4 {
		*bufp = make([]float32, kt*n4)
	}
	bt := (*bufp)[:kt*n4]
	for j := range n4 {
		for p := range kt {
			bt[p*n4+j] = b[j*ldb+k8+p]
		}
	}
	var x [7]float32
	n8 := 0 // columns the assembly kernel takes
	if useAsm {
		n8 = n4 &^ 7
	}
	for i := range m {
		copy(x[:kt], a[i*lda+k8:i*lda+k])
		if n8 > 0 {
			_ = out[i*ldo+n8-1]
			axpyRowsAVX2(&out[i*ldo], n8, &x[0], kt, &bt[0], n4)
		}
		// The columns past n8 in Go; b's rows of them start at n8 in each row of bt.
		row := out[i*ldo+n8 : i*ldo+n4]
		w := len(row)
		if w == 0 {
			continue
		}
		bp := func(p int) []float32 { return bt[p*n4+n8 : p*n4+n8+w] }
		switch kt {
		case 1:
			b0 := bp(0)
			for j := range row {
				row[j] += x[0] * b0[j]
			}
		case 2:
			b0, b1 := bp(0), bp(1)
			for j := range row {
				row[j] = row[j] + x[0]*b0[j] + x[1]*b1[j]
			}
		case 4:
			b0, b1, b2, b3 := bp(0), bp(1), bp(2), bp(3)
			for j := range row {
				row[j] = row[j] + x[0]*b0[j] + x[1]*b1[j] + x[2]*b2[j] + x[3]*b3[j]
			}
		default:
			for j := range row {
				acc := row[j]
				for p := range kt {
					acc += x[p] * bt[p*n4+n8+j]
				}
				row[j] = acc
			}
		}
	}
	tailPool.Put(bufp)
}

var tailPool = sync.Pool{New: func() any { return new([]float32) }}

// dot is Σ x[p]·y[p] over len(x) terms, in four interleaved partial sums.
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	p := 0
	for ; p+4 <= len(x); p += 4 {
		s0 += x[p] * y[p]
		s1 += x[p+1] * y[p+1]
		s2 += x[p+2] * y[p+2]
		s3 += x[p+3] * y[p+3]
	}
	for ; p < len(x); p++ {
		s0 += x[p] * y[p]
	}
	return (s0 + s1) + (s2 + s3)
}

// kernel2x4 adds to out rows 0 and 1 (ldo apart), columns 0..3, the products of a's rows 0 and 1 (lda
// apart) with b's rows 0..3 (ldb apart) over k terms, k a positive multiple of 8.
func kernel2x4(a []float32, lda int, b []float32, ldb, k int, out []float32, ldo int) {
	_ = a[lda+k-1]
	_ = b[3*ldb+k-1]
	_ = out[ldo+3]
	if useAsm {
		kern2x4AVX2(&a[0], lda, &b[0], ldb, k, &out[0], ldo)
		return
	}
	kern2x4Go(a, lda, b, ldb, k, out, ldo)
}

// kernel1x4 is kernel2x4 for one row of a and out.
func kernel1x4(a, b []float32, ldb, k int, out []float32) {
	_ = a[k-1]
	_ = b[3*ldb+k-1]
	_ = out[3]
	if useAsm {
		kern1x4AVX2(&a[0], &b[0], ldb, k, &out[0])
		return
	}
	kern1x4Go(a, b, ldb, k, out)
}

// kern2x4Go is the portable kernel: the same tile in Go's scalar arithmetic. Its sums run in another
// order than the AVX2 kernel's eight lanes, and AVX2 fuses each multiply-add, so the two agree to
// rounding, not bit for bit (each is deterministic on its own).
func kern2x4Go(a []float32, lda int, b []float32, ldb, k int, out []float32, ldo int) {
	a0, a1 := a[:k], a[lda:lda+k]
	b0, b1, b2, b3 := b[:k], b[ldb:ldb+k], b[2*ldb:2*ldb+k], b[3*ldb:3*ldb+k]
	var s [2][4]float32
	for p := 0; p < k; p++ {
		x0, x1 := a0[p], a1[p]
		y0, y1, y2, y3 := b0[p], b1[p], b2[p], b3[p]
		s[0][0] += x0 * y0
		s[0][1] += x0 * y1
		s[0][2] += x0 * y2
		s[0][3] += x0 * y3
		s[1][0] += x1 * y0
		s[1][1] += x1 * y1
		s[1][2] += x1 * y2
		s[1][3] += x1 * y3
	}
	for j := range 4 {
		out[j] += s[0][j]
		out[ldo+j] += s[1][j]
	}
}

func kern1x4Go(a, b []float32, ldb, k int, out []float32) {
	a0 := a[:k]
	b0, b1, b2, b3 := b[:k], b[ldb:ldb+k], b[2*ldb:2*ldb+k], b[3*ldb:3*ldb+k]
	var s0, s1, s2, s3 float32
	for p := 0; p < k; p++ {
		x := a0[p]
		s0 += x * b0[p]
		s1 += x * b1[p]
		s2 += x * b2[p]
		s3 += x * b3[p]
	}
	out[0] += s0
	out[1] += s1
	out[2] += s2
	out[3] += s3
}
