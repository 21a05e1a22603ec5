package data

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEncodeLongMatchesLoop checks encodeLong, the heap that merges chunks past MaxChunk, against
// the plain loop (encoder.py's) on 300 random chunks of 257 to 3,000 bytes built from the pieces
// of a GPT-2-format vocabulary and of a trained BPE, so that many merges apply and overlap.
func TestEncodeLongMatchesLoop(t *testing.T) {
	vocab, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", "vocab.json"))
	require.NoError(t, err)
	merges, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", "merges.txt"))
	require.NoError(t, err)
	gpt2, err := ReadGPT2Tokenizer(vocab, merges)
	require.NoError(t, err)
	train, err := os.ReadFile(filepath.Join("testdata", "bpe_train.txt"))
	require.NoError(t, err)
	trained, err := TrainBPE(train, 700, GPT2)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	for k, m := range []*merger{&gpt2.m, &trained.m} {
		require.True(t, m.ordered, "merger %d", k)
		loop := *m
		loop.ordered = false
		var pieces [][]byte
		for _, p := range m.pieces {
			if len(p) > 0 && len(p) < 8 {
				pieces = append(pieces, p)
			}
		}
		for i := range 150 {
			n := 257 + rng.IntN(2744)
			var chunk []byte
			for len(chunk) < n {
				p := pieces[rng.IntN(len(pieces))]
				if rng.IntN(3) == 0 { // runs of one piece: overlapping pairs of one rank
					p = slices.Repeat(p, 1+rng.IntN(12))
				}
				chunk = append(chunk, p...)
			}
			chunk = chunk[:n]
			require.Equal(t, loop.encodeChunk(chunk), m.encodeLong(chunk), "merger %d, chunk %d", k, i)
		}
	}
}
