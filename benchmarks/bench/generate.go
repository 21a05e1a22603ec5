package bench

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// GenResult is one generation measurement, batch 1, greedy.
type GenResult struct {
	Model        string  `json:"model"`
	PromptLen    int     `json:"prompt_len"`
	NewTokens    int     `json:"new_tokens"`
	TTFTms       float64 `json:"ttft_ms"`        // prompt processing plus the first new token
	TokensPerSec float64 `json:"tokens_per_sec"` // new tokens after the first
}

// MeasureGenerate times greedy generation of newTokens after a prompt of promptLen tokens with a
// freshly initialised model (speed does not depend on the weights). The transformer decodes on its
// KV cache (one prefill, then one token per step); the RNNs carry their state (rnn.Generator),
// taking the prompt one token at a time as they must. Graphs are compiled by a warm-up run first.
func MeasureGenerate(b backends.Backend, kind string, promptLen, newTokens int, s Sizes) (GenResult, error) {
	res := GenResult{Model: kind, PromptLen: promptLen, NewTokens: newTokens}
	if promptLen < 1 || newTokens < 2 {
		return res, fmt.Errorf("bench: generation needs a prompt and at least 2 new tokens")
	}
	model, err := Build(kind, promptLen+newTokens, s, b.String())
	if err != nil {
		return res, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		return res, err
	}
	// Create the variables with one forward pass.
	if _, err := context.ExecOnce(b, ctx, func(ctx *context.Context, t *graph.Node) *graph.Node {
		return model.Logits(ctx, t)
	}, [][]int32{{1}}); err != nil {
		return res, err
	}
	prompt := make([]int32, promptLen)
	for i := range prompt {
		prompt[i] = int32((i * 7) % vocabOf(model))
	}
	var generate func(n int) error
	switch m := model.(type) {
	case transformer.Config:
		gen, err := transformer.NewGenerator(b, ctx, m)
		if err != nil {
			return res, err
		}
		generate = func(n int) error { _, err := gen.Generate(prompt, n, transformer.Sampling{}); return err }
	case rnn.Config:
		gen, err := rnn.NewGenerator(b, ctx, m)
		if err != nil {
			return res, err
		}
		generate = func(n int) error { _, err := gen.Generate(prompt, n, transformer.Sampling{}); return err }
	}
	if err := generate(2); err != nil { // Warm-up: compiles every graph.
		return res, err
	}
	// Start from a collected heap: after training at T=1024 in the same process (compare's grid), the
	// transformer generated 65 tokens/s without this and 150 with it (2-core EPYC).
	runtime.GC()
	debug.FreeOSMemory()
	start := time.Now()
	if err := generate(1); err != nil {
		return res, err
	}
	ttft := time.Since(start).Seconds()
	start = time.Now()
	if err := generate(newTokens); err != nil {
		return res, err
	}
	total := time.Since(start).Seconds()
	res.TTFTms = ttft * 1000
	res.TokensPerSec = float64(newTokens-1) / max(1e-9, total-ttft)
	return res, nil
}
