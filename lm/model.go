package lm

import (
	"fmt"

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
	// Vocab is the number of token ids the model takes: ids are in [0, Vocab()). An id outside
	// is not an error the graph can raise (a gather clamps it), so check data with [CheckTokens].
	Vocab() int
	// NumParams counts the model's parameters (not optimizer state).
	NumParams() int
	// NonEmbeddingParams counts the parameters that take part in a matmul per token.
	NonEmbeddingParams() int
	// FLOPsPerToken estimates the training FLOPs (forward and backward) per token at sequence
	// length seqLen.
	FLOPsPerToken(seqLen int) float64
	// TrainingMemory estimates the memory in bytes of a training step on batch sequences of
	// seqLen tokens: state is the parameters with their gradients and AdamW's two moments,
	// activations what the backward pass keeps. An order of magnitude, to refuse a run that cannot
	// fit before it starts, not a bound.
	TrainingMemory(batch, seqLen int) (state, activations float64)
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

// CheckTokens returns an error naming the first id of ids outside [0, vocab), and its position, or
// nil. Check a corpus or a batch source once where it meets a model: on the graph an id outside the
// vocabulary is clamped by the embedding's gather and, as a target, scores a loss of 0 (see
// [TokenLosses]), so a mismatched tokenizer would train without a word of complaint.
func CheckTokens[T ~int32 | ~int64 | ~int | ~uint16 | ~uint32](ids []T, vocab int) error {
	for i, id := range ids {
		if int64(id) < 0 || int64(id) >= int64(vocab) {
			return fmt.Errorf("token id %d at position %d is outside the model's vocabulary of %d (ids 0 to %d)", int64(id), i, vocab, vocab-1)
		}
	}
	return nil
}
