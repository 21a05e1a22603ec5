package purego

import (
	"cmp"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// The layout ops: reductions, transpositions, broadcasts and slices. simplego runs each of them as one
// general index walk per element (a method call and a loop over every axis for each one), which was
// a third of a training step once the products were fast. Its registries hold them per dtype too;
// the replacements below walk the same elements in the same order with the innermost axis as a plain
// loop (a copy, a fill, a row folded into a row), so their results are bit for bit simplego's.

//go:linkname reduceSums github.com/gomlx/gomlx/backends/simplego.reduceSumDTypeMap
var reduceSums *simplego.DTypeMap

//go:linkname reduceMaxes github.com/gomlx/gomlx/backends/simplego.reduceMaxDTypeMap
var reduceMaxes *simplego.DTypeMap

//go:linkname transposes github.com/gomlx/gomlx/backends/simplego.transposeDTypeMap
var transposes *simplego.DTypeMap

//go:linkname sliceOps github.com/gomlx/gomlx/backends/simplego.sliceDTypeMap
var sliceOps *simplego.DTypeMap

//go:linkname broadcastsInDim github.com/gomlx/gomlx/backends/simplego.dispatchBroadcastInDim
var broadcastsInDim *simplego.DTypeDispatcher

// StockOpsEnvVar, when set to a non-empty value, keeps GoMLX's own reductions, transpositions,
// slices, broadcasts, binary ops (binary.go) and exp, erf, logistic and tanh (unary.go).
const StockOpsEnvVar = "BITTER_STOCK_OPS"

// opsErr says why the layout ops were not installed (nil when they were).
var opsErr = installOps()

// OpsInstalled reports whether the pure-Go backend runs this package's reductions, transpositions,
// slices and broadcasts, and if not, why.
func OpsInstalled() error { return opsErr }

// opUses counts the calls of each replacement (reduce, transpose, broadcast, slice), for tests.
var opUses [4]atomic.Int64

// stockOps are the replaced entries, for WithStockOps (tests) to put back.
var stockOps struct {
	sum, max, transpose, slice any
	broadcast                  map[dtypes.DType]simplego.FuncForDispatcher
}

// broadcastDTypes are the dtypes whose BroadcastInDim is replaced (those a training step uses).
var broadcastDTypes = []dtypes.DType{dtypes.Float32, dtypes.Int32, dtypes.Bool}

func installOps() error {
	if os.Getenv(StockOpsEnvVar) != "" {
		return fmt.Errorf("%s is set", StockOpsEnvVar)
	}
	if reduceSums == nil || reduceMaxes == nil || transposes == nil || broadcastsInDim == nil || sliceOps == nil {
		return fmt.Errorf("simplego's reduce, transpose, broadcast and slice registries are not where GoMLX v0.26.0 keeps them")
	}
	f32 := dtypes.Float32
	sum, err := reducer(reduceSums.Map[f32], reduceSum)
	if err != nil {
		return err
	}
	mx, err := reducer(reduceMaxes.Map[f32], reduceMax)
	if err != nil {
		return err
	}
	tr, err := transposer(transposes.Map[f32])
	if err != nil {
		return err
	}
	sl, err := slicer(sliceOps.Map[f32])
	if err != nil {
		return err
	}
	stockBroadcasts, err := dispatcherFuncs(broadcastsInDim)
	if err != nil {
		return err
	}
	stockOps.sum, stockOps.max, stockOps.transpose = reduceSums.Map[f32], reduceMaxes.Map[f32], transposes.Map[f32]
	stockOps.slice = sliceOps.Map[f32]
	stockOps.broadcast = map[dtypes.DType]simplego.FuncForDispatcher{}
	for _, dt := range broadcastDTypes {
		if stockBroadcasts[dt] == nil {
			return fmt.Errorf("simplego has no BroadcastInDim for %s", dt)
		}
		stockOps.broadcast[dt] = stockBroadcasts[dt]
	}
	setOps(sum, mx, tr, sl, map[dtypes.DType]simplego.FuncForDispatcher{
		dtypes.Float32: broadcaster[float32](stockBroadcasts[dtypes.Float32]),
		dtypes.Int32:   broadcaster[int32](stockBroadcasts[dtypes.Int32]),
		dtypes.Bool:    broadcaster[bool](stockBroadcasts[dtypes.Bool]),
	})
	return nil
}

// setOps puts the given entries in simplego's registries, at the "user" priority.
func setOps(sum, mx, tr, sl any, broadcasts map[dtypes.DType]simplego.FuncForDispatcher) {
	f32 := dtypes.Float32
	reduceSums.Map[f32], reduceMaxes.Map[f32], transposes.Map[f32], sliceOps.Map[f32] = sum, mx, tr, sl
	for _, m := range []*simplego.DTypeMap{reduceSums, reduceMaxes, transposes, sliceOps} {
		m.Priority[f32] = priorityUser
	}
	for dt, fn := range broadcasts {
		broadcastsInDim.Register(dt, priorityUser, fn)
	}
}

// dispatcherFuncs reads a DTypeDispatcher's functions (an unexported array of FuncForDispatcher).
func dispatcherFuncs(d *simplego.DTypeDispatcher) ([]simplego.FuncForDispatcher, error) {
	want := reflect.TypeFor[[simplego.MaxDTypes]simplego.FuncForDispatcher]()
	f, ok := reflect.TypeFor[simplego.DTypeDispatcher]().FieldByName("fnMap")
	if !ok || f.Type != want {
		return nil, fmt.Errorf("simplego.DTypeDispatcher has no field fnMap of type %v", want)
	}
	fns := (*[simplego.MaxDTypes]simplego.FuncForDispatcher)(unsafe.Add(unsafe.Pointer(d), f.Offset))
	return fns[:], nil
}

// asFuncOf returns fn as a value of simplego's function type ft (held in an interface, as its
// registries hold it), called without reflection. fn's type must have ft's calling convention: the
// same number of parameters and results, each of the same size, pointers where ft has pointers
// (fn takes an unsafe.Pointer for each pointer to an unexported type); asFuncOf checks that.
func asFuncOf(ft reflect.Type, fn any) (any, error) {
	v := reflect.ValueOf(fn)
	if err := sameCallingConvention(ft, v.Type()); err != nil {
		return nil, err
	}
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return reflect.NewAt(ft, p.UnsafePointer()).Elem().Interface(), nil
}

// sameCallingConvention reports (as an error) where function types a and b differ in what Go's
// calling convention sees: parameter and result counts, sizes, and pointer-ness.
func sameCallingConvention(a, b reflect.Type) error {
	if a.Kind() != reflect.Func || b.Kind() != reflect.Func || a.NumIn() != b.NumIn() || a.NumOut() != b.NumOut() || a.IsVariadic() != b.IsVariadic() {
		return fmt.Errorf("%v and %v differ in shape", a, b)
	}
	pointer := func(t reflect.Type) bool { return t.Kind() == reflect.Pointer || t.Kind() == reflect.UnsafePointer }
	same := func(x, y reflect.Type) bool {
		return x == y || (pointer(x) && pointer(y)) || (x.Kind() == y.Kind() && x.Size() == y.Size() && x.ConvertibleTo(y))
	}
	for i := range a.NumIn() {
		if !same(a.In(i), b.In(i)) {
			return fmt.Errorf("%v and %v differ in parameter %d", a, b, i)
		}
	}
	for i := range a.NumOut() {
		if !same(a.Out(i), b.Out(i)) {
			return fmt.Errorf("%v and %v differ in result %d", a, b, i)
		}
	}
	return nil
}

// structField finds field name of type want in struct type st and returns its offset.
func structField(st reflect.Type, name string, want reflect.Type) (uintptr, error) {
	if st.Kind() != reflect.Struct {
		return 0, fmt.Errorf("%v is not a struct", st)
	}
	f, ok := st.FieldByName(name)
	if !ok || f.Type != want {
		return 0, fmt.Errorf("simplego's %v has no field %s of type %v", st, name, want)
	}
	return f.Offset, nil
}

var (
	intsType  = reflect.TypeFor[[]int]()
	boolsType = reflect.TypeFor[[]bool]()
)

// intsAt reads the []int at offset off of the struct at p.
func intsAt(p unsafe.Pointer, off uintptr) []int { return *(*[]int)(unsafe.Add(p, off)) }

// iteratorFields checks that the third parameter of simplego's function type ft is a pointer to a
// struct with the named []int fields and returns their offsets.
func iteratorFields(ft reflect.Type, names ...string) ([]uintptr, error) {
	it := ft.In(2)
	if it.Kind() != reflect.Pointer || it.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("simplego's %v does not take an iterator struct third", ft)
	}
	offs := make([]uintptr, len(names))
	for i, name := range names {
		off, err := structField(it.Elem(), name, intsType)
		if err != nil {
			return nil, err
		}
		offs[i] = off
	}
	return offs, nil
}

// reducer builds a replacement for stock, simplego's float32 reduction of the given kind:
//
//	func(operand, output *Buffer, it *reduceOutputIterator, dtype dtypes.DType)
//
// The iterator holds the operand's dimensions and, per operand axis, its stride in the output
// (perAxisStride, 0 for the reduced axes).
func reducer(stock any, kind reduceKind) (any, error) {
	ft := reflect.TypeOf(stock)
	if flatIndex < 0 || ft == nil || ft.Kind() != reflect.Func || ft.NumIn() != 4 || ft.NumOut() != 0 ||
		ft.In(0) != bufferType || ft.In(1) != bufferType || ft.In(3) != reflect.TypeFor[dtypes.DType]() {
		return nil, fmt.Errorf("simplego's reduction is %v, not func(operand, output *Buffer, it *reduceOutputIterator, dtype DType)", ft)
	}
	offs, err := iteratorFields(ft, "dimensions", "perAxisStride")
	if err != nil {
		return nil, err
	}
	dimsOff, stridesOff := offs[0], offs[1]
	initial := float32(0)
	if kind == reduceMax {
		initial = dtypes.Float32.LowestValue().(float32)
	}
	run := func(operandBuf, outputBuf *simplego.Buffer, p unsafe.Pointer, _ dtypes.DType) {
		operand, output := float32s(operandBuf), float32s(outputBuf)
		opUses[0].Add(1)
		for i := range output {
			output[i] = initial
		}
		reduce(output, operand, intsAt(p, dimsOff), intsAt(p, stridesOff), kind)
	}
	return asFuncOf(ft, run)
}

// transposer builds a replacement for stock, simplego's float32 transposition:
//
//	func(operand, output *Buffer, it *transposeIterator)
//
// The iterator holds the operand's dimensions and, per operand axis, its stride in the output
// (perAxisStrides).
func transposer(stock any) (any, error) {
	ft := reflect.TypeOf(stock)
	if flatIndex < 0 || ft == nil || ft.Kind() != reflect.Func || ft.NumIn() != 3 || ft.NumOut() != 0 ||
		ft.In(0) != bufferType || ft.In(1) != bufferType {
		return nil, fmt.Errorf("simplego's transposition is %v, not func(operand, output *Buffer, it *transposeIterator)", ft)
	}
	offs, err := iteratorFields(ft, "dimensions", "perAxisStrides")
	if err != nil {
		return nil, err
	}
	dimsOff, stridesOff := offs[0], offs[1]
	run := func(operandBuf, outputBuf *simplego.Buffer, p unsafe.Pointer) {
		operand, output := float32s(operandBuf), float32s(outputBuf)
		opUses[1].Add(1)
		dims, strides := transposedWalk(intsAt(p, dimsOff), intsAt(p, stridesOff))
		dims, strides = mergeAxes(dims, strides)
		if sw, ok := asTransposition(dims, strides); ok {
			sw.copy(output, operand)
			return
		}
		gather(output, operand, dims, strides)
	}
	return asFuncOf(ft, run)
}

// slicer builds a replacement for stock, simplego's float32 Slice:
//
//	func(operand, output *Buffer, params *sliceNode)
//
// params holds, per operand axis, the first index taken (starts) and the step between indices
// (strides). The output is a gather from the operand: per output axis, the operand's stride times
// the step, from the first element taken.
func slicer(stock any) (any, error) {
	ft := reflect.TypeOf(stock)
	if ft == nil || ft.Kind() != reflect.Func || ft.NumIn() != 3 || ft.NumOut() != 0 ||
		ft.In(0) != bufferType || ft.In(1) != bufferType {
		return nil, fmt.Errorf("simplego's slice is %v, not func(operand, output *Buffer, params *sliceNode)", ft)
	}
	if bufferShapeErr != nil {
		return nil, bufferShapeErr
	}
	offs, err := iteratorFields(ft, "starts", "strides")
	if err != nil {
		return nil, err
	}
	startsOff, stepsOff := offs[0], offs[1]
	run := func(operandBuf, outputBuf *simplego.Buffer, p unsafe.Pointer) {
		opUses[3].Add(1)
		operand, output := float32s(operandBuf), float32s(outputBuf)
		if len(output) == 0 {
			return
		}
		starts, steps := intsAt(p, startsOff), intsAt(p, stepsOff)
		strides := rowMajorStrides(bufferDims(operandBuf))
		first := 0
		for a, s := range strides {
			first += starts[a] * s
			strides[a] = s * steps[a]
		}
		gather(output, operand[first:], bufferDims(outputBuf), strides)
	}
	return asFuncOf(ft, run)
}

// bufferShapeOff is the offset of simplego.Buffer's shape field.
var bufferShapeOff, bufferShapeErr = structField(bufferType.Elem(), "shape", reflect.TypeFor[shapes.Shape]())

// bufferDims are a buffer's dimensions (bufferShapeErr must be nil).
func bufferDims(b *simplego.Buffer) []int {
	return (*shapes.Shape)(unsafe.Add(unsafe.Pointer(b), bufferShapeOff)).Dimensions
}

// transposedWalk turns a transposition given as the operand's dimensions and each operand axis's
// stride in the output into a gather: the output's dimensions, and for each output axis its stride
// in the operand.
func transposedWalk(dims, outStrides []int) (outDims, inStrides []int) {
	rank := len(dims)
	order := make([]int, rank) // operand axes in output order: decreasing output stride
	for a := range order {
		order[a] = a
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(outStrides[b], outStrides[a]) })
	opStrides := rowMajorStrides(dims)
	outDims, inStrides = make([]int, rank), make([]int, rank)
	for k, a := range order {
		outDims[k], inStrides[k] = dims[a], opStrides[a]
	}
	return outDims, inStrides
}

// broadcastFields are the offsets of the fields this package reads from simplego's broadcastIterator,
// found (and checked) on its first use, since no exported signature names its type.
type broadcastFields struct {
	typ                             reflect.Type
	targetDims, isBroadcast, stride uintptr
	err                             error
}

var (
	broadcastOnce   sync.Once
	broadcastLayout broadcastFields
)

func broadcastIteratorFields(t reflect.Type) broadcastFields {
	broadcastOnce.Do(func() {
		f := broadcastFields{typ: t}
		if t.Kind() != reflect.Pointer {
			f.err = fmt.Errorf("simplego's broadcast iterator is %v, not a pointer", t)
		} else if f.targetDims, f.err = structField(t.Elem(), "targetDims", intsType); f.err == nil {
			if f.isBroadcast, f.err = structField(t.Elem(), "isBroadcast", boolsType); f.err == nil {
				f.stride, f.err = structField(t.Elem(), "strides", intsType)
			}
		}
		broadcastLayout = f
	})
	return broadcastLayout
}

// broadcaster builds a replacement for stock, simplego's BroadcastInDim of element type T:
// params are the operand's and the output's flat data and an iterator over the operand (nil for a
// scalar operand) that holds the output's dimensions (targetDims), which of them are broadcast
// (isBroadcast) and the operand's strides, its broadcast axes taken as of size 1 (strides).
func broadcaster[T any](stock simplego.FuncForDispatcher) simplego.FuncForDispatcher {
	return func(params ...any) any {
		if len(params) != 3 || params[2] == nil {
			return stock(params...)
		}
		operand, ok1 := params[0].([]T)
		output, ok2 := params[1].([]T)
		f := broadcastIteratorFields(reflect.TypeOf(params[2]))
		if !ok1 || !ok2 || f.err != nil || reflect.TypeOf(params[2]) != f.typ {
			return stock(params...)
		}
		opUses[2].Add(1)
		p := reflect.ValueOf(params[2]).UnsafePointer()
		dims, isBroadcast := intsAt(p, f.targetDims), *(*[]bool)(unsafe.Add(p, f.isBroadcast))
		strides := slices.Clone(intsAt(p, f.stride))
		for a, b := range isBroadcast {
			if b {
				strides[a] = 0
			}
		}
		gather(output, operand, dims, strides)
		return nil
	}
}

// WithStockOps runs f with simplego's own reductions, transpositions, slices, broadcasts, binary ops
// and unary ops, for comparisons; it must not run while anything else executes on the pure-Go backend.
func WithStockOps(f func()) {
	if opsErr != nil {
		f()
		return
	}
	f32 := dtypes.Float32
	sum, mx, tr, sl := reduceSums.Map[f32], reduceMaxes.Map[f32], transposes.Map[f32], sliceOps.Map[f32]
	fns, _ := dispatcherFuncs(broadcastsInDim)
	ours := map[dtypes.DType]simplego.FuncForDispatcher{}
	for _, dt := range broadcastDTypes {
		ours[dt] = fns[dt]
	}
	setOps(stockOps.sum, stockOps.max, stockOps.transpose, stockOps.slice, stockOps.broadcast)
	defer setOps(sum, mx, tr, sl, ours)
	if binaryErr == nil {
		setBinary(stockBinary)
		defer setBinary(ourBinary)
	}
	if unaryErr == nil {
		setBinary(stockUnary)
		defer setBinary(ourUnary)
	}
	f()
}
