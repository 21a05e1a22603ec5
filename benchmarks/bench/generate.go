package bench

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/lm"
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

// GenerateReps is how many times MeasureGenerate times the first token and the whole run.
const GenerateReps = 3

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
		prompt[i] = int32((i * 7) % model.Vocab())
	}
	var generate func(n int) error
	switch m := model.(type) {
	case transformer.Config:
		gen, err := transformer.NewGenerator(b, ctx, m)
		if err != nil {
			return res, err
		}
		generate = func(n int) error { _, err := gen.Generate(prompt, n, lm.Sampling{}); return err }
	case rnn.Config:
		gen, err := rnn.NewGenerator(b, ctx, m)
		if err != nil {
			return res, err
		}
		generate = func(n int) error { _, err := gen.Generate(prompt, n, lm.Sampling{}); return err }
	}
	if err := generate(2); err != nil { // Warm-up: compiles every graph.
		return res, err
	}
	// Start from a collected heap: after training at T=1024 in the same process (compare's grid), the
	// transformer generated 65 tokens/s without this and 150 with it (2-core EPYC).
	runtime.GC()
	debug.FreeOSMemory()
	// The first token (prompt, then one token) and the whole run are timed apart, GenerateReps times
	// each, alternating; the medians' difference is the time of the tokens after the first.
	timed := func(n int) (float64, error) {
		start := time.Now()
		err := generate(n)
		return time.Since(start).Seconds(), err
	}
	var ttfts, totals []float64
	for range GenerateReps {
		ttft, err := timed(1)
		if err != nil {
			return res, err
		}
		total, err := timed(newTokens)
		if err != nil {
			return res, err
		}
		ttfts, totals = append(ttfts, ttft), append(totals, total)
	}
	res.TTFTms, res.TokensPerSec, err = GenerationRate(ttfts, totals, newTokens)
	return res, err
}

// GenerationRate returns the time to the first token (ms) and the rate of the tokens after it from
// timings of generating one token (ttfts, seconds) and newTokens (totals): the medians, and their
// difference for the newTokens-1 after the first. When the difference is not measurable against the
// first token's time (a backend that computes nothing, say) it returns an error, not a rate divided
// by almost zero.
func GenerationRate(ttfts, totals []float64, newTokens int) (ttftMs, tokensPerSec float64, err error) {
	ttft, total := Median(ttfts), Median(totals)
	if newTokens < 2 || total <= ttft*(1+1e-3) {
		return ttft * 1000, 0, fmt.Errorf("bench: generating %d tokens took %.3g ms, one took %.3g ms: too fast to measure the rate",
			newTokens, total*1000, ttft*1000)
	}
	return ttft * 1000, float64(newTokens-1) / (total - ttft), nil
}
