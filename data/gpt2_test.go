package data_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

// gpt2Expected is data/testdata/gpt2tok/expected.json, written by pretrained/testdata/generate.py
// with GPT-2's encoder.py.
type gpt2Expected struct {
	Samples []struct {
		Text        string       `json:"text"`
		IDs         []data.Token `json:"ids"`
		ShuffledIDs []data.Token `json:"shuffled_ids"`
	} `json:"samples"`
}

func readGPT2Files(t testing.TB, vocab string) (vocabJSON, merges []byte) {
	t.Helper()
	dir := filepath.Join("testdata", "gpt2tok")
	vocabJSON, err := os.ReadFile(filepath.Join(dir, vocab))
	require.NoError(t, err)
	merges, err = os.ReadFile(filepath.Join(dir, "merges.txt"))
	require.NoError(t, err)
	return vocabJSON, merges
}

// TestGPT2TokenizerMatchesEncoderPy encodes texts as GPT-2's encoder.py does (in Python, on a
// vocabulary of 150 merges written in GPT-2's file format), chunks longer than 256 bytes included,
// under GPT-2's id order and under the same vocabulary with its ids shuffled, and decodes them back.
func TestGPT2TokenizerMatchesEncoderPy(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", "expected.json"))
	require.NoError(t, err)
	var want gpt2Expected
	require.NoError(t, json.Unmarshal(raw, &want))
	require.Len(t, want.Samples, 8)
	for _, vocab := range []string{"vocab.json", "vocab_shuffled.json"} {
		tok, err := data.ReadGPT2Tokenizer(readGPT2Files(t, vocab))
		require.NoError(t, err)
		require.Equal(t, 407, tok.VocabSize())
		require.Equal(t, 150, tok.NumMerges())
		long := 0
		for i, s := range want.Samples {
			ids := s.IDs
			if vocab == "vocab_shuffled.json" {
				ids = s.ShuffledIDs
			}
			if ids == nil {
				ids = []data.Token{}
			}
			got := tok.Encode([]byte(s.Text))
			require.Equal(t, ids, got, "%s, sample %d %.60q", vocab, i, s.Text)
			require.Equal(t, s.Text, string(tok.Decode(got)), "%s, sample %d", vocab, i)
			if strings.Contains(s.Text, strings.Repeat(" ", 300)) || strings.Contains(s.Text, strings.Repeat("a", 300)) {
				long++
			}
		}
		require.Equal(t, 2, long, "samples with chunks past MaxChunk")
		eot, ok := tok.Special("<|endoftext|>")
		require.True(t, ok)
		require.Equal(t, "<|endoftext|>", string(tok.Decode([]data.Token{eot})))
		_, ok = tok.Special("the")
		require.False(t, ok, "a token merges make is not special")
	}
	tok, err := data.LoadGPT2Tokenizer(filepath.Join("testdata", "gpt2tok"))
	require.NoError(t, err)
	eot, _ := tok.Special("<|endoftext|>")
	require.Equal(t, data.Token(406), eot, "GPT-2's order puts <|endoftext|> last")
	require.Equal(t, "\uFFFD", string(tok.Decode([]data.Token{407})))
}

// TestGPT2TokenizerLongRun encodes a megabyte of spaces, one chunk of GPT-2's pattern but its last
// character: the plain loop would take hours; the heap (checked against the loop in
// TestEncodeLongMatchesLoop) takes well under a second.
func TestGPT2TokenizerLongRun(t *testing.T) {
	tok, err := data.ReadGPT2Tokenizer(readGPT2Files(t, "vocab.json"))
	require.NoError(t, err)
	text := append(bytes.Repeat([]byte(" "), 1<<20), 'x')
	ids := tok.Encode(text)
	require.Equal(t, text, tok.Decode(ids))
	require.Less(t, len(ids), len(text)/2, "blank runs merge")
}

// TestGPT2TokenizerErrors feeds broken vocabularies and merges: each is a clear error, never a panic.
func TestGPT2TokenizerErrors(t *testing.T) {
	vocab, merges := readGPT2Files(t, "vocab.json")
	var v map[string]int
	require.NoError(t, json.Unmarshal(vocab, &v))
	edit := func(f func(map[string]int)) []byte {
		c := make(map[string]int, len(v))
		for k, id := range v {
			c[k] = id
		}
		f(c)
		b, err := json.Marshal(c)
		require.NoError(t, err)
		return b
	}
	for _, c := range []struct {
		name          string
		vocab, merges []byte
		want          string
	}{
		{"not json", []byte("{"), merges, "not a JSON object of token to id"},
		{"a list", []byte("[1, 2]"), merges, "not a JSON object of token to id"},
		{"empty", []byte("{}"), merges, "the vocabulary is empty"},
		{"negative id", edit(func(m map[string]int) { m["zz"] = -1 }), merges, `token "zz" has id -1, outside [0, 65536)`},
		{"huge id", edit(func(m map[string]int) { m["zz"] = 70000 }), merges, `token "zz" has id 70000`},
		{"same id", edit(func(m map[string]int) { m["zz"] = 3 }), merges, "have the same id 3"},
		{"missing byte", edit(func(m map[string]int) { delete(m, "Ġ") }), merges, `no token for byte 0x20 ("Ġ")`},
		{"unknown part", vocab, []byte("#version: 0.2\nt h\nq zz\n"), `merges line 3: "zz" is not in the vocabulary`},
		{"unknown result", edit(func(m map[string]int) { delete(m, "the") }), merges, `merges line 3: "the" is not in the vocabulary`},
		{"three fields", vocab, []byte("t h e\n"), `merges line 1: "t h e" is not two tokens`},
		{"repeated", vocab, []byte("t h\nth e\nt h\n"), `merges line 3 repeats the merge "t" "h" of rank 0`},
	} {
		_, err := data.ReadGPT2Tokenizer(c.vocab, c.merges)
		require.ErrorContains(t, err, c.want, c.name)
		require.ErrorContains(t, err, "gpt2 tokenizer: ", c.name)
	}
	_, err := data.LoadGPT2Tokenizer(t.TempDir())
	require.ErrorContains(t, err, "holds neither vocab.json nor encoder.json")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "encoder.json"), vocab, 0o644))
	_, err = data.LoadGPT2Tokenizer(dir)
	require.ErrorContains(t, err, "holds neither merges.txt nor vocab.bpe")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "vocab.bpe"), merges, 0o644))
	_, err = data.LoadGPT2Tokenizer(dir)
	require.NoError(t, err, "GPT-2's own file names")
}

// TestGPT2TokenizerText round-trips the text form and rejects a damaged one.
func TestGPT2TokenizerText(t *testing.T) {
	tok, err := data.ReadGPT2Tokenizer(readGPT2Files(t, "vocab_shuffled.json"))
	require.NoError(t, err)
	text, err := tok.MarshalText()
	require.NoError(t, err)
	var back data.GPT2Tokenizer
	require.NoError(t, back.UnmarshalText(text))
	sample := []byte("the king's lord hath thee, 中文 don't   \n\n")
	require.Equal(t, tok.Encode(sample), back.Encode(sample))
	require.Equal(t, tok.VocabSize(), back.VocabSize())
	eot, _ := back.Special("<|endoftext|>")
	want, _ := tok.Special("<|endoftext|>")
	require.Equal(t, want, eot)
	var bad data.GPT2Tokenizer
	require.ErrorContains(t, bad.UnmarshalText([]byte("bitter-bpe 1 gpt2\n")), `does not start with "bitter-gpt2-tokenizer 1"`)
	require.ErrorContains(t, bad.UnmarshalText(bytes.Replace(text, []byte("\nt h\n"), []byte("\nt q9\n"), 1)), `"q9" is not in the vocabulary`)
	// In JSON (a checkpoint's metadata) it is a string.
	j, err := json.Marshal(struct{ T *data.GPT2Tokenizer }{tok})
	require.NoError(t, err)
	var s struct{ T *data.GPT2Tokenizer }
	require.NoError(t, json.Unmarshal(j, &s))
	require.Equal(t, tok.Encode(sample), s.T.Encode(sample))
}

// FuzzGPT2RoundTrip: any bytes, UTF-8 or not, decode back to themselves.
func FuzzGPT2RoundTrip(f *testing.F) {
	tok, err := data.ReadGPT2Tokenizer(readGPT2Files(f, "vocab.json"))
	require.NoError(f, err)
	f.Add([]byte("the king's lord hath thee"))
	f.Add([]byte("\xff\xfe  \t\n x'll" + strings.Repeat("  ", 200)))
	f.Fuzz(func(t *testing.T, text []byte) {
		if got := tok.Decode(tok.Encode(text)); !bytes.Equal(got, text) {
			t.Fatalf("round trip gave %q for %q", got, text)
		}
	})
}

// BenchmarkGPT2Encode encodes the 35 KB BPE test text with the 150-merge GPT-2-format vocabulary.
func BenchmarkGPT2Encode(b *testing.B) {
	tok, err := data.ReadGPT2Tokenizer(readGPT2Files(b, "vocab.json"))
	require.NoError(b, err)
	text, err := os.ReadFile(filepath.Join("testdata", "bpe_test.txt"))
	require.NoError(b, err)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		tok.Encode(text)
	}
}

// gpt2Sized writes a vocabulary of GPT-2's size: its 256 byte stand-ins, then 50,000 merges of
// two random earlier tokens (each making a new string), then "<|endoftext|>".
func gpt2Sized(tb testing.TB) (vocabJSON, merges []byte) {
	tb.Helper()
	standIn := make([]string, 0, 256)
	for b := range 256 {
		switch {
		case b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE:
			standIn = append(standIn, string(rune(b)))
		}
	}
	for b := range 256 {
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE) {
			standIn = append(standIn, string(rune(256+len(standIn)-188)))
		}
	}
	tokens := slices.Clone(standIn)
	vocab := map[string]int{}
	for i, s := range tokens {
		vocab[s] = i
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var m strings.Builder
	m.WriteString("#version: 0.2\n")
	for len(tokens) < 256+50000 {
		// Favour short tokens, as real merges do.
		a := tokens[rng.IntN(min(len(tokens), 256+rng.IntN(len(tokens))))]
		b := tokens[rng.IntN(min(len(tokens), 256+rng.IntN(len(tokens))))]
		if _, ok := vocab[a+b]; ok {
			continue
		}
		vocab[a+b] = len(tokens)
		tokens = append(tokens, a+b)
		m.WriteString(a + " " + b + "\n")
	}
	vocab["<|endoftext|>"] = len(tokens)
	v, err := json.Marshal(vocab)
	require.NoError(tb, err)
	return v, []byte(m.String())
}

// BenchmarkReadGPT2Tokenizer reads a vocabulary of GPT-2's size (50,257 ids, 50,000 merges).
func BenchmarkReadGPT2Tokenizer(b *testing.B) {
	vocab, merges := gpt2Sized(b)
	b.SetBytes(int64(len(vocab) + len(merges)))
	for b.Loop() {
		tok, err := data.ReadGPT2Tokenizer(vocab, merges)
		require.NoError(b, err)
		require.Equal(b, 50257, tok.VocabSize())
	}
}

// TestTokenizerJSON reads Hugging Face's single-file form of the same vocabulary (merges as strings,
// and as pairs): the same ids as encoder.py's; other kinds of tokenizer are refused with the reason.
func TestTokenizerJSON(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", "expected.json"))
	require.NoError(t, err)
	var want gpt2Expected
	require.NoError(t, json.Unmarshal(raw, &want))
	for _, name := range []string{"tokenizer.json", "tokenizer_pairs.json"} {
		content, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", name))
		require.NoError(t, err)
		tok, err := data.ReadTokenizerJSON(content)
		require.NoError(t, err, name)
		require.Equal(t, 407, tok.VocabSize())
		for i, s := range want.Samples {
			got := tok.Encode([]byte(s.Text))
			if len(s.IDs) == 0 {
				require.Empty(t, got)
				continue
			}
			require.Equal(t, s.IDs, got, "%s, sample %d", name, i)
		}
		eot, ok := tok.Special("<|endoftext|>")
		require.True(t, ok)
		require.Equal(t, data.Token(406), eot)
		// A folder with only tokenizer.json.
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, data.TokenizerJSON), content, 0o644))
		fromDir, err := data.LoadGPT2Tokenizer(dir)
		require.NoError(t, err)
		require.Equal(t, tok.Encode([]byte(want.Samples[2].Text)), fromDir.Encode([]byte(want.Samples[2].Text)))
	}
	var f map[string]any
	content, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", "tokenizer.json"))
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		edit func(f map[string]any)
		want string
	}{
		{"wordpiece", func(f map[string]any) { f["model"].(map[string]any)["type"] = "WordPiece" }, `model type "WordPiece" is not BPE`},
		{"metaspace", func(f map[string]any) { f["pre_tokenizer"] = map[string]any{"type": "Metaspace"} }, "the pre-tokenizer is not GPT-2's"},
		{"prefix space", func(f map[string]any) { f["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true }, "the pre-tokenizer is not GPT-2's"},
		{"normalizer", func(f map[string]any) { f["normalizer"] = map[string]any{"type": "NFC"} }, "it has a normalizer"},
		{"merges", func(f map[string]any) { f["model"].(map[string]any)["merges"] = 7 }, `the merges are neither "a b" strings nor pairs`},
		{"no vocab", func(f map[string]any) { delete(f["model"].(map[string]any), "vocab") }, "no token for byte 0x00"},
	} {
		require.NoError(t, json.Unmarshal(content, &f))
		c.edit(f)
		b, err := json.Marshal(f)
		require.NoError(t, err)
		_, err = data.ReadTokenizerJSON(b)
		require.ErrorContains(t, err, c.want, c.name)
	}
	_, err = data.ReadTokenizerJSON([]byte("{"))
	require.ErrorContains(t, err, "tokenizer.json: unexpected end of JSON input")
}

// FuzzReadGPT2Tokenizer: no vocabulary, merges or tokenizer.json panics; what reads, round-trips.
func FuzzReadGPT2Tokenizer(f *testing.F) {
	vocab, merges := readGPT2Files(f, "vocab.json")
	single, err := os.ReadFile(filepath.Join("testdata", "gpt2tok", "tokenizer.json"))
	require.NoError(f, err)
	f.Add(vocab, merges)
	f.Add(vocab, []byte("#version: 0.2\nt h\nth e\n"))
	f.Add(single, []byte{})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		for _, tok := range []*data.GPT2Tokenizer{must(data.ReadGPT2Tokenizer(a, b)), must(data.ReadTokenizerJSON(a))} {
			if tok == nil {
				continue
			}
			text := []byte("the king's lord hath thee \xff 中文")
			if got := tok.Decode(tok.Encode(text)); !bytes.Equal(got, text) {
				t.Fatalf("round trip gave %q", got)
			}
		}
	})
}

func must(tok *data.GPT2Tokenizer, err error) *data.GPT2Tokenizer {
	if err != nil {
		return nil
	}
	return tok
}

// FuzzUnmarshalText: the text forms that checkpoints keep of both tokenizers (the trained BPE's and
// GPT-2's): no input panics UnmarshalText; what reads writes back to text that reads to the same
// tokenizer, and encodes and decodes a text to itself.
func FuzzUnmarshalText(f *testing.F) {
	bpe, err := data.TrainBPE([]byte("the king's lord hath thee, the king hath the lord's"), 280, data.CL100K)
	require.NoError(f, err)
	bpeText, err := bpe.MarshalText()
	require.NoError(f, err)
	vocab, merges := readGPT2Files(f, "vocab.json")
	gpt2, err := data.ReadGPT2Tokenizer(vocab, merges)
	require.NoError(f, err)
	gpt2Text, err := gpt2.MarshalText()
	require.NoError(f, err)
	f.Add(bpeText)
	f.Add(gpt2Text)
	f.Add([]byte("bitter-bpe 1 gpt2\n256 257\n"))
	f.Add([]byte("bitter-gpt2-tokenizer 1\n{\"a\":0}\n#version: 0.2\n"))
	sample := []byte("the king's lord \xff 中文\n\tx")
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, tok := range []interface {
			data.Tokenizer
			MarshalText() ([]byte, error)
			UnmarshalText([]byte) error
		}{new(data.BPE), new(data.GPT2Tokenizer)} {
			if tok.UnmarshalText(text) != nil {
				continue
			}
			again, err := tok.MarshalText()
			require.NoError(t, err)
			require.NoError(t, tok.UnmarshalText(again), "its own text form reads back")
			back, err := tok.MarshalText()
			require.NoError(t, err)
			require.Equal(t, again, back, "the text form is stable")
			if got := tok.Decode(tok.Encode(sample)); !bytes.Equal(got, sample) {
				t.Fatalf("round trip gave %q", got)
			}
		}
	})
}
