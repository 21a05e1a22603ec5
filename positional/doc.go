// Package positional holds the position encodings of a Transformer: how a model that is otherwise
// blind to order learns where each token stands.
//
//   - [Sinusoidal]: the fixed encoding of Vaswani et al. 2017, "Attention Is All You Need", §3.5.
//   - [Learned]: absolute position embeddings trained with the model (GPT-2's `wpe`).
//   - [RoPE]: rotary position embeddings, Su et al. 2021, "RoFormer" (https://arxiv.org/abs/2104.09864),
//     in the half-split convention of GPT-NeoX and Hugging Face LLaMA.
//   - [ALiBiSlopes] and [ALiBiBias]: attention with linear biases, Press et al. 2021, "Train Short,
//     Test Long" (https://arxiv.org/abs/2108.12409).
//
// Graph-building functions panic, with the shapes in the message, when their inputs don't fit.
//
// A rotary encoding of queries laid out `[batch, seq, heads, headDim]`:
//
//	q = positional.RoPE(q, graph.Iota(g, shapes.Make(dtypes.Int32, seqLen), 0), 10000)
package positional
