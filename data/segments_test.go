package data

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// segmentText returns about 3.5 MB of the reference text, shuffled by line and with line breaks put
// before blanks, letters, symbols and invalid bytes, so segment boundaries meet all of them.
func segmentText(t *testing.T) []byte {
	train, err := os.ReadFile(filepath.Join("testdata", "bpe_train.txt"))
	require.NoError(t, err)
	lines := bytes.SplitAfter(train, []byte("\n"))
	rng := rand.New(rand.NewPCG(3, 4))
	var buf bytes.Buffer
	for buf.Len() < 3<<20+1<<19 {
		buf.Write(lines[rng.IntN(len(lines))])
		buf.WriteString([]string{"\n", "\n ", "\n\t", "\r\n", "\nx", "\n(", "\n\xff", "\n\n  "}[rng.IntN(8)])
	}
	return buf.Bytes()
}

// TestSegmentsKeepTheChunks: for both patterns, the chunks of the segments are the chunks of the
// whole text, the parallel Encode equals the sequential one, and training on 4 goroutines learns
// what training on one does.
func TestSegmentsKeepTheChunks(t *testing.T) {
	text := segmentText(t)
	for _, n := range []int{2, 3, 8} { // 8: as many as minSegment allows
		segs := segments(text, n)
		require.True(t, len(segs) > 1 && len(segs) <= n, "%d segments for %d", len(segs), n)
		for _, s := range segs[:len(segs)-1] {
			require.GreaterOrEqual(t, len(s), minSegment)
		}
		require.True(t, bytes.Equal(text, bytes.Join(segs, nil)), "the segments make the text")
		for _, p := range []Pattern{GPT2, CL100K} {
			var whole, pieces [][]byte
			for c := range p.Chunks(text) {
				whole = append(whole, c)
			}
			for _, s := range segs {
				for c := range p.Chunks(s) {
					pieces = append(pieces, c)
				}
			}
			require.True(t, slices.EqualFunc(whole, pieces, bytes.Equal), "%s, %d segments", p, n)
		}
	}
	require.Equal(t, 1, len(segments(text[:minSegment], 8)), "small texts stay whole")
	require.Equal(t, 1, len(segments(bytes.Repeat([]byte("a \n\n b"), minSegment), 8)), "no lone line break between characters that are not blank")

	b, err := TrainBPE(text[:1<<20], 600, CL100K)
	require.NoError(t, err)
	require.Equal(t, b.m.encode(text), b.Encode(text))

	// Training counts the chunks of the segments in parallel: the merges are those of one count.
	prev := runtime.GOMAXPROCS(1)
	one, err := TrainBPE(text, 400, GPT2)
	runtime.GOMAXPROCS(4)
	require.NoError(t, err)
	many, err := TrainBPE(text, 400, GPT2)
	runtime.GOMAXPROCS(prev)
	require.NoError(t, err)
	require.Equal(t, one.merges, many.merges)
}
