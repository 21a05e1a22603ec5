// Package customcall adds XLA custom calls to GoMLX graphs: an op that XLA hands to a library
// kernel by name (such as cuDNN's fused attention, "__cudnn$fmhaSoftmax"), with a backend config
// string, explicit layouts, and a gradient of the caller's making.
//
// GoMLX v0.26.0 and go-xla v0.1.4 have no such op. It exists only in a build with the tag
// bitter_customcall against copies of the two modules that [WriteModules] writes, each with one
// file added (overlay/): to go-xla's stablehlo package, GoMLX's XLA backend and GoMLX's graph
// package. (The go command refuses -overlay for files in the module cache, hence copies, made of
// symbolic links.)
//
//	go run ./internal/gomlxpatch/customcall/cmd/modules DIR       # prints DIR/customcall.mod
//	go build -tags bitter_customcall -modfile DIR/customcall.mod ./...
//
// In every other build, and on every backend but XLA, [Available] is false and [Call] fails, so
// callers keep their own graph for the op.
package customcall

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Tag is the build tag that, with the modules' copies, gives graphs custom calls.
const Tag = "bitter_customcall"

// Builder is what a backend builder offers for custom calls: GoMLX's XLA backend built with the
// modules' copies ([WriteModules]), and bitter's own backend wrappers, which pass the call on to the builder they wrap.
type Builder interface {
	BitterCustomCall(target, backendConfig string, operandLayouts, resultLayouts [][]int,
		resultShapes []shapes.Shape, operands ...backends.Op) ([]backends.Op, error)
}

// Spec describes one custom call.
type Spec struct {
	// Target is the name XLA knows the kernel by (call_target_name).
	Target string
	// BackendConfig is the target's configuration, an opaque string (API version 2).
	BackendConfig string
	// OperandLayouts and ResultLayouts give each operand's and each result's axes from minor to
	// major (XLA's layout): [3, 2, 1, 0] is a rank-4 array in row-major order.
	OperandLayouts, ResultLayouts [][]int
	// Results are the results' shapes.
	Results []shapes.Shape
}

// VJP is a custom call's gradient: given its results and the gradient arriving at each (zeros where
// none arrives), it returns one gradient per input, nil for an input that gets none.
type VJP func(results, resultVJPs []*graph.Node) []*graph.Node

// ErrUnavailable is returned by [Call] in a build without the tag and the modules' copies.
var ErrUnavailable = errors.New("customcall: this build has no custom calls (build with -tags " + Tag +
	" -modfile of internal/gomlxpatch/customcall/cmd/modules)")

// impl is graph.BitterCustomCall in a build with the tag (tagged.go), else nil.
var impl func(g *graph.Graph, target, backendConfig string, operandLayouts, resultLayouts [][]int,
	resultShapes []shapes.Shape, vjp func(results, resultVJPs []*graph.Node) []*graph.Node,
	inputs ...*graph.Node) ([]*graph.Node, error)

// target is graph.BitterCustomCallTarget in a build with the tag, else nil.
var target func(n *graph.Node) string

// Target returns the target of n when n is a custom call or one of its results, and "" otherwise
// (always "" in a build without custom calls).
func Target(n *graph.Node) string {
	if target == nil {
		return ""
	}
	return target(n)
}

// Built reports whether this binary was built with custom calls (the tag and the modules' copies).
func Built() bool { return impl != nil }

// Available reports whether g can hold custom calls: the binary was built with them and g's
// backend is XLA.
func Available(g *graph.Graph) bool {
	return impl != nil && g.Backend() != nil && g.Backend().Name() == "xla"
}

// Call adds the custom call spec to g with inputs as its operands and returns one node per result.
// vjp may be nil for a call nothing differentiates. It fails, adding nothing, where the build or
// the backend has no custom calls, or where the spec does not fit the inputs.
func Call(g *graph.Graph, spec Spec, vjp VJP, inputs ...*graph.Node) ([]*graph.Node, error) {
	if impl == nil {
		return nil, ErrUnavailable
	}
	if len(spec.OperandLayouts) != len(inputs) || len(spec.ResultLayouts) != len(spec.Results) {
		return nil, fmt.Errorf("customcall: %q: %d operand layouts for %d inputs, %d result layouts for %d results",
			spec.Target, len(spec.OperandLayouts), len(inputs), len(spec.ResultLayouts), len(spec.Results))
	}
	return impl(g, spec.Target, spec.BackendConfig, spec.OperandLayouts, spec.ResultLayouts, spec.Results, vjp, inputs...)
}

// RowMajor returns the layout of a rank-r array in row-major order: [r-1, ..., 1, 0].
func RowMajor(rank int) []int {
	layout := make([]int, rank)
	for i := range layout {
		layout[i] = rank - 1 - i
	}
	return layout
}

// CUDAPlugin reports whether an XLA backend's description, "xla:<plugin> - PJRT ...", names a CUDA
// plugin: cuda, or a path to xla_cuda_plugin.so.
func CUDAPlugin(description string) bool {
	plugin, _, _ := strings.Cut(strings.TrimPrefix(description, "xla:"), " - ")
	return strings.Contains(strings.ToLower(filepath.Base(plugin)), "cuda")
}
