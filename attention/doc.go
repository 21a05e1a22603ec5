// Package attention is the attention of a Transformer, built on GoMLX graphs.
//
//   - [ScaledDotProduct]: softmax(q·kᵀ/√d)·v over `[batch, seq, heads, headDim]` tensors, with causal,
//     boolean and additive-bias masks, and grouped-query / multi-query attention by head-count ratio;
//     causal self-attention runs in query blocks that skip the fully masked keys ([CausalBlock]).
//   - [MultiHead]: the layer over a *context.Context, with Q, K, V and output projections, optional
//     RoPE, QK-norm and dropout, configured by [Config] (checked by [Config.Validate]).
//   - [Cache]: a fixed-capacity key/value cache for incremental decoding, one token (or a prefill) per step.
//   - [Kernels]: how attention is computed, never what: the causal query block and cuDNN's fused
//     attention on XLA/CUDA ([CuDNN]), as fields of [Config] (options of [ScaledDotProduct]).
//
// This package exists instead of GoMLX v0.26's layers.MultiHeadAttention, which scales scores by
// 1/√d twice and drops masks given without a heads axis. Everything here is checked against PyTorch
// in testdata/ (values and gradients, relative error below 2e-5 in float32).
//
// Graph-building functions panic with the shapes in the message when inputs don't fit; Config
// returns errors.
//
// A causal self-attention layer in a model function:
//
//	cfg := attention.Config{ModelDim: 128, NumHeads: 4, RoPE: true}
//	if err := cfg.Validate(); err != nil {
//		return err
//	}
//	...
//	y := attention.MultiHead(ctx.In("attention"), cfg, x, attention.Args{Causal: true}) // x: [batch, seq, 128]
package attention
