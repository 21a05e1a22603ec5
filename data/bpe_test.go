package data_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

// bpeGolden is data/testdata/bpe.json, written by generate.py.
type bpeGolden struct {
	MaxChunk int                               `json:"max_chunk"`
	Patterns map[data.Pattern]bpePatternGolden `json:"patterns"`
	// Cases are short texts and their pieces under each pattern.
	Cases map[data.Pattern]map[string][]string `json:"cases"`
}

type bpePatternGolden struct {
	TrainChunkEnds []int        `json:"train_chunk_ends"`
	TestChunkEnds  []int        `json:"test_chunk_ends"`
	Merges         [][2]int     `json:"merges"`
	TestIDs        []data.Token `json:"test_ids"`
}

var patterns = []data.Pattern{data.GPT2, data.CL100K}

func loadBPEGolden(t *testing.T) (g bpeGolden, train, test []byte) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "bpe.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &g))
	train, err = os.ReadFile(filepath.Join("testdata", "bpe_train.txt"))
	require.NoError(t, err)
	test, err = os.ReadFile(filepath.Join("testdata", "bpe_test.txt"))
	require.NoError(t, err)
	return g, train, test
}

func chunkEnds(text []byte, pattern data.Pattern) []int {
	var ends []int
	n := 0
	for c := range pattern.Chunks(text) {
		n += len(c)
		ends = append(ends, n)
	}
	return ends
}

// TestChunksMatchPythonRegex: GPT-2's and GPT-4's patterns written out by hand split like the
// patterns themselves in Python's regex module, on text with contractions in both cases, many
// scripts, digits of several kinds, code, blank space of every sort, invalid UTF-8 and runs longer
// than MaxChunk.
func TestChunksMatchPythonRegex(t *testing.T) {
	g, train, test := loadBPEGolden(t)
	require.Equal(t, data.MaxChunk, g.MaxChunk)
	require.Len(t, g.Patterns, len(patterns))
	for _, p := range patterns {
		require.Equal(t, g.Patterns[p].TrainChunkEnds, chunkEnds(train, p), "%s", p)
		require.Equal(t, g.Patterns[p].TestChunkEnds, chunkEnds(test, p), "%s", p)
	}
}

func TestChunksByHand(t *testing.T) {
	for _, c := range []struct {
		pattern data.Pattern
		text    string
		want    []string
	}{
		{data.GPT2, "Hello world", []string{"Hello", " world"}},
		{data.GPT2, "I'll don't 'S", []string{"I", "'ll", " don", "'t", " '", "S"}},
		{data.GPT2, "x   y", []string{"x", "  ", " y"}},
		{data.GPT2, "a\n\nb", []string{"a", "\n", "\n", "b"}},
		{data.GPT2, "end  ", []string{"end", "  "}},
		{data.GPT2, "x := 42.5", []string{"x", " :=", " 42", ".", "5"}},
		{data.GPT2, "\xffab", []string{"\xff", "ab"}},
		{data.GPT2, "}\n\n\tif", []string{"}", "\n\n", "\t", "if"}},
		{data.CL100K, "}\n\n\tif", []string{"}\n\n", "\tif"}},
		{data.CL100K, "I'LL 'S x12345", []string{"I", "'LL", " '", "S", " x", "123", "45"}},
		{data.CL100K, "  \n\n \t x", []string{"  \n\n", " \t", " x"}},
		{data.CL100K, " (x((y", []string{" (", "x", "((", "y"}},
	} {
		var got []string
		for ch := range c.pattern.Chunks([]byte(c.text)) {
			got = append(got, string(ch))
		}
		require.Equal(t, c.want, got, "%s %q", c.pattern, c.text)
	}
}

// TestTrainBPEMatchesPython: the same merges, in the same order, as the plain algorithm (recount
// everything before each merge) on 35 KB of text; 600 merges reach counts of a few, where ties are
// many, so the tie rule is exercised too.
func TestTrainBPEMatchesPython(t *testing.T) {
	g, train, test := loadBPEGolden(t)
	for _, p := range patterns {
		want := g.Patterns[p]
		b, err := data.TrainBPE(train, 256+len(want.Merges), p)
		require.NoError(t, err)
		require.Equal(t, 256+len(want.Merges), b.VocabSize())
		require.Equal(t, p, b.Pattern())
		got := b.Merges()
		for i, m := range want.Merges {
			require.Equal(t, data.Pair{data.Token(m[0]), data.Token(m[1])}, got[i], "%s merge %d", p, i)
		}
		require.Equal(t, want.TestIDs, b.Encode(test), "%s: held-out text", p)
		require.Equal(t, test, b.Decode(b.Encode(test)))
	}
}

// TestBPERoundTrip: any bytes come back from Encode and Decode unchanged.
func TestBPERoundTrip(t *testing.T) {
	g, train, _ := loadBPEGolden(t)
	b, err := data.TrainBPE(train, 256+len(g.Patterns[data.GPT2].Merges), data.GPT2)
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		n := rng.IntN(600)
		text := make([]byte, n)
		for i := range text {
			if rng.IntN(3) == 0 {
				text[i] = byte(rng.IntN(256))
			} else {
				text[i] = train[rng.IntN(len(train))]
			}
		}
		ids := b.Encode(text)
		require.Equal(t, text, b.Decode(ids), "%q", text)
		require.LessOrEqual(t, len(ids), len(text))
	}
	require.Empty(t, b.Encode(nil))
	require.Equal(t, []byte("a\uFFFD"), b.Decode([]data.Token{'a', data.Token(b.VocabSize())}))
}

func TestBPEStopsWhenNothingIsLeftToMerge(t *testing.T) {
	b, err := data.TrainBPE([]byte("ab ab ab"), 1000, data.GPT2)
	require.NoError(t, err)
	// "ab" then " ab": merges (a b), then ( , ab), and nothing has two ids after that.
	require.Equal(t, []data.Pair{{'a', 'b'}, {' ', 256}}, b.Merges())
	require.Equal(t, []data.Token{256, 257, 257}, b.Encode([]byte("ab ab ab")))
	piece := b.Piece(257)
	require.Equal(t, []byte(" ab"), piece)
	piece[0] = 'x' // a copy: the tokenizer does not change
	require.Equal(t, []byte(" ab"), b.Decode([]data.Token{257}))
	require.Nil(t, b.Piece(258))
}

func TestTrainBPEErrors(t *testing.T) {
	for _, c := range []struct {
		text  string
		vocab int
		msg   string
	}{
		{"abc", 255, "vocabulary size 255"},
		{"abc", 1<<16 + 1, "vocabulary size 65537"},
		{"", 300, "no text"},
	} {
		_, err := data.TrainBPE([]byte(c.text), c.vocab, data.GPT2)
		require.ErrorContains(t, err, c.msg)
	}
	_, err := data.TrainBPE([]byte("abc"), 300, "gpt5")
	require.ErrorContains(t, err, `pattern "gpt5" is not gpt2 or cl100k`)
	b, err := data.TrainBPE([]byte("abc"), 256, data.CL100K)
	require.NoError(t, err)
	require.Equal(t, 256, b.VocabSize())
}

func TestBPEText(t *testing.T) {
	_, train, test := loadBPEGolden(t)
	b, err := data.TrainBPE(train, 500, data.CL100K)
	require.NoError(t, err)
	text, err := b.MarshalText()
	require.NoError(t, err)
	var back data.BPE
	require.NoError(t, back.UnmarshalText(text))
	require.Equal(t, b.Merges(), back.Merges())
	require.Equal(t, data.CL100K, back.Pattern())
	require.Equal(t, b.Encode(test), back.Encode(test))

	// Through JSON, as in a checkpoint's metadata.
	js, err := json.Marshal(struct{ T *data.BPE }{b})
	require.NoError(t, err)
	var meta struct{ T *data.BPE }
	require.NoError(t, json.Unmarshal(js, &meta))
	require.Equal(t, b.Merges(), meta.T.Merges())

	for _, c := range []struct{ text, msg string }{
		{"", "does not start with"},
		{"bitter-bpe 2 gpt2\n", "does not start with"},
		{"bitter-bpe 1 gpt3\n", `pattern "gpt3" is not gpt2 or cl100k`},
		{"bitter-bpe 1 gpt2\n97 98 99\n", `line 2: "97 98 99" is not two ids`},
		{"bitter-bpe 1 gpt2\n97 x\n", `line 2: "x" is not an id`},
		{"bitter-bpe 1 gpt2\n97 70000\n", `"70000" is not an id`},
		{"bitter-bpe 1 gpt2\n97 256\n", "merge 0 (97 256) uses an id not made before it"},
		{"bitter-bpe 1 gpt2\n97 98\n97 98\n", "merge 1 (97 98) repeats merge 0"},
	} {
		var b data.BPE
		require.ErrorContains(t, b.UnmarshalText([]byte(c.text)), c.msg, "%q", c.text)
	}
	one, err := data.NewBPE(data.GPT2, []data.Pair{{'a', 'b'}})
	require.NoError(t, err)
	text, err = one.MarshalText()
	require.NoError(t, err)
	require.Equal(t, "bitter-bpe 1 gpt2\n97 98\n", string(text))
}

// TestTrainBPEDeterministic: the same text gives the same merges, whatever map order Go picks.
func TestTrainBPEDeterministic(t *testing.T) {
	_, train, _ := loadBPEGolden(t)
	a, err := data.TrainBPE(train, 700, data.GPT2)
	require.NoError(t, err)
	for range 3 {
		b, err := data.TrainBPE(train, 700, data.GPT2)
		require.NoError(t, err)
		require.Equal(t, a.Merges(), b.Merges())
	}
}

func FuzzBPERoundTrip(f *testing.F) {
	src := []byte("func main() { fmt.Println(\"hello, world\") }\n\tx := 42 // don't\n")
	var bpes []*data.BPE
	for _, p := range patterns {
		b, err := data.TrainBPE(src, 320, p)
		if err != nil {
			f.Fatal(err)
		}
		bpes = append(bpes, b)
	}
	f.Add([]byte("hello, world"))
	f.Add([]byte("\xff\xfe  \t\n x'll"))
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, b := range bpes {
			var joined []byte
			for c := range b.Pattern().Chunks(text) {
				if len(c) == 0 || len(c) > data.MaxChunk {
					t.Fatalf("%s: chunk of %d bytes", b.Pattern(), len(c))
				}
				joined = append(joined, c...)
			}
			if !bytes.Equal(joined, text) {
				t.Fatalf("%s: chunks join to %q, not %q", b.Pattern(), joined, text)
			}
			if got := b.Decode(b.Encode(text)); !bytes.Equal(got, text) {
				t.Fatalf("%s: round trip gave %q for %q", b.Pattern(), got, text)
			}
		}
	})
}

// BenchmarkTrainBPE learns 600 merges on the 35 KB training text; bytes/s is text per second.
func BenchmarkTrainBPE(b *testing.B) {
	train, err := os.ReadFile(filepath.Join("testdata", "bpe_train.txt"))
	require.NoError(b, err)
	b.SetBytes(int64(len(train)))
	for b.Loop() {
		if _, err := data.TrainBPE(train, 856, data.GPT2); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBPEEncode encodes the held-out text with those merges (a fresh chunk cache each call).
func BenchmarkBPEEncode(b *testing.B) {
	train, err := os.ReadFile(filepath.Join("testdata", "bpe_train.txt"))
	require.NoError(b, err)
	test, err := os.ReadFile(filepath.Join("testdata", "bpe_test.txt"))
	require.NoError(b, err)
	bpe, err := data.TrainBPE(train, 856, data.GPT2)
	require.NoError(b, err)
	b.SetBytes(int64(len(test)))
	for b.Loop() {
		bpe.Encode(test)
	}
}

// TestChunksOfShortCases: blank space at the end of a text, as the regex module cuts it with each
// pattern (tiktoken's cl100k_base since 0.8: blank space that runs to the end is one piece).
func TestChunksOfShortCases(t *testing.T) {
	g, _, _ := loadBPEGolden(t)
	for _, p := range patterns {
		require.NotEmpty(t, g.Cases[p], p)
		for text, want := range g.Cases[p] {
			var got []string
			for c := range p.Chunks([]byte(text)) {
				got = append(got, string(c))
			}
			require.Equal(t, want, got, "%s: %q", p, text)
		}
	}
}
