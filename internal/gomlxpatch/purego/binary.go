package purego

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/simd"
)

// Broadcasting binary ops. simplego computes Add(x[b, t, d], y[b, t, 1]) and the like with two
// general index walks per element (most of a step's remaining index arithmetic, once reductions,
// transpositions and broadcasts were plain loops); the operands' equal shapes and scalars it
// already does as plain loops. Those ops are not in a per-dtype registry but in simplego's table of
// node executors, whose function type names its unexported node type; this file wraps the table's
// entries for the ops below (as type executor: the same calling convention), handles float32
// operands of different shapes itself, and passes everything else to the stock executor. Because
// the table's element type cannot be checked the way the registries' can, it is only touched when
// the binary links GoMLX v0.26.0 (go version -m; for test binaries, which do not list their modules,
// TestPinnedGoMLX reads go.mod).

//go:linkname nodeExecutors github.com/gomlx/gomlx/backends/simplego.nodeExecutors
var nodeExecutors [backends.OpTypeLast]unsafe.Pointer // func values: one pointer each

// gomlxVersion is the GoMLX release whose executor table layout this file was written against.
const gomlxVersion = "v0.26.0"

// binaryKind is an elementwise float32 operation; the first four are simd.Op's, in its order.
type binaryKind int

const (
	binAdd binaryKind = binaryKind(simd.Add)
	binSub binaryKind = binaryKind(simd.Sub)
	binMul binaryKind = binaryKind(simd.Mul)
	binDiv binaryKind = binaryKind(simd.Div)
	binMax binaryKind = binDiv + 1
	binMin binaryKind = binDiv + 2
)

// minSIMD: operands of equal shapes with fewer elements stay simplego's.
const minSIMD = 32

var binaryOpTypes = map[backends.OpType]binaryKind{
	backends.OpTypeAdd: binAdd, backends.OpTypeSub: binSub, backends.OpTypeMul: binMul,
	backends.OpTypeDiv: binDiv, backends.OpTypeMax: binMax, backends.OpTypeMin: binMin,
}

// binaryErr says why the binary ops were not installed (nil when they were).
var binaryErr = installBinary()

// binaryUses counts the broadcasting binary ops run here, and of those the ones whose output took
// an operand's place, for tests.
var binaryUses, binaryReuses atomic.Int64

// equalUses counts the binary ops of equal shapes run here, and scalarUses those with a one-element
// operand, for tests.
var equalUses, scalarUses atomic.Int64

// stockBinary are simplego's executors for binaryOpTypes, as the replacements call them and
// WithStockOps puts them back; ourBinary are the replacements.
var stockBinary, ourBinary map[backends.OpType]executor

// executor is simplego's node executor type, func(*Backend, *Node, []*Buffer, []bool) (*Buffer,
// error), with its pointer to the unexported Node as an unsafe.Pointer: every parameter and result
// has the same size and register class, so the two types share a calling convention, and a value of
// one is called as the other without reflection (whose calls, in a graph of thousands of small ops,
// cost more than the ops). What this package reads from a Node it reads at offsets found by
// reflection on the Node type (readTable).
type executor func(backend *simplego.Backend, node unsafe.Pointer, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error)

func installBinary() error {
	if opsErr != nil {
		return opsErr
	}
	if table.err != nil {
		return table.err
	}
	stockBinary, ourBinary = map[backends.OpType]executor{}, map[backends.OpType]executor{}
	for op, kind := range binaryOpTypes {
		stock, err := stockExecutor(op)
		if err != nil {
			return err
		}
		stockBinary[op] = stock
		ourBinary[op] = binaryExecutor(kind, table.shapeOff, stock)
	}
	setBinary(ourBinary)
	return nil
}

// table is what this package knows of simplego's executor table and its Node type.
var table = readTable()

type tableLayout struct {
	nodeType          reflect.Type // *simplego.Node
	shapeOff, dataOff uintptr      // of Node's shape (shapes.Shape) and data (any) fields
	err               error
}

func readTable() tableLayout {
	if v, known := linkedVersion("github.com/gomlx/gomlx"); known && v != gomlxVersion {
		return tableLayout{err: fmt.Errorf("GoMLX %s is linked; its node executor table is only known for %s", v, gomlxVersion)}
	}
	nodes, ok := reflect.TypeFor[simplego.Builder]().FieldByName("nodes")
	if !ok || nodes.Type.Kind() != reflect.Slice || nodes.Type.Elem().Kind() != reflect.Pointer {
		return tableLayout{err: fmt.Errorf("simplego.Builder has no nodes []*Node")}
	}
	t := tableLayout{nodeType: nodes.Type.Elem()}
	if t.shapeOff, t.err = structField(t.nodeType.Elem(), "shape", reflect.TypeFor[shapes.Shape]()); t.err != nil {
		return t
	}
	if t.dataOff, t.err = structField(t.nodeType.Elem(), "data", reflect.TypeFor[any]()); t.err != nil {
		return t
	}
	return t
}

// stockExecutor is simplego's executor for op.
func stockExecutor(op backends.OpType) (executor, error) {
	if nodeExecutors[op] == nil {
		return nil, fmt.Errorf("simplego has no executor for %s", op)
	}
	return *executorSlot(op), nil
}

// linkedVersion is the version of module path in this binary's build information. Test binaries
// list no modules (known is false); TestPinnedGoMLX checks go.mod for them.
func linkedVersion(path string) (version string, known bool) {
	info, ok := debug.ReadBuildInfo()
	if !ok || len(info.Deps) == 0 {
		return "", false
	}
	for _, m := range info.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version, true
			}
			return m.Version, true
		}
	}
	return "", true
}

// executorSlot is the entry of simplego's executor table for op.
func executorSlot(op backends.OpType) *executor {
	return (*executor)(unsafe.Pointer(&nodeExecutors[op]))
}

func setBinary(executors map[backends.OpType]executor) {
	for op, fn := range executors {
		*executorSlot(op) = fn
	}
}

// binaryExecutor is the replacement executor for one op: float32 operands of different shapes,
// neither of one element, are computed here; anything else goes to stock.
func binaryExecutor(kind binaryKind, shapeOff uintptr, stock executor) executor {
	return func(backend *simplego.Backend, node unsafe.Pointer, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		outShape := *(*shapes.Shape)(unsafe.Add(node, shapeOff))
		if outShape.DType != dtypes.Float32 || len(inputs) != 2 || len(owned) != 2 {
			return stock(backend, node, inputs, owned)
		}
		lhsShape, err1 := backend.BufferShape(inputs[0])
		rhsShape, err2 := backend.BufferShape(inputs[1])
		if err1 != nil || err2 != nil {
			return stock(backend, node, inputs, owned)
		}
		// One operand of one element (a scalar of any rank) and a large other one: a row op with the
		// scalar broadcast, in AVX2 for Add, Sub, Mul and Div.
		if lhsOne, rhsOne := lhsShape.Size() == 1, rhsShape.Size() == 1; lhsOne != rhsOne && outShape.Size() >= minSIMD {
			return scalarBinary(backend, kind, inputs, owned, lhsShape, rhsShape, outShape, stock, node)
		}
		if lhsShape.Rank() != outShape.Rank() || rhsShape.Rank() != outShape.Rank() {
			return stock(backend, node, inputs, owned)
		}
		// Equal shapes: simplego's loop is plain Go; Add, Sub, Mul and Div run here in AVX2, the same
		// IEEE operation per lane. Max and Min stay simplego's (x86's max is not Go's on NaN and ±0).
		equal := lhsShape.Equal(rhsShape)
		if equal && (kind > binDiv || outShape.Size() < minSIMD) {
			return stock(backend, node, inputs, owned)
		}
		if !equal && (lhsShape.Size() == 1 || rhsShape.Size() == 1) {
			return stock(backend, node, inputs, owned)
		}
		if equal {
			equalUses.Add(1)
		} else {
			binaryUses.Add(1)
		}
		lhs, rhs := float32s(inputs[0]), float32s(inputs[1])
		out := binaryOutput(backend, inputs, owned, lhsShape, rhsShape, outShape)
		if equal {
			simd.Apply(simd.Op(kind), float32s(out), lhs, rhs)
			return out, nil
		}
		broadcastBinary(kind, float32s(out), lhs, rhs, outShape.Dimensions,
			broadcastStrides(lhsShape.Dimensions, outShape.Dimensions), broadcastStrides(rhsShape.Dimensions, outShape.Dimensions))
		return out, nil
	}
}

// binaryOutput is the output buffer of a binary op: it takes the place of an operand of its shape
// that the executor owns, as in simplego (binaryOperandsAndOutput), the operand read at the same
// index as it is written; else a new buffer.
func binaryOutput(backend *simplego.Backend, inputs []*simplego.Buffer, owned []bool, lhsShape, rhsShape, outShape shapes.Shape) *simplego.Buffer {
	switch {
	case owned[1] && rhsShape.Equal(outShape):
		out := inputs[1]
		inputs[1] = nil
		binaryReuses.Add(1)
		return out
	case owned[0] && lhsShape.Equal(outShape):
		out := inputs[0]
		inputs[0] = nil
		binaryReuses.Add(1)
		return out
	}
	return backend.NewBuffer(outShape)
}

// scalarBinary computes a binary op of a one-element operand and one of the output's size. Like
// simplego, it puts the scalar on the right of the commutative ops (Add, Mul, Max, Min: the same
// values, and the same operand order for a NaN's payload) and keeps it where it is for Sub and Div.
func scalarBinary(backend *simplego.Backend, kind binaryKind, inputs []*simplego.Buffer, owned []bool,
	lhsShape, rhsShape, outShape shapes.Shape, stock executor, node unsafe.Pointer) (*simplego.Buffer, error) {
	big, sc, bigShape, left := inputs[0], inputs[1], lhsShape, false
	if lhsShape.Size() == 1 {
		big, sc, bigShape, left = inputs[1], inputs[0], rhsShape, true
	}
	if bigShape.Size() != outShape.Size() {
		return stock(backend, node, inputs, owned)
	}
	if kind == binAdd || kind == binMul || kind == binMax || kind == binMin {
		left = false
	}
	binaryUses.Add(1)
	scalarUses.Add(1)
	x, s := float32s(big), float32s(sc)[:1]
	out := binaryOutput(backend, inputs, owned, lhsShape, rhsShape, outShape)
	if left {
		binaryRow(kind, float32s(out), s, x, 0, 1)
	} else {
		binaryRow(kind, float32s(out), x, s, 1, 0)
	}
	return out, nil
}

// broadcastStrides are an operand's strides over the output's axes: 0 where it is broadcast.
func broadcastStrides(dims, outDims []int) []int {
	s := rowMajorStrides(dims)
	for a, d := range dims {
		if d != outDims[a] {
			s[a] = 0
		}
	}
	return s
}

// broadcastBinary writes out[i] = lhs[Σ i[a]·ls[a]] op rhs[Σ i[a]·rs[a]], out in flat order over dims.
func broadcastBinary(kind binaryKind, out, lhs, rhs []float32, dims, ls, rs []int) {
	// Merge the axes both operands can merge (as mergeAxes does for one).
	md, ml, mr := make([]int, 0, len(dims)), make([]int, 0, len(dims)), make([]int, 0, len(dims))
	for a, d := range dims {
		if d == 1 {
			continue
		}
		if n := len(md); n > 0 && ml[n-1] == ls[a]*d && mr[n-1] == rs[a]*d {
			md[n-1] *= d
			ml[n-1], mr[n-1] = ls[a], rs[a]
			continue
		}
		md, ml, mr = append(md, d), append(ml, ls[a]), append(mr, rs[a])
	}
	if len(md) == 0 {
		md, ml, mr = append(md, 1), append(ml, 0), append(mr, 0)
	}
	inner := len(md) - 1
	n := md[inner]
	lw, rw := newOdometer(md, ml), newOdometer(md, mr)
	for o := 0; o < len(out); o += n {
		binaryRow(kind, out[o:o+n], lhs[lw.off:], rhs[rw.off:], ml[inner], mr[inner])
		lw.next()
		rw.next()
	}
}

// binaryRow writes row[i] = a[i·as] op b[i·bs]; as and bs are 0 or 1 (the innermost axis after
// merging is contiguous or broadcast in each operand).
func binaryRow(kind binaryKind, row, a, b []float32, as, bs int) {
	n := len(row)
	switch {
	case as == 1 && bs == 1:
		a, b = a[:n], b[:n]
		switch kind {
		case binAdd, binSub, binMul, binDiv:
			simd.Apply(simd.Op(kind), row, a, b)
		case binMax:
			for i := range row {
				row[i] = max(a[i], b[i])
			}
		case binMin:
			for i := range row {
				row[i] = min(a[i], b[i])
			}
		}
	case as == 1 && bs == 0:
		a, y := a[:n], b[0]
		switch kind {
		case binAdd, binSub, binMul, binDiv:
			simd.ApplyScalar(simd.Op(kind), row, a, y, false)
		case binMax:
			for i := range row {
				row[i] = max(a[i], y)
			}
		case binMin:
			for i := range row {
				row[i] = min(a[i], y)
			}
		}
	case as == 0 && bs == 1:
		x, b := a[0], b[:n]
		switch kind {
		case binAdd, binSub, binMul, binDiv:
			simd.ApplyScalar(simd.Op(kind), row, b, x, true)
		case binMax:
			for i := range row {
				row[i] = max(x, b[i])
			}
		case binMin:
			for i := range row {
				row[i] = min(x, b[i])
			}
		}
	default: // both broadcast along the row
		x, y := a[0], b[0]
		var v float32
		switch kind {
		case binAdd:
			v = x + y
		case binSub:
			v = x - y
		case binMul:
			v = x * y
		case binDiv:
			v = x / y
		case binMax:
			v = max(x, y)
		case binMin:
			v = min(x, y)
		}
		for i := range row {
			row[i] = v
		}
	}
}
