// Package gradients patches GoMLX v0.26.0 where it is measurably wrong or slow for this library.
//
// Importing it (package backend does, for every program that gets its backend there) replaces three
// reverse-mode gradients in [graph.VJPRegistration], and adds those v0.26 lacks for float ops
// (missing.go): Slice's ([SliceVJP]: v0.26 builds it with Pad, which the pure-Go backend lacks, so
// any slice of a trained tensor failed there), DotGeneral's, below, and Dot's ([DotVJP], what
// graph.MatMul builds for operands of rank 2 or less). GoMLX v0.26.0 builds
// the matmul gradients as a broadcast Mul followed by a ReduceSum, which materialises a
// `[batch..., M, N, K]` tensor: on a 4-layer, 128-wide GPT training step it was 8x slower and took
// 7x the memory of a gradient made of two DotGenerals. Upstream fixed the same thing later (GoMLX
// PR #428); when the pinned GoMLX is upgraded past it, delete these files and backend's blank import of
// this package, and the tests here will say whether the stock gradients agree.
package gradients

import (
	"fmt"
	"reflect"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// StockDotGeneralVJP is GoMLX's own DotGeneral gradient, kept so tests can compare against it.
var StockDotGeneralVJP = graph.VJPRegistration[graph.NodeTypeDotGeneral]

func init() {
	graph.VJPRegistration[graph.NodeTypeDotGeneral] = DotGeneralVJP
	graph.VJPRegistration[graph.NodeTypeSlice] = SliceVJP
}

// dotGeneralParams are the axes a DotGeneral node was built with.
type dotGeneralParams struct {
	lhsContracting, lhsBatch, rhsContracting, rhsBatch []int
}

// intFields reads []int fields of a node's parameters. GoMLX v0.26.0 keeps them in unexported
// fields (nodeInputsDotGeneral, nodeInputsSlice); reflection reads them without unsafe, and fails
// loudly if a later GoMLX renames them.
func intFields(node *graph.Node, names ...string) [][]int {
	inputs := reflect.ValueOf(node).Elem().FieldByName("inputs")
	if !inputs.IsValid() || inputs.IsNil() {
		panic(fmt.Sprintf("gradients: cannot read the inputs of node %s: GoMLX changed; remove gradients", node))
	}
	params := inputs.Elem().Elem() // interface -> *nodeInputsX -> struct
	out := make([][]int, len(names))
	for i, name := range names {
		f := params.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice {
			panic(fmt.Sprintf("gradients: %s node has no field %q: GoMLX changed; remove gradients", node.Type(), name))
		}
		out[i] = make([]int, f.Len())
		for j := range out[i] {
			out[i][j] = int(f.Index(j).Int())
		}
	}
	return out
}

func readDotGeneralParams(node *graph.Node) dotGeneralParams {
	f := intFields(node, "lhsContractingAxes", "lhsBatchAxes", "rhsContractingAxes", "rhsBatchAxes")
	return dotGeneralParams{lhsContracting: f[0], lhsBatch: f[1], rhsContracting: f[2], rhsBatch: f[3]}
}

// crossAxes lists the axes of an operand of the given rank that are neither contracting nor batch,
// in increasing order: the order DotGeneral lays them out in its output.
func crossAxes(rank int, contracting, batch []int) []int {
	var out []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			out = append(out, a)
		}
	}
	return out
}

// DotGeneralVJP is the gradient of `out = DotGeneral(lhs, rhs)` as two DotGenerals and a transpose
// each, the way XLA's own autodiff does it. `out` is laid out
// `[batch..., lhsCross..., rhsCross...]`; with `v` the incoming adjoint of that shape:
//
//	dLhs = DotGeneral(v, rhs) contracting v's rhsCross axes with rhs's cross axes, batch with batch,
//	       giving [batch..., lhsCross..., rhsContracting (in rhs axis order)...], then transposed to lhs;
//	dRhs = DotGeneral(lhs, v) contracting lhs's cross axes with v's lhsCross axes,
//	       giving [batch..., lhsContracting (in lhs axis order)..., rhsCross...], then transposed to rhs.
func DotGeneralVJP(node *graph.Node, vjpOutputs []*graph.Node, _ shapes.Shape) []*graph.Node {
	v := vjpOutputs[0]
	lhs, rhs := node.Inputs()[0], node.Inputs()[1]
	p := readDotGeneralParams(node)
	lhsCross := crossAxes(lhs.Rank(), p.lhsContracting, p.lhsBatch)
	rhsCross := crossAxes(rhs.Rank(), p.rhsContracting, p.rhsBatch)
	nb, nlc, nrc := len(p.lhsBatch), len(lhsCross), len(rhsCross)
	vBatch := iota(0, nb)
	vLhsCross := iota(nb, nlc)
	vRhsCross := iota(nb+nlc, nrc)

	// dLhs.
	dl := graph.DotGeneral(v, vRhsCross, vBatch, rhs, rhsCross, p.rhsBatch)
	if dl.DType() != lhs.DType() {
		dl = graph.ConvertDType(dl, lhs.DType())
	}
	// Position in dl of each lhs axis.
	dlPos := make([]int, lhs.Rank())
	for i, a := range p.lhsBatch {
		dlPos[a] = i
	}
	for i, a := range lhsCross {
		dlPos[a] = nb + i
	}
	rhsContractingSorted := slices.Sorted(slices.Values(p.rhsContracting))
	for j, ra := range rhsContractingSorted {
		k := slices.Index(p.rhsContracting, ra)
		dlPos[p.lhsContracting[k]] = nb + nlc + j
	}
	dl = transposeTo(dl, dlPos)

	// dRhs.
	dr := graph.DotGeneral(lhs, lhsCross, p.lhsBatch, v, vLhsCross, vBatch)
	if dr.DType() != rhs.DType() {
		dr = graph.ConvertDType(dr, rhs.DType())
	}
	drPos := make([]int, rhs.Rank())
	for i, a := range p.rhsBatch {
		drPos[a] = i
	}
	lhsContractingSorted := slices.Sorted(slices.Values(p.lhsContracting))
	for j, la := range lhsContractingSorted {
		k := slices.Index(p.lhsContracting, la)
		drPos[p.rhsContracting[k]] = nb + j
	}
	for i, a := range rhsCross {
		drPos[a] = nb + len(p.lhsContracting) + i
	}
	dr = transposeTo(dr, drPos)
	return []*graph.Node{dl, dr}
}

// transposeTo returns x with its axes reordered so that output axis a is x's axis pos[a].
func transposeTo(x *graph.Node, pos []int) *graph.Node {
	identity := true
	for a, p := range pos {
		if a != p {
			identity = false
			break
		}
	}
	if identity {
		return x
	}
	return graph.TransposeAllAxes(x, pos...)
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// DotGeneralFLOPs is the number of floating-point operations of a DotGeneral node: two per
// multiply-add, 2 · (elements of the output) · (size of the contracted axes).
func DotGeneralFLOPs(node *graph.Node) float64 {
	if node.Type() != graph.NodeTypeDotGeneral {
		panic(fmt.Sprintf("gradients.DotGeneralFLOPs: node %s is not a DotGeneral", node.Type()))
	}
	p := readDotGeneralParams(node)
	k := 1.0
	lhs := node.Inputs()[0].Shape().Dimensions
	for _, a := range p.lhsContracting {
		k *= float64(lhs[a])
	}
	return 2 * float64(node.Shape().Size()) * k
}
