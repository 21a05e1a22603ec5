package purego

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/sgemm"
)

// The float32 DotGeneral, whole. simplego lays both operands out as rows of the contracting axis
// before multiplying (normalize.go), which for most of a model's products is a copy: a weight
// [in, out] used as x·W is transposed at every use (every token of a generation, every step of an
// RNN), and both activations of a weight gradient xᵀ·dy are. This executor takes an operand as it
// lies when its contracting axis runs ahead of its other axes ([batch, contracting, cross]), with
// sgemm.DotKN, which reads the right operand's rows along the output's columns; anything else is
// laid out as before (normalize.go) and multiplied by sgemm.DotNT. Other dtypes go to simplego.

// dotParams are the fields of simplego's dotGeneralNodeData this executor reads.
type dotParams struct {
	lhsContract, lhsBatch, rhsContract, rhsBatch []int
	batch, lhsCross, rhsCross, contract          int
}

// dotLayout finds those fields in simplego's dotGeneralNodeData (the small-product kernel's fourth
// parameter, already checked by smallKernel).
type dotLayout struct {
	typ                                          reflect.Type // *dotGeneralNodeData
	lhsContract, lhsBatch, rhsContract, rhsBatch uintptr
	batch, lhsCross, rhsCross, contract          uintptr
}

func (l *dotLayout) read(p unsafe.Pointer) dotParams {
	i := func(off uintptr) int { return *(*int)(unsafe.Add(p, off)) }
	return dotParams{
		lhsContract: intsAt(p, l.lhsContract), lhsBatch: intsAt(p, l.lhsBatch),
		rhsContract: intsAt(p, l.rhsContract), rhsBatch: intsAt(p, l.rhsBatch),
		batch: i(l.batch), lhsCross: i(l.lhsCross), rhsCross: i(l.rhsCross), contract: i(l.contract),
	}
}

// dotErr says why the DotGeneral executor was not installed (nil when it was).
var dotErr = installDot()

// dotUses counts the products run here by kernel: DotNT, DotKN with a in rows (a·b), DotKN with a
// in columns (aᵀ·b); for tests.
var dotUses [3]atomic.Int64

// stockDot and ourDot are simplego's DotGeneral executor and this one.
var stockDot, ourDot executor

func installDot() error {
	if installErr != nil {
		return installErr
	}
	if table.err != nil {
		return table.err
	}
	pt := reflect.TypeOf(smallKernels.Map[dtypes.Float32]) // replaced by ours: the stock type is kept
	if pt == nil || pt.Kind() != reflect.Func || pt.NumIn() != 6 {
		return fmt.Errorf("simplego's small-product kernel is %v", pt)
	}
	var l dotLayout
	l.typ = pt.In(3)
	st := l.typ.Elem()
	for _, f := range []struct {
		name string
		off  *uintptr
		typ  reflect.Type
	}{
		{"lhsContractingAxes", &l.lhsContract, intsType}, {"lhsBatchAxes", &l.lhsBatch, intsType},
		{"rhsContractingAxes", &l.rhsContract, intsType}, {"rhsBatchAxes", &l.rhsBatch, intsType},
		{"batchSize", &l.batch, intType}, {"lhsCrossSize", &l.lhsCross, intType},
		{"rhsCrossSize", &l.rhsCross, intType}, {"contractingSize", &l.contract, intType},
	} {
		off, err := structField(st, f.name, f.typ)
		if err != nil {
			return err
		}
		*f.off = off
	}
	var err error
	if stockDot, err = stockExecutor(backends.OpTypeDotGeneral); err != nil {
		return err
	}
	ourDot = dotExecutor(&l, stockDot)
	*executorSlot(backends.OpTypeDotGeneral) = ourDot
	return nil
}

// operand layouts, as a DotGeneral reads them.
const (
	layoutRows    = iota // [batch, cross, contracting]: what DotNT reads
	layoutColumns        // [batch, contracting, cross]: DotKN's b, or its a in columns
	layoutOther          // anything else: laid out as rows first
)

// layoutOf classifies an operand of the given dimensions (axes of size 1 do not count), with the swap
// that lays it out as rows when that is one (ok).
func layoutOf(dims, contractingAxes, batchAxes []int, batch, cross, contracting int) (layout int, sw swap, ok bool) {
	sw, ok = asSwap(dims, contractingAxes, batchAxes)
	switch {
	case !ok:
		return layoutOther, sw, ok
	case sw == inOrder:
		return layoutRows, sw, ok
	case sw.inner == 1 && sw.outer == batch && sw.x == contracting && sw.y == cross:
		return layoutColumns, sw, ok
	}
	return layoutOther, sw, ok
}

// minKNColumns: below this many output columns DotKN's 16-wide tiles do not pay; the right operand
// is laid out as rows instead.
const minKNColumns = 16

func dotExecutor(l *dotLayout, stock executor) executor {
	return func(backend *simplego.Backend, node unsafe.Pointer, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		outShape := *(*shapes.Shape)(unsafe.Add(node, table.shapeOff))
		data := *(*any)(unsafe.Add(node, table.dataOff))
		dt := outShape.DType
		if (dt != dtypes.Float32 && dt != dtypes.BFloat16) || len(inputs) != 2 || reflect.TypeOf(data) != l.typ {
			return stock(backend, node, inputs, owned)
		}
		lhsShape, err1 := backend.BufferShape(inputs[0])
		rhsShape, err2 := backend.BufferShape(inputs[1])
		if err1 != nil || err2 != nil || lhsShape.DType != dt || rhsShape.DType != dt {
			return stock(backend, node, inputs, owned)
		}
		p := l.read(reflect.ValueOf(data).UnsafePointer())
		if dt == dtypes.Float32 {
			return dotFloat32(backend, inputs[0], inputs[1], lhsShape, rhsShape, outShape, p), nil
		}
		// bfloat16, as simplego does it: products of the bfloat16 values summed in float32, the sums
		// converted back with bfloat16.FromFloat32 (which truncates).
		lhs, rhs := toFloat32Buffer(backend, inputs[0], lhsShape), toFloat32Buffer(backend, inputs[1], rhsShape)
		out32 := dotFloat32(backend, lhs, rhs, lhsShape, rhsShape, outShape, p)
		out := backend.NewBuffer(outShape)
		dst := bfloat16s(out)
		for i, v := range float32s(out32) {
			dst[i] = bfloat16.FromFloat32(v)
		}
		for _, b := range []*simplego.Buffer{lhs, rhs, out32} {
			_ = backend.BufferFinalize(b)
		}
		return out, nil
	}
}

// dotFloat32 is the product for float32 operands lhs and rhs (of the given shapes; only their
// dimensions are read) into a new float32 buffer of outShape's dimensions.
func dotFloat32(backend *simplego.Backend, lhs, rhs *simplego.Buffer, lhsShape, rhsShape, outShape shapes.Shape, p dotParams) *simplego.Buffer {
	m, n, k := p.lhsCross, p.rhsCross, p.contract
	origLHS, origRHS := lhs, rhs
	lhsLayout, lhsSwap, lhsOK := layoutOf(lhsShape.Dimensions, p.lhsContract, p.lhsBatch, p.batch, m, k)
	rhsLayout, rhsSwap, rhsOK := layoutOf(rhsShape.Dimensions, p.rhsContract, p.rhsBatch, p.batch, n, k)
	// rows lays an operand out as [batch, cross, contracting]: as it is, by the swap layoutOf found,
	// or (no swap does it) by simplego's own normalisation.
	rows := func(b *simplego.Buffer, layout int, sw swap, ok bool, contractingAxes, batchAxes []int, cross int) *simplego.Buffer {
		switch {
		case layout == layoutRows:
			return b
		case ok:
			return asRows(backend, b, sw, p.batch, cross, k)
		}
		if nb := stockNormalize(backend, b, contractingAxes, batchAxes, p.batch, cross, k); nb != nil {
			return nb
		}
		return b
	}
	kernel := 0 // DotNT
	if rhsLayout == layoutColumns && n >= minKNColumns {
		kernel = 1 // DotKN, a in rows
		if lhsLayout == layoutColumns {
			kernel = 2 // a in columns
		} else {
			lhs = rows(lhs, lhsLayout, lhsSwap, lhsOK, p.lhsContract, p.lhsBatch, m)
		}
	} else {
		lhs = rows(lhs, lhsLayout, lhsSwap, lhsOK, p.lhsContract, p.lhsBatch, m)
		rhs = rows(rhs, rhsLayout, rhsSwap, rhsOK, p.rhsContract, p.rhsBatch, n)
	}
	dotUses[kernel].Add(1)
	out := backend.NewBuffer(shapes.Make(dtypes.Float32, outShape.Dimensions...))
	a, b, o := float32s(lhs), float32s(rhs), float32s(out)
	clear(o)
	products(p.batch, m, n, k, func(bi, i0, i1 int) {
		ab, bb, ob := a[bi*m*k:(bi+1)*m*k], b[bi*n*k:(bi+1)*n*k], o[bi*m*n:(bi+1)*m*n]
		switch kernel {
		case 0:
			sgemm.DotNT(ob[i0*n:i1*n], ab[i0*k:i1*k], bb, i1-i0, n, k, k, k, n)
		case 1:
			sgemm.DotKN(ob[i0*n:i1*n], ab[i0*k:i1*k], bb, i1-i0, n, k, k, 1, n, n)
		case 2:
			sgemm.DotKN(ob[i0*n:i1*n], ab[i0:], bb, i1-i0, n, k, 1, m, n, n)
		}
	})
	// The copies go back to the backend's pool (simplego's own path leaves them to the collector).
	if lhs != origLHS {
		_ = backend.BufferFinalize(lhs)
	}
	if rhs != origRHS {
		_ = backend.BufferFinalize(rhs)
	}
	return out
}

// toFloat32Buffer is a new float32 buffer with a bfloat16 buffer's values (exactly).
func toFloat32Buffer(backend *simplego.Backend, b *simplego.Buffer, shape shapes.Shape) *simplego.Buffer {
	out := backend.NewBuffer(shapes.Make(dtypes.Float32, shape.Dimensions...))
	dst := float32s(out)
	for i, v := range bfloat16s(b) {
		dst[i] = v.Float32()
	}
	return out
}

// bfloat16s is a buffer's data, which must be a []bfloat16.BFloat16.
func bfloat16s(b *simplego.Buffer) []bfloat16.BFloat16 {
	flat := reflect.ValueOf(b).Elem().Field(flatIndex).Elem()
	if flat.Kind() != reflect.Slice || flat.Type().Elem() != reflect.TypeFor[bfloat16.BFloat16]() {
		panic(fmt.Sprintf("purego: buffer data is %s, not []bfloat16.BFloat16", flat.Type()))
	}
	return unsafe.Slice((*bfloat16.BFloat16)(flat.UnsafePointer()), flat.Len())
}

// products runs fn over every element of a batch of products of m rows: on one goroutine when the
// whole is small, else on up to GOMAXPROCS, each taking whole batch elements or, when there are
// fewer of them than CPUs, bands of rows (each writes its own rows of the output, so the result does
// not depend on the split).
func products(batch, m, n, k int, fn func(b, i0, i1 int)) {
	procs := runtime.GOMAXPROCS(0)
	if procs == 1 || 2*batch*m*n*k < minParallelFLOPs {
		for bi := range batch {
			fn(bi, 0, m)
		}
		return
	}
	rows := max(1, rowBand(m, n, k, batch))
	var wg sync.WaitGroup
	sem := make(chan struct{}, procs)
	for bi := range batch {
		for i0 := 0; i0 < m; i0 += rows {
			sem <- struct{}{}
			wg.Go(func() {
				fn(bi, i0, min(i0+rows, m))
				<-sem
			})
		}
	}
	wg.Wait()
}
