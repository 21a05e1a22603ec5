package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

// forwardCustomCall passes a custom call (internal/gomlxpatch/customcall) through one of bitter's builder
// wrappers to the builder it wraps, which fails it where that builder has none.
func forwardCustomCall(inner backends.Builder, target, backendConfig string, operandLayouts, resultLayouts [][]int,
	resultShapes []shapes.Shape, operands ...backends.Op) ([]backends.Op, error) {
	caller, ok := inner.(customcall.Builder)
	if !ok {
		return nil, fmt.Errorf("backend: custom call %q: builder %T has no custom calls", target, inner)
	}
	return caller.BitterCustomCall(target, backendConfig, operandLayouts, resultLayouts, resultShapes, operands...)
}

// BitterCustomCall implements customcall.Builder by passing the call on.
func (b *trackedBuilder) BitterCustomCall(target, backendConfig string, operandLayouts, resultLayouts [][]int,
	resultShapes []shapes.Shape, operands ...backends.Op) ([]backends.Op, error) {
	return forwardCustomCall(b.Builder, target, backendConfig, operandLayouts, resultLayouts, resultShapes, operands...)
}

// BitterCustomCall implements customcall.Builder by passing the call on (its operands unrounded:
// TF32 emulation concerns float32 matmuls, not a library kernel's inputs).
func (b tf32Builder) BitterCustomCall(target, backendConfig string, operandLayouts, resultLayouts [][]int,
	resultShapes []shapes.Shape, operands ...backends.Op) ([]backends.Op, error) {
	return forwardCustomCall(b.Builder, target, backendConfig, operandLayouts, resultLayouts, resultShapes, operands...)
}

var (
	_ customcall.Builder = (*trackedBuilder)(nil)
	_ customcall.Builder = tf32Builder{}
)
