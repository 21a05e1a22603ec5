package purego

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/simd"
)

// Unary ops. simplego computes a float32 Exp as float32(math.Exp(float64(x))), one call per element
// (the softmaxes of attention and of the loss, the GELU's gradient), and Erf (the GELU), Logistic
// and Tanh (the RNNs' gates) the same way; simd.Exp, simd.Erf, simd.Sigmoid and simd.Tanh compute
// the same expressions four or eight elements at a time, bit for bit (every float32 input
// compared), on up to GOMAXPROCS goroutines for large operands (simplego split only Erf's). Their
// executors live in the same table as the binary ops' and are replaced the same way; other dtypes go
// to simplego's.

// unaryErr says why the unary ops were not installed (nil when they were).
var unaryErr = installUnary()

// unaryUses counts the float32 unary ops run here, and of those the ones whose output took the
// operand's place, for tests.
var unaryUses, unaryReuses atomic.Int64

// stockUnary and ourUnary are simplego's executors of the replaced unary ops and the replacements.
var stockUnary, ourUnary map[backends.OpType]executor

func installUnary() error {
	if binaryErr != nil {
		return binaryErr
	}
	fns := map[backends.OpType]func(dst, src []float32){
		backends.OpTypeExp: simd.Exp, backends.OpTypeLogistic: simd.Sigmoid, backends.OpTypeTanh: simd.Tanh,
		backends.OpTypeErf: simd.Erf,
	}
	stockUnary, ourUnary = map[backends.OpType]executor{}, map[backends.OpType]executor{}
	for op, fn := range fns {
		stock, err := stockExecutor(op)
		if err != nil {
			return err
		}
		stockUnary[op], ourUnary[op] = stock, unaryExecutor(fn, table.shapeOff, stock)
	}
	setBinary(ourUnary)
	return nil
}

// unaryExecutor runs fn on float32 operands; the output takes the operand's place when the executor
// owns it, as in simplego (unaryOperandAndOutput).
func unaryExecutor(fn func(dst, src []float32), shapeOff uintptr, stock executor) executor {
	return func(backend *simplego.Backend, node unsafe.Pointer, inputs []*simplego.Buffer, owned []bool) (*simplego.Buffer, error) {
		outShape := *(*shapes.Shape)(unsafe.Add(node, shapeOff))
		if outShape.DType != dtypes.Float32 || len(inputs) != 1 || len(owned) != 1 {
			return stock(backend, node, inputs, owned)
		}
		unaryUses.Add(1)
		in := inputs[0]
		out := in
		if owned[0] {
			inputs[0] = nil
			unaryReuses.Add(1)
		} else {
			out = backend.NewBuffer(outShape)
		}
		inParallel(fn, float32s(out), float32s(in))
		return out, nil
	}
}

// minParallelUnary: operands with fewer elements are computed on the calling goroutine.
const minParallelUnary = 1 << 15

// inParallel runs fn over dst and src split into up to GOMAXPROCS parts (multiples of 8 elements);
// the results do not depend on the split.
func inParallel(fn func(dst, src []float32), dst, src []float32) {
	n := len(dst)
	parts := min(runtime.GOMAXPROCS(0), n/(minParallelUnary/2))
	if parts <= 1 {
		fn(dst, src)
		return
	}
	size := (n/parts + 7) &^ 7
	var wg sync.WaitGroup
	for start := 0; start < n; start += size {
		end := min(start+size, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(dst[start:end], src[start:end])
		}()
	}
	wg.Wait()
}
