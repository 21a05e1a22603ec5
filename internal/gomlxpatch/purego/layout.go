package purego

// Strided walks shared by the layout ops (ops.go): an op's output (or, for a reduction, its operand)
// is visited in flat order, and the other side is addressed through one stride per axis.

// mergeAxes drops axes of size 1 and merges each axis into the one before it when that one's
// stride is this one's times its size (a contiguous pair, or two axes of stride 0), so that the
// walk's innermost loop is as long as it can be. It returns at least one axis; dims and strides
// are not changed.
func mergeAxes(dims, strides []int) (md, ms []int) {
	md, ms = make([]int, 0, len(dims)), make([]int, 0, len(dims))
	for a, d := range dims {
		if d == 1 {
			continue
		}
		if n := len(md); n > 0 && ms[n-1] == strides[a]*d {
			md[n-1] *= d
			ms[n-1] = strides[a]
			continue
		}
		md, ms = append(md, d), append(ms, strides[a])
	}
	if len(md) == 0 {
		md, ms = append(md, 1), append(ms, 0)
	}
	return md, ms
}

// rowMajorStrides are the strides of a row-major array of the given dimensions.
func rowMajorStrides(dims []int) []int {
	s := make([]int, len(dims))
	stride := 1
	for a := len(dims) - 1; a >= 0; a-- {
		s[a] = stride
		stride *= dims[a]
	}
	return s
}

// odometer steps through the outer axes of a walk (every axis but the innermost), keeping the
// offset Σ idx[a]·strides[a].
type odometer struct {
	dims, strides, idx []int
	off                int
}

func newOdometer(dims, strides []int) *odometer {
	outer := len(dims) - 1
	return &odometer{dims: dims[:outer], strides: strides[:outer], idx: make([]int, outer)}
}

// next advances to the next position of the outer axes.
func (o *odometer) next() {
	for a := len(o.idx) - 1; a >= 0; a-- {
		o.idx[a]++
		o.off += o.strides[a]
		if o.idx[a] < o.dims[a] {
			return
		}
		o.off -= o.strides[a] * o.dims[a]
		o.idx[a] = 0
	}
}

// gather writes dst, in flat order over dims, from src[Σ i[a]·strides[a]]: a broadcast (strides
// of 0) or a transposition (permuted strides), or both.
func gather[T any](dst, src []T, dims, strides []int) {
	dims, strides = mergeAxes(dims, strides)
	inner := len(dims) - 1
	n, s := dims[inner], strides[inner]
	walk := newOdometer(dims, strides)
	for o := 0; o < len(dst); o += n {
		row, off := dst[o:o+n], walk.off
		switch s {
		case 1:
			copy(row, src[off:off+n])
		case 0:
			v := src[off]
			for i := range row {
				row[i] = v
			}
		default:
			for i := range row {
				row[i] = src[off+i*s]
			}
		}
		walk.next()
	}
}

// asTransposition recognises a gather (after mergeAxes) that is a batch of matrix transpositions,
// dst[o, j, i] = src[o, i, j], and returns it as a swap for its tiled copy.
func asTransposition(dims, strides []int) (swap, bool) {
	switch r := len(dims); {
	case r == 2 && strides[0] == 1 && strides[1] == dims[0]:
		return swap{outer: 1, x: dims[1], y: dims[0], inner: 1}, true
	case r == 3 && strides[1] == 1 && strides[2] == dims[1] && strides[0] == dims[1]*dims[2]:
		return swap{outer: dims[0], x: dims[2], y: dims[1], inner: 1}, true
	}
	return swap{}, false
}

// reduceKind is the fold of a reduction: sum or max.
type reduceKind int

const (
	reduceSum reduceKind = iota
	reduceMax
)

// reduce folds src, walked in flat order over dims, into dst[Σ i[a]·outStrides[a]], where the
// reduced axes have an output stride of 0 and the kept ones their strides in dst. Every element of
// dst takes its operands in increasing flat order, starting from its value in dst, as simplego does,
// so a float32 sum rounds exactly as there.
func reduce(dst, src []float32, dims, outStrides []int, kind reduceKind) {
	dims, outStrides = mergeAxes(dims, outStrides)
	inner := len(dims) - 1
	n := dims[inner]
	if outStrides[inner] == 1 {
		// The innermost axis is kept: a row of dst takes a row of src.
		walk := newOdometer(dims, outStrides)
		for k := 0; k < len(src); k += n {
			foldRow(dst[walk.off:walk.off+n], src[k:k+n], kind)
			walk.next()
		}
		return
	}
	// The innermost axis is reduced. When the axis outside it is kept with stride 1, a block of
	// rows folds into as many consecutive outputs, four at a time (each in its own order still), so
	// that the adds do not wait on each other.
	rows, walk := 1, newOdometer(dims, outStrides)
	if inner > 0 && outStrides[inner-1] == 1 {
		rows, walk = dims[inner-1], newOdometer(dims[:inner], outStrides[:inner])
	}
	block := rows * n
	for k := 0; k < len(src); k += block {
		foldRows(dst[walk.off:walk.off+rows], src[k:k+block], n, kind)
		walk.next()
	}
}

// foldRow folds in into row, element by element.
func foldRow(row, in []float32, kind reduceKind) {
	row = row[:len(in)]
	if kind == reduceMax {
		for i, v := range in {
			row[i] = max(row[i], v)
		}
		return
	}
	for i, v := range in {
		row[i] += v
	}
}

// foldRows folds row r of in (len(out) rows of n) into out[r], in order.
func foldRows(out, in []float32, n int, kind reduceKind) {
	r := 0
	for ; r+4 <= len(out); r += 4 {
		a0, a1, a2, a3 := out[r], out[r+1], out[r+2], out[r+3]
		x0, x1, x2, x3 := in[r*n:(r+1)*n], in[(r+1)*n:(r+2)*n], in[(r+2)*n:(r+3)*n], in[(r+3)*n:(r+4)*n]
		x1, x2, x3 = x1[:len(x0)], x2[:len(x0)], x3[:len(x0)]
		if kind == reduceMax {
			for i := range x0 {
				a0, a1, a2, a3 = max(a0, x0[i]), max(a1, x1[i]), max(a2, x2[i]), max(a3, x3[i])
			}
		} else {
			for i := range x0 {
				a0, a1, a2, a3 = a0+x0[i], a1+x1[i], a2+x2[i], a3+x3[i]
			}
		}
		out[r], out[r+1], out[r+2], out[r+3] = a0, a1, a2, a3
	}
	for ; r < len(out); r++ {
		a := out[r]
		if kind == reduceMax {
			for _, v := range in[r*n : (r+1)*n] {
				a = max(a, v)
			}
		} else {
			for _, v := range in[r*n : (r+1)*n] {
				a += v
			}
		}
		out[r] = a
	}
}
