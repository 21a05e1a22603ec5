package gradients

import (
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// GoMLX v0.26.0 defines no gradient for these float ops, so any model that uses them cannot be
// trained ("no gradient is defined yet"): graph.Rsqrt (an RMSNorm written the usual way),
// graph.Expm1, graph.Clip / graph.Clamp (PPO's clipped ratio), and the step functions
// graph.Floor, graph.Ceil and graph.Round. Each is registered here; tests check them against
// central finite differences. (Reverse has none either, but the pure-Go backend does not run it.)
func init() {
	for nodeType, vjp := range map[graph.NodeType]graph.VJP{
		graph.NodeTypeRsqrt: RsqrtVJP,
		graph.NodeTypeExpm1: Expm1VJP,
		graph.NodeTypeClamp: ClampVJP,
		graph.NodeTypeFloor: zeroVJP,
		graph.NodeTypeCeil:  zeroVJP,
		graph.NodeTypeRound: zeroVJP,
	} {
		if graph.VJPRegistration[nodeType] == nil { // a later GoMLX's own, when it has one, stays
			graph.VJPRegistration[nodeType] = vjp
		}
	}
}

// RsqrtVJP: y = x^(-1/2), dy/dx = -y³/2.
func RsqrtVJP(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
	y := node
	return []*graph.Node{graph.Mul(v[0], graph.MulScalar(graph.Mul(y, graph.Mul(y, y)), -0.5))}
}

// Expm1VJP: y = exp(x) - 1, dy/dx = exp(x) = y + 1.
func Expm1VJP(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
	return []*graph.Node{graph.Mul(v[0], graph.OnePlus(node))}
}

// ClampVJP: y = Clamp(min, x, max) passes the adjoint to x where min ≤ x ≤ max, to min where
// x < min and to max where x > max (summed over x's shape for a scalar bound).
func ClampVJP(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
	lo, x, hi := node.Inputs()[0], node.Inputs()[1], node.Inputs()[2]
	adj := v[0]
	zeros := graph.ZerosLike(adj)
	below := graph.LessThan(x, graph.BroadcastToShape(lo, x.Shape()))
	above := graph.GreaterThan(x, graph.BroadcastToShape(hi, x.Shape()))
	toBound := func(bound, mask *graph.Node) *graph.Node {
		d := graph.Where(mask, adj, zeros)
		if bound.Rank() == 0 && x.Rank() > 0 {
			d = graph.ReduceAllSum(d)
		}
		return d
	}
	dx := graph.Where(graph.LogicalOr(below, above), zeros, adj)
	return []*graph.Node{toBound(lo, below), dx, toBound(hi, above)}
}

// zeroVJP is the gradient of a step function: zero wherever it is defined.
func zeroVJP(node *graph.Node, v []*graph.Node, _ shapes.Shape) []*graph.Node {
	return []*graph.Node{graph.ZerosLike(node.Inputs()[0])}
}
