// Package lm holds what every language model in bitter shares, whatever its architecture: the
// [Model] interface that the training loop (package trainer), the benchmarks and the examples take;
// the next-token loss ([Loss], [TokenLosses]); and sampling ([Sampling], [Sample], [Probabilities],
// [ValidatePrompt]) with the [Generator] interface of a model's decoder. Package transformer and
// package rnn implement it; neither imports the other.
//
// Token ids are Int32 `[batch, seq]`; logits are `[batch, seq, vocab]`; losses are in nats.
//
//	logits := cfg.Logits(ctx, tokens)       // any Model: transformer.Config, rnn.Config
//	loss := lm.Loss(logits, targets)        // mean next-token cross-entropy, a scalar
//	gen, err := cfg.NewGenerator(b, ctx)    // after training
//	err = gen.Stream(prompt, 100, lm.Sampling{Temperature: 0.8, TopP: 0.95, Seed: 1}, emit)
package lm
