package bench_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/benchmarks/bench"
)

// small keeps the measurements quick: the code paths are the benchmarks', the sizes are not.
var small = bench.Sizes{Dim: 16, Layers: 1, Heads: 2, FFN: 32, Embed: 8, Hidden: 16, RNNLayers: 1, Vocab: 32}

func TestMeasureTrain(t *testing.T) {
	for _, model := range bench.Models {
		r, err := bench.MeasureTrain(backend.MustShared(), model, 8, 32, 2, small, 100)
		require.NoError(t, err, model)
		require.Equal(t, model, r.Model)
		require.Equal(t, 4, r.Batch)
		require.Positive(t, r.TokensPerSec)
		require.Positive(t, r.Params)
		require.Positive(t, r.FLOPsPerToken)
		require.InDelta(t, r.FLOPsPerToken*r.TokensPerSec/100e12, r.MFU, 1e-15)
		require.Equal(t, 2, r.Steps)
	}
	_, err := bench.MeasureTrain(backend.MustShared(), "cnn", 8, 32, 1, small, 0)
	require.ErrorContains(t, err, `model "cnn" is not one of transformer, lstm, gru`)
	_, err = bench.MeasureTrain(backend.MustShared(), "gru", 64, 32, 1, small, 0)
	require.ErrorContains(t, err, "32 tokens per step hold no sequence of 64")
}

// TestMeasureTrainChunkedRNN: with Sizes.Chunk the RNNs train through rnn.ChunkedTrainer and say
// so; the transformer ignores it.
func TestMeasureTrainChunkedRNN(t *testing.T) {
	sizes := small
	sizes.Chunk = 3
	for _, model := range bench.Models {
		r, err := bench.MeasureTrain(backend.MustShared(), model, 8, 32, 1, sizes, 0)
		require.NoError(t, err, model)
		require.Positive(t, r.TokensPerSec)
		if model == "transformer" {
			require.Zero(t, r.Chunk)
		} else {
			require.Equal(t, 3, r.Chunk, model)
		}
	}
}

func TestMeasureGenerate(t *testing.T) {
	for _, model := range bench.Models {
		// 16 new tokens: with 3, the 2 after the first (0.1 ms each here) were within the timing noise
		// of the first, and the rate unmeasurable now and then.
		r, err := bench.MeasureGenerate(backend.MustShared(), model, 4, 16, small)
		require.NoError(t, err, model)
		require.Positive(t, r.TTFTms)
		require.Positive(t, r.TokensPerSec)
	}
}

func TestMedian(t *testing.T) {
	require.Equal(t, 2.0, bench.Median([]float64{3, 1, 2}))
	require.Equal(t, 2.5, bench.Median([]float64{4, 1, 2, 3}))
	require.Zero(t, bench.Median(nil))
}

func TestGenerationRate(t *testing.T) {
	// One token in 10 ms, 11 tokens in 30 ms (medians of three): 10 tokens in 20 ms.
	ttft, rate, err := bench.GenerationRate([]float64{0.010, 0.012, 0.009}, []float64{0.031, 0.030, 0.029}, 11)
	require.NoError(t, err)
	require.InDelta(t, 10, ttft, 1e-9)
	require.InDelta(t, 500, rate, 1e-6)
	// A backend that computes nothing: the run takes no longer than its first token (seen: a stand-in
	// plugin gave 63e9 tokens/s when this was a plain division).
	_, _, err = bench.GenerationRate([]float64{0.0019}, []float64{0.0018}, 64)
	require.ErrorContains(t, err, "too fast to measure")
	_, _, err = bench.GenerationRate([]float64{0.001}, []float64{0.002}, 1)
	require.Error(t, err, "no tokens after the first")
}

func TestSizesValidate(t *testing.T) {
	require.NoError(t, bench.Sizes{}.Validate(), "zeros are the defaults")
	err := bench.Sizes{Dim: -1, Chunk: -8}.Validate()
	require.ErrorContains(t, err, "-dim -1 must not be negative")
	require.ErrorContains(t, err, "-rnn-chunk -8 must not be negative")
}
