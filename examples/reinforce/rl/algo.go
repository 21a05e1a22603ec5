package rl

import (
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// DiscountedReturns are the per-token returns of an episode of n tokens whose only reward comes at
// its end: G_t = γ^(n-1-t) · reward, t = 0 ... n-1.
func DiscountedReturns(reward float64, n int, gamma float64) []float64 {
	g := make([]float64, n)
	for t := range n {
		g[t] = math.Pow(gamma, float64(n-1-t)) * reward
	}
	return g
}

// ReinforceAdvantages are REINFORCE's per-token advantages with a baseline: A_t = G_t - γ^(n-1-t)·b,
// where b is the mean reward of the batch, discounted like the return it is subtracted from (the
// value of the state t tokens in, if every episode were worth b at its end).
func ReinforceAdvantages(rewards []float64, lengths []int, gamma float64) [][]float64 {
	var b float64
	for _, r := range rewards {
		b += r
	}
	b /= float64(max(1, len(rewards)))
	out := make([][]float64, len(rewards))
	for i, r := range rewards {
		out[i] = DiscountedReturns(r-b, lengths[i], gamma)
	}
	return out
}

// GroupAdvantages are GRPO's outcome advantages: rewards come in consecutive groups of size group
// (the samples of one prompt), and each is normalised within its group: (r - mean) / (std + 1e-4),
// std the sample standard deviation (n-1). A group whose rewards are all equal gets zeros.
func GroupAdvantages(rewards []float64, group int) []float64 {
	out := make([]float64, len(rewards))
	for s := 0; s+group <= len(rewards); s += group {
		g := rewards[s : s+group]
		var mean, v float64
		for _, r := range g {
			mean += r
		}
		mean /= float64(group)
		for _, r := range g {
			v += (r - mean) * (r - mean)
		}
		std := 0.0
		if group > 1 {
			std = math.Sqrt(v / float64(group-1))
		}
		for i, r := range g {
			out[s+i] = (r - mean) / (std + 1e-4)
		}
	}
	return out
}

// KL3 is the k3 estimator of KL(π ‖ π_ref) from one token sampled from π (Schulman 2020, used by
// GRPO): with d = log π_ref(x) - log π(x), k3 = exp(d) - d - 1 >= 0, unbiased, low variance.
func KL3(logp, refLogp float64) float64 {
	d := refLogp - logp
	return math.Exp(d) - d - 1
}

// KL3Graph is KL3 elementwise on graph nodes.
func KL3Graph(logp, refLogp *graph.Node) *graph.Node {
	d := graph.Sub(refLogp, logp)
	return graph.Sub(graph.Sub(graph.Exp(d), d), graph.OnesLike(d))
}

// ClippedSurrogate is PPO's and GRPO's per-token objective (to maximise):
// min(ρ·A, clip(ρ, 1-ε, 1+ε)·A), ρ = π/π_old.
func ClippedSurrogate(ratio, adv *graph.Node, eps float64) *graph.Node {
	clipped := graph.ClipScalar(ratio, 1-eps, 1+eps)
	return graph.Min(graph.Mul(ratio, adv), graph.Mul(clipped, adv))
}
