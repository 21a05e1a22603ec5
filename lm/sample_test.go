package lm_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/lm"
)

func TestProbabilities(t *testing.T) {
	logits := []float64{2, 1, 0, -1}
	// Plain softmax at temperature 1.
	p := lm.Probabilities(logits, lm.Sampling{Temperature: 1})
	require.InDelta(t, 0.6439142598879722, p[0], 1e-12)
	require.InDelta(t, 0.0320586025, p[3], 1e-9)
	// Top-2: softmax over {2, 1} only.
	p = lm.Probabilities(logits, lm.Sampling{Temperature: 1, TopK: 2})
	require.InDeltaSlice(t, []float64{0.7310585786, 0.2689414214, 0, 0}, p, 1e-9)
	// Top-p 0.8: 0.644 < 0.8 <= 0.644 + 0.237, so the nucleus is {0, 1}.
	p = lm.Probabilities(logits, lm.Sampling{Temperature: 1, TopP: 0.8})
	require.InDeltaSlice(t, []float64{0.7310585786, 0.2689414214, 0, 0}, p, 1e-9)
	// Temperature 2 flattens: exp(l/2) normalised.
	p = lm.Probabilities(logits, lm.Sampling{Temperature: 2})
	require.InDelta(t, 0.4550542339, p[0], 1e-9)
	// Draws follow the distribution.
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, 4)
	p = lm.Probabilities(logits, lm.Sampling{Temperature: 1, TopK: 3})
	for range 20000 {
		counts[lm.SampleIndex(p, rng.Float64())]++
	}
	require.Zero(t, counts[3])
	for i := range 3 {
		require.InDelta(t, p[i], float64(counts[i])/20000, 0.015)
	}
	// No logits, no token (it panicked on an index before).
	require.Empty(t, lm.Probabilities(nil, lm.Sampling{Temperature: 1}))
	require.Equal(t, int32(-1), lm.Sample(nil, lm.Sampling{Temperature: 1}, rng))
	require.Equal(t, int32(-1), lm.Sample(nil, lm.Sampling{}, rng))
}

func TestCheckTokens(t *testing.T) {
	require.NoError(t, lm.CheckTokens([]uint16{0, 255, 7}, 256))
	require.NoError(t, lm.CheckTokens([]int32{}, 2))
	require.EqualError(t, lm.CheckTokens([]uint16{3, 1000, 4}, 256), "token id 1000 at position 1 is outside the model's vocabulary of 256 (ids 0 to 255)")
	require.EqualError(t, lm.CheckTokens([]int32{3, 4, -5}, 256), "token id -5 at position 2 is outside the model's vocabulary of 256 (ids 0 to 255)")
	require.EqualError(t, lm.CheckTokens([]int{256}, 256), "token id 256 at position 0 is outside the model's vocabulary of 256 (ids 0 to 255)")
	require.Error(t, lm.CheckTokens([]uint32{1 << 31}, 1<<16))
}
