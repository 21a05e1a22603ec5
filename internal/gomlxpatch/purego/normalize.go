package purego

import (
	"runtime"
	"sync"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// normalizeFunc is the type of simplego's per-dtype operand normalisation (dgNormalizeShape): it
// returns source laid out as [batch, cross, contracting] (batch and contracting axes in the order
// given, cross axes in increasing order), or nil when source's flat data already is.
type normalizeFunc = func(backend *simplego.Backend, source *simplego.Buffer, contractingAxes, batchAxes []int,
	batchSize, crossSize, contractingSize int) *simplego.Buffer

// normalizer wraps stock, simplego's float32 normalisation, which moves one element at a time
// through a general index walk (13% of a training step once the products were fast). Every layout
// bitter's models hand it is a swap of two blocks of axes: a weight or activation whose contracting
// axes come first, [x, y] to [y, x] (the gradients of every projection), or attention's
// [b, q, h, d] to [b, h, q, d]. Those are copied here as a batched transpose of rows; any other
// layout goes to stock.
func normalizer(stock normalizeFunc) normalizeFunc {
	return func(backend *simplego.Backend, source *simplego.Buffer, contractingAxes, batchAxes []int,
		batchSize, crossSize, contractingSize int) *simplego.Buffer {
		shape, err := backend.BufferShape(source)
		if err != nil || shape.DType != dtypes.Float32 {
			return stock(backend, source, contractingAxes, batchAxes, batchSize, crossSize, contractingSize)
		}
		sw, ok := asSwap(shape.Dimensions, contractingAxes, batchAxes)
		if !ok {
			return stock(backend, source, contractingAxes, batchAxes, batchSize, crossSize, contractingSize)
		}
		if sw == inOrder {
			return nil // source's flat data is already in the normalised order
		}
		return asRows(backend, source, sw, batchSize, crossSize, contractingSize)
	}
}

// asRows is a new float32 buffer [batchSize, crossSize, contractingSize] holding source laid out by sw.
func asRows(backend *simplego.Backend, source *simplego.Buffer, sw swap, batchSize, crossSize, contractingSize int) *simplego.Buffer {
	out := backend.NewBuffer(shapes.Make(dtypes.Float32, batchSize, crossSize, contractingSize))
	sw.copy(float32s(out), float32s(source))
	return out
}

// swap is the layout change [outer, x, y, inner] -> [outer, y, x, inner], flat.
type swap struct{ outer, x, y, inner int }

// inOrder is what asSwap returns for an operand that needs no copy.
var inOrder = swap{outer: 1, x: 1, y: 1, inner: 1}

// asSwap finds the swap that normalises an operand of the given dimensions, when it is one.
func asSwap(dims, contractingAxes, batchAxes []int) (swap, bool) {
	rank := len(dims)
	kind := make([]int, rank) // 0 cross, 1 contracting, 2 batch
	for _, a := range contractingAxes {
		kind[a] = 1
	}
	for _, a := range batchAxes {
		kind[a] = 2
	}
	// The source axis each output position takes, axes of size 1 left out (they move nothing).
	perm := make([]int, 0, rank)
	add := func(a int) {
		if dims[a] != 1 {
			perm = append(perm, a)
		}
	}
	for _, a := range batchAxes {
		add(a)
	}
	for a := range rank {
		if kind[a] == 0 {
			add(a)
		}
	}
	for _, a := range contractingAxes {
		add(a)
	}
	// Merge runs of consecutive source axes into groups; groups[g] = (first source axis, size).
	type group struct{ first, size int }
	var groups []group
	for i, a := range perm {
		if i > 0 && a == perm[i-1]+1 {
			groups[len(groups)-1].size *= dims[a]
			continue
		}
		groups = append(groups, group{a, dims[a]})
	}
	// In output order the groups' first axes must increase except for one adjacent pair.
	swapAt := -1
	for g := 1; g < len(groups); g++ {
		if groups[g].first < groups[g-1].first {
			if swapAt >= 0 {
				return swap{}, false
			}
			swapAt = g - 1
		}
	}
	if swapAt < 0 {
		return inOrder, true
	}
	// The swapped pair must be the only disorder: groups before it precede both, groups after follow.
	s := swap{outer: 1, x: groups[swapAt+1].size, y: groups[swapAt].size, inner: 1}
	lo, hi := groups[swapAt+1].first, groups[swapAt].first
	for g, gr := range groups {
		switch {
		case g < swapAt:
			if gr.first > lo {
				return swap{}, false
			}
			s.outer *= gr.size
		case g > swapAt+1:
			if gr.first < hi {
				return swap{}, false
			}
			s.inner *= gr.size
		}
	}
	return s, true
}

// copy writes dst[o, j, i, r] = src[o, i, j, r] for o < outer, i < x, j < y, r < inner. A large
// copy runs in parallel, over the planes o and, when there are fewer planes than CPUs, over bands
// of rows i.
func (s swap) copy(dst, src []float32) {
	plane := s.x * s.y * s.inner
	// part copies rows [i0, i1) of plane o.
	part := func(o, i0, i1 int) {
		src, dst := src[o*plane:(o+1)*plane], dst[o*plane:(o+1)*plane]
		if s.inner == 1 {
			transpose(dst, src, s.x, s.y, i0, i1)
			return
		}
		n := s.inner
		for i := i0; i < i1; i++ {
			for j := range s.y {
				copy(dst[(j*s.x+i)*n:(j*s.x+i+1)*n], src[(i*s.y+j)*n:(i*s.y+j+1)*n])
			}
		}
	}
	const minElems, minRows = 1 << 16, 32 // below these a copy or a band is not worth a goroutine
	bands := 1
	if plane*s.outer >= minElems {
		bands = max(1, min(runtime.GOMAXPROCS(0)/s.outer, s.x/minRows))
	}
	if plane*s.outer < minElems || (s.outer == 1 && bands == 1) {
		for o := range s.outer {
			part(o, 0, s.x)
		}
		return
	}
	rows := (s.x + bands - 1) / bands
	var wg sync.WaitGroup
	for o := range s.outer {
		for i0 := 0; i0 < s.x; i0 += rows {
			wg.Go(func() { part(o, i0, min(i0+rows, s.x)) })
		}
	}
	wg.Wait()
}

// transpose writes dst[j*x+i] = src[i*y+j] for rows i0 <= i < i1 of src (x rows of y), in 4x4
// blocks held in registers, visited in tiles of tileI rows by tileJ columns, a tile's blocks column
// by column, so that the four rows of dst a column of blocks writes stay in cache across it.
func transpose(dst, src []float32, x, y, i0, i1 int) {
	const tileI, tileJ = 64, 16
	for t0 := i0; t0 < i1; t0 += tileI {
		t1 := min(t0+tileI, i1)
		for u0 := 0; u0 < y; u0 += tileJ {
			u1 := min(u0+tileJ, y)
			j := u0
			for ; j+4 <= u1; j += 4 {
				w0, w1, w2, w3 := dst[j*x:(j+1)*x], dst[(j+1)*x:(j+2)*x], dst[(j+2)*x:(j+3)*x], dst[(j+3)*x:(j+4)*x]
				i := t0
				for ; i+4 <= t1; i += 4 {
					a, b, c, d := src[i*y+j:i*y+j+4], src[(i+1)*y+j:(i+1)*y+j+4], src[(i+2)*y+j:(i+2)*y+j+4], src[(i+3)*y+j:(i+3)*y+j+4]
					v0, v1, v2, v3 := w0[i:i+4], w1[i:i+4], w2[i:i+4], w3[i:i+4]
					v0[0], v0[1], v0[2], v0[3] = a[0], b[0], c[0], d[0]
					v1[0], v1[1], v1[2], v1[3] = a[1], b[1], c[1], d[1]
					v2[0], v2[1], v2[2], v2[3] = a[2], b[2], c[2], d[2]
					v3[0], v3[1], v3[2], v3[3] = a[3], b[3], c[3], d[3]
				}
				for ; i < t1; i++ {
					r := src[i*y+j : i*y+j+4]
					w0[i], w1[i], w2[i], w3[i] = r[0], r[1], r[2], r[3]
				}
			}
			for ; j < u1; j++ {
				w := dst[j*x : (j+1)*x]
				for i := t0; i < t1; i++ {
					w[i] = src[i*y+j]
				}
			}
		}
	}
}
