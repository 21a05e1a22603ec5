package ngram_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/ngram"
)

// TestHandChecked works "abracadabra" at order 2 by hand. Bigram counts: ab 2, br 2, ra 2, ac 1,
// ca 1, ad 1, da 1; four of count 1 and three of 2, so D2 = 4/(4+2·3) = 0.4. After "a": ab, ac, ad,
// total 4, three types. Continuation counts of the unigrams (distinct bytes before each): a 3 (r, c,
// d), b 1, r 1, c 1, d 1, total 7 over five types, all but one of count 1 and none of 2: D1 = 1.
//
//	P1(b)     = max(1-1, 0)/7 + 1·5/7 · 1/256          = 5/1792
//	P(b | a)  = max(2-0.4, 0)/4 + 0.4·3/4 · P1(b)       = 0.4 + 0.3·5/1792
//	P(z | a)  = 0 + 0.3 · (0 + 5/7 · 1/256)             = 0.3·5/1792   (z never seen)
//	P(a | z)  = P1(a) = (3-1)/7 + 5/1792                 (context never seen: the lower order)
//
// With no context the unigrams are the top order, with plain counts: a 5, b 2, r 2, c 1, d 1, total 11
// over five types, two of count 1 and two of 2, D = 2/(2+4) = 1/3:
//
//	P(a)      = (5-1/3)/11 + 1/3·5/11 · 1/256
func TestHandChecked(t *testing.T) {
	m, err := ngram.Train([]byte("abracadabra"), 2)
	require.NoError(t, err)
	require.InDelta(t, 0.4+0.3*5.0/1792, m.Prob([]byte("a"), 'b'), 1e-15)
	require.InDelta(t, 0.3*5.0/1792, m.Prob([]byte("a"), 'z'), 1e-15)
	require.InDelta(t, 2.0/7+5.0/1792, m.Prob([]byte("z"), 'a'), 1e-15)
	require.InDelta(t, (5-1.0/3)/11+1.0/3*5/11/256, m.Prob(nil, 'a'), 1e-15)
}

// TestCounts: the model's size is its stored counts; training's counting work grows with the order.
func TestCounts(t *testing.T) {
	m, err := ngram.Train([]byte("abracadabra"), 2)
	require.NoError(t, err)
	// 5 unigrams (plain) + 7 bigrams (plain) + 5 unigram continuation counts.
	require.Equal(t, 17, m.NumParams())
	m3, err := ngram.Train([]byte("abracadabra"), 3)
	require.NoError(t, err)
	require.Greater(t, m3.CountingOps(), m.CountingOps())
	_, err = ngram.Train([]byte("ab"), 3)
	require.EqualError(t, err, "ngram: 2 bytes of text are fewer than one 3-gram")
	_, err = ngram.Train([]byte("ab"), 0)
	require.EqualError(t, err, "ngram: order 0 must be in [1, 16]")
}

// TestDistributionsSumToOne: for every context of the training text, and unseen ones, the
// probabilities over the 256 bytes sum to 1, each above 0.
func TestDistributionsSumToOne(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "train.txt"))
	require.NoError(t, err)
	for order := 1; order <= 6; order++ {
		m, err := ngram.Train(text, order)
		require.NoError(t, err)
		contexts := [][]byte{nil, []byte("\xff\xfe\xfd\xfc\xfb"), []byte("zq")}
		for i := 0; i+order-1 <= len(text); i += 7 {
			contexts = append(contexts, text[i:i+order-1])
		}
		for _, c := range contexts {
			p := m.Dist(c)
			sum := 0.0
			for _, q := range p {
				require.Greater(t, q, 0.0)
				sum += q
			}
			require.InDelta(t, 1, sum, 1e-12, "order %d context %q", order, c)
		}
	}
}

// TestAgainstPython: cross-entropies and probabilities against testdata/generate.py, an independent
// transcription of the formulas, for orders 1 to 6.
func TestAgainstPython(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(t, err)
		return b
	}
	train, held := read("train.txt"), read("heldout.txt")
	var want struct {
		Models []struct {
			Order int     `json:"order"`
			Bits  float64 `json:"heldout_bits_per_byte"`
			Probs []struct {
				Context []byte  `json:"-"`
				Ints    []int   `json:"context"`
				Byte    byte    `json:"byte"`
				P       float64 `json:"p"`
			} `json:"probs"`
		} `json:"models"`
	}
	require.NoError(t, json.Unmarshal(read("expected.json"), &want))
	require.Len(t, want.Models, 6)
	for _, w := range want.Models {
		m, err := ngram.Train(train, w.Order)
		require.NoError(t, err)
		bits, err := m.CrossEntropy(train, held)
		require.NoError(t, err)
		require.InDelta(t, w.Bits, bits, 1e-12, "order %d", w.Order)
		for _, p := range w.Probs {
			ctx := make([]byte, len(p.Ints))
			for i, x := range p.Ints {
				ctx[i] = byte(x)
			}
			require.InDelta(t, p.P, m.Prob(ctx, p.Byte), 1e-15, "order %d P(%q | %q)", w.Order, p.Byte, ctx)
		}
	}
	// More context helps on this text, up to the order where counts run thin.
	require.Less(t, want.Models[3].Bits, want.Models[0].Bits)
}

// TestSample: seeded, deterministic, of the asked length, and close to the text for a high order.
func TestSample(t *testing.T) {
	text, err := os.ReadFile(filepath.Join("testdata", "train.txt"))
	require.NoError(t, err)
	m, err := ngram.Train(text, 5)
	require.NoError(t, err)
	a, b := m.Sample([]byte("First"), 200, 7), m.Sample([]byte("First"), 200, 7)
	require.Len(t, a, 200)
	require.Equal(t, a, b)
	require.NotEqual(t, a, m.Sample([]byte("First"), 200, 8))
	_, err = m.CrossEntropy(nil, nil)
	require.Error(t, err)
	require.False(t, math.IsNaN(m.Prob(nil, 0)))
}
