// Package transformer is a decoder-only Transformer language model on GoMLX graphs: [Config] with
// [Config.Validate], presets ([Tiny], [ShakespeareChar], [GPT2Small]), parameter and FLOP counts; the
// model ([Logits]: pre-norm blocks with LayerNorm or RMSNorm, GELU (exact or tanh) / ReLU / ReLU² /
// SwiGLU MLPs, learned / sinusoidal / RoPE / ALiBi positions, tied or untied head); and generation on
// the KV cache ([Generator]: greedy, temperature, top-k, top-p, seeded). A Config is an [lm.Model],
// so the loss and sampling of package lm and the training loop of package trainer take it as they
// take package rnn's models.
//
// The model is checked against a PyTorch implementation loaded with the same weights (testdata/):
// logits, loss and the gradient of every parameter within 2e-5 relative error, for five
// configurations.
//
// Training with GoMLX's trainer (package trainer wraps this, with data, evaluation and checkpoints):
//
//	cfg := transformer.Tiny()
//	trainer := train.NewTrainer(backend, ctx,
//		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
//			return []*graph.Node{transformer.Logits(ctx, cfg, in[0])}
//		},
//		func(labels, logits []*graph.Node) *graph.Node { return lm.Loss(logits[0], labels[0]) },
//		optimizer, nil, nil)
package transformer
