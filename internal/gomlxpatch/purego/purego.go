// Package purego makes GoMLX v0.26.0's pure-Go backend (simplego) faster where a training step
// spends its time, without changing what it computes beyond the order of a matmul's additions.
// Package backend imports it, so every program that gets its backend there runs the replacements.
//
// The float32 matrix-multiply kernels are package internal/gomlxpatch/sgemm's, which on amd64 with AVX2 and
// FMA run about ten times as many FLOP/s per core as the backend's scalar Go loops (go test -bench .
// ./internal/gomlxpatch/sgemm); set BITTER_STOCK_DOT=1 to keep GoMLX's own (for comparisons). simplego runs a
// DotGeneral in one of two ways, both over operands it has already normalised to rows of the
// contracting axis, out[b, i, j] = Σ_p lhs[b, i, p]·rhs[b, j, p]:
//
//   - large products in square blocks (32x32 for float32), a kernel adding one block product into
//     an output block, called from its parallel block recursion;
//   - small ones (up to 16 blocks of output per batch element) whole, one call per slice of the
//     batch.
//
// It looks both kernels up per dtype in registries it keeps for exactly this (DTypeMap, with
// priorities for "architecture" and "user" overrides), and so the transposition that lays operands
// out in rows of the contracting axis (normalize.go). v0.26 exports neither those three registries
// nor the kernels' parameter types. This package reaches them with go:linkname and reflection, checks
// every type it relies on, and installs nothing when one differs: a GoMLX upgrade that renames them
// falls back to the stock kernels and fails TestInstalled, instead of crashing. Packing into blocks,
// bfloat16 and float64 products stay GoMLX's; package backend picks the path for whole products
// (backend.FastDotOption), which matters for those (float32 ones take dot.go's executor).
//
// Above both paths, the float32 DotGeneral executor itself is replaced (dot.go): an operand whose
// contracting axes come before its other axes ([batch, contracting, cross], as a weight [in, out] in
// x·W, or both activations of a weight gradient) is multiplied as it lies by sgemm.DotKN instead of
// being transposed at every use; the rest goes through the normalisation and sgemm.DotNT. The
// executor table it lives in is reached like the binary ops' (binary.go).
//
// The layout ops (ops.go: float32 ReduceSum, ReduceMax, Transpose and Slice; BroadcastInDim of
// float32, int32 and bool) and the float32 binary ops (binary.go: Add, Sub, Mul, Div, Max, Min;
// operands of different shapes, of one shape, or one of a single element) walk the same elements in
// the same order as simplego, with plain or AVX2 inner loops instead of a general index walk per
// element, so their results are simplego's bit for bit (TestLayoutOpsMatchStock,
// TestBroadcastingBinaryOpsMatchStock, TestScalarBinaryOpsMatchStock). Set BITTER_STOCK_OPS=1 to keep
// GoMLX's own. The float32 Exp, Logistic, Tanh and Erf (unary.go) are simd's: Go's math functions
// (and simplego's expression for Logistic) in AVX2 lanes, again bit for bit. Every other op (gathers,
// Where, Neg, the rest of the elementwise ones...) is GoMLX's.
//
// Upstream wrote the same kind of kernel later (simplego/packgemm); when the pinned GoMLX has it,
// measure, and delete this package if it is as fast.
package purego

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/sgemm"
)

//go:linkname blockKernels github.com/gomlx/gomlx/backends/simplego.dotGeneralKernelDTypeMap
var blockKernels *simplego.DTypeMap

//go:linkname normalizers github.com/gomlx/gomlx/backends/simplego.dotGeneralNormalizeShapeDTypeMap
var normalizers *simplego.DTypeMap

//go:linkname smallKernels github.com/gomlx/gomlx/backends/simplego.dotGeneralNormalizedDTypeMap
var smallKernels *simplego.DTypeMap

// StockEnvVar, when set to a non-empty value, keeps GoMLX's own kernels.
const StockEnvVar = "BITTER_STOCK_DOT"

// installErr says why the kernels were not installed (nil when they were).
var installErr = install()

// Installed reports whether the pure-Go backend runs this package's float32 kernels, and if not, why.
func Installed() error { return installErr }

// Accelerated reports whether those kernels are the AVX2/FMA assembly ones (else portable Go).
func Accelerated() bool { return installErr == nil && sgemm.Accelerated() }

// uses counts the calls of each replacement (the block-kernel builder, once per DotGeneral; the small
// kernel, once per slice of the batch), for tests.
var uses [2]atomic.Int64

// stockNormalize is simplego's own float32 normalisation, which the replacement falls back to (and
// tests compare with).
var stockNormalize normalizeFunc

// priorityUser is simplego's registerPriority for "custom user overrides".
const priorityUser = 100

func install() error {
	if os.Getenv(StockEnvVar) != "" {
		return fmt.Errorf("%s is set", StockEnvVar)
	}
	if blockKernels == nil || smallKernels == nil || normalizers == nil {
		return fmt.Errorf("simplego's DotGeneral kernel registries are not where GoMLX v0.26.0 keeps them")
	}
	f32 := dtypes.Float32
	block, err := blockKernel(blockKernels.Map[f32])
	if err != nil {
		return err
	}
	small, err := smallKernel(smallKernels.Map[f32])
	if err != nil {
		return err
	}
	var ok bool
	stockNormalize, ok = normalizers.Map[f32].(normalizeFunc)
	if !ok {
		return fmt.Errorf("simplego's operand normalisation is %T, not %T", normalizers.Map[f32], stockNormalize)
	}
	blockKernels.Map[f32], smallKernels.Map[f32], normalizers.Map[f32] = block, small, normalizer(stockNormalize)
	for _, m := range []*simplego.DTypeMap{blockKernels, smallKernels, normalizers} {
		m.Priority[f32] = priorityUser
	}
	return nil
}

var (
	bufferType = reflect.TypeFor[*simplego.Buffer]()
	intType    = reflect.TypeFor[int]()
)

// flatIndex is the index of simplego.Buffer's `flat` field (its data: a []T held as `any`).
var flatIndex = func() int {
	f, ok := bufferType.Elem().FieldByName("flat")
	if !ok || f.Type.Kind() != reflect.Interface {
		return -1
	}
	return f.Index[0]
}()

// float32s is a buffer's data. The caller has checked the dtype (simplego looks the kernels up by
// it); a buffer holding anything but a []float32 panics.
func float32s(b *simplego.Buffer) []float32 {
	flat := reflect.ValueOf(b).Elem().Field(flatIndex).Elem()
	if flat.Kind() != reflect.Slice || flat.Type().Elem().Kind() != reflect.Float32 {
		panic(fmt.Sprintf("purego: buffer data is %s, not []float32", flat.Type()))
	}
	return unsafe.Slice((*float32)(flat.UnsafePointer()), flat.Len())
}

// blockKernel builds a replacement for stock, simplego's float32 block-kernel builder:
//
//	func(lhs, rhs, output *Buffer, blockDim int) kernelFuncType
//	type kernelFuncType func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int)
//
// The kernel adds the product of lhs block L and rhs block R (each blockDim rows of blockDim
// contracting elements) into output block O: O[i, j] += Σ_p L[i, p]·R[j, p].
func blockKernel(stock any) (any, error) {
	bt := reflect.TypeOf(stock)
	if flatIndex < 0 || bt == nil || bt.Kind() != reflect.Func || bt.NumIn() != 4 || bt.NumOut() != 1 ||
		bt.In(0) != bufferType || bt.In(1) != bufferType || bt.In(2) != bufferType || bt.In(3) != intType {
		return nil, fmt.Errorf("simplego's block kernel builder is %v, not func(lhs, rhs, output *Buffer, blockDim int) kernelFuncType", bt)
	}
	kt := bt.Out(0)
	if kt.Kind() != reflect.Func || kt.NumIn() != 3 || kt.NumOut() != 0 || kt.In(0) != intType || kt.In(1) != intType || kt.In(2) != intType {
		return nil, fmt.Errorf("simplego's block kernel is %v, not func(lhsBlockIdx, rhsBlockIdx, outputBlockIdx int)", kt)
	}
	build := func(args []reflect.Value) []reflect.Value {
		lhs := float32s(args[0].Interface().(*simplego.Buffer))
		rhs := float32s(args[1].Interface().(*simplego.Buffer))
		out := float32s(args[2].Interface().(*simplego.Buffer))
		dim := int(args[3].Int())
		uses[0].Add(1)
		size := dim * dim
		kernel := func(lhsBlock, rhsBlock, outBlock int) {
			sgemm.DotNT(out[outBlock*size:(outBlock+1)*size], lhs[lhsBlock*size:(lhsBlock+1)*size],
				rhs[rhsBlock*size:(rhsBlock+1)*size], dim, dim, dim, dim, dim, dim)
		}
		return []reflect.Value{reflect.ValueOf(kernel).Convert(kt)}
	}
	return reflect.MakeFunc(bt, build).Interface(), nil
}

// smallKernel builds a replacement for stock, simplego's float32 kernel of small products:
//
//	func(lhs, rhs, output *Buffer, params *dotGeneralNodeData, batchStartIdx, batchEndIdx int)
//
// over lhs [batch, lhsCross, contracting] and rhs [batch, rhsCross, contracting] (flat data in
// that order, whatever their shapes say), into output [batch, lhsCross, rhsCross], for the batch
// elements [batchStartIdx, batchEndIdx).
func smallKernel(stock any) (any, error) {
	st := reflect.TypeOf(stock)
	if flatIndex < 0 || st == nil || st.Kind() != reflect.Func || st.NumIn() != 6 || st.NumOut() != 0 ||
		st.In(0) != bufferType || st.In(1) != bufferType || st.In(2) != bufferType ||
		st.In(3).Kind() != reflect.Pointer || st.In(4) != intType || st.In(5) != intType {
		return nil, fmt.Errorf("simplego's small-product kernel is %v, not func(lhs, rhs, output *Buffer, params *dotGeneralNodeData, batchStart, batchEnd int)", st)
	}
	params := st.In(3).Elem()
	var sizes [4][]int // field indices of batchSize, lhsCrossSize, rhsCrossSize, contractingSize
	for i, name := range []string{"batchSize", "lhsCrossSize", "rhsCrossSize", "contractingSize"} {
		f, ok := params.FieldByName(name)
		if !ok || f.Type != intType {
			return nil, fmt.Errorf("simplego's %v has no int field %s", params, name)
		}
		sizes[i] = f.Index
	}
	run := func(args []reflect.Value) []reflect.Value {
		lhs := float32s(args[0].Interface().(*simplego.Buffer))
		rhs := float32s(args[1].Interface().(*simplego.Buffer))
		out := float32s(args[2].Interface().(*simplego.Buffer))
		p := args[3].Elem()
		uses[1].Add(1)
		size := func(i int) int { return int(p.FieldByIndex(sizes[i]).Int()) }
		batch, m, n, k := size(0), size(1), size(2), size(3)
		for b := int(args[4].Int()); b < int(args[5].Int()); b++ {
			product(out[b*m*n:(b+1)*m*n], lhs[b*m*k:(b+1)*m*k], rhs[b*n*k:(b+1)*n*k], m, n, k, batch)
		}
		return nil
	}
	return reflect.MakeFunc(st, run).Interface(), nil
}

// minParallelFLOPs: below this a product runs on one goroutine (about 0.1 ms of one core's work).
const minParallelFLOPs = 1 << 22

// product is out += lhs·rhsᵀ for one element of a batch of batch. simplego already runs the batch
// elements in parallel; when there are fewer of them than CPUs, the rows of a large product are
// split among goroutines as well (rowBand; each writes its own rows of out, so the result does not
// depend on the split).
func product(out, lhs, rhs []float32, m, n, k, batch int) {
	rows := rowBand(m, n, k, batch)
	if rows >= m {
		sgemm.DotNT(out, lhs, rhs, m, n, k, k, k, n)
		return
	}
	var wg sync.WaitGroup
	for i0 := 0; i0 < m; i0 += rows {
		i1 := min(i0+rows, m)
		wg.Go(func() { sgemm.DotNT(out[i0*n:i1*n], lhs[i0*k:i1*k], rhs, i1-i0, n, k, k, k, n) })
	}
	wg.Wait()
}

// rowBand is how many rows of an m x n x k product one goroutine takes when siblings products run
// beside it: m (no split) unless the CPUs outnumber the siblings and the product is large, else a
// multiple of 4, so that the kernels' tiles of two (DotNT) and four (DotKN) rows stay whole.
func rowBand(m, n, k, siblings int) int {
	bands := min(runtime.GOMAXPROCS(0)/max(siblings, 1), m/4, 2*m*n*k/minParallelFLOPs)
	if bands <= 1 {
		return m
	}
	return ((m+bands-1)/bands + 3) &^ 3
}
