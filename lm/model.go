package lm

import (
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Model is a next-token language model: its forward pass on GoMLX graphs, its size, its training
// cost, and a decoder to sample from it. transformer.Config and rnn.Config are Models: a config
// stands for its model, and its variables live in the context the methods are given.
type Model interface {
	// Logits maps tokens Int32 `[batch, seq]` to next-token logits `[batch, seq, vocab]`, with the
	// model's variables in ctx's scope. It panics with the shapes when tokens don't fit.
	Logits(ctx *context.Context, tokens *graph.Node) *graph.Node
	// NumParams counts the model's parameters (not optimizer state).
	NumParams() int
	// NonEmbeddingParams counts the parameters that take part in a matmul per token.
	NonEmbeddingParams() int
	// FLOPsPerToken estimates the training FLOPs (forward and backward) per token at sequence
	// length seqLen.
	FLOPsPerToken(seqLen int) float64
	// NewGenerator returns a decoder for the model whose trained variables are in ctx.
	NewGenerator(b backends.Backend, ctx *context.Context) (Generator, error)
}

// Generator samples continuations of a prompt from a trained model.
type Generator interface {
	// Stream samples n tokens after prompt, handing each to emit as soon as it is drawn; an error
	// from emit stops it and is returned. The prompt must pass [ValidatePrompt].
	Stream(prompt []int32, n int, s Sampling, emit func(token int32) error) error
}

// MFU is model FLOPs utilisation: flopsPerToken (a model's FLOPsPerToken) times tokensPerSec over
// the device's peak in TFLOP/s (nanoGPT's estimate_mfu); 0 when no peak is given.
func MFU(flopsPerToken, tokensPerSec, peakTFLOPs float64) float64 {
	if !(peakTFLOPs > 0) {
		return 0
	}
	return flopsPerToken * tokensPerSec / (peakTFLOPs * 1e12)
}
