package data_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

// TestShardWriter: a shard written a few tokens at a time is WriteShard's file byte for byte, in both
// versions; nothing is under the shard's name before Close, and Abort leaves nothing.
func TestShardWriter(t *testing.T) {
	dir := t.TempDir()
	for i, c := range []struct {
		vocab  int
		tokens []uint32
	}{{50257, []uint32{0, 1, 50256, 7, 7, 3}}, {100277, []uint32{0, 100276, 65536, 5}}} {
		want, got := filepath.Join(dir, fmt.Sprint("want", i, ".bin")), filepath.Join(dir, fmt.Sprint("got", i, ".bin"))
		require.NoError(t, data.WriteShard(want, c.tokens))
		w, err := data.CreateShard(got, c.vocab)
		require.NoError(t, err)
		require.NoError(t, w.Write(c.tokens[:2]))
		require.NoError(t, w.Write(nil))
		require.NoError(t, w.Write(c.tokens[2:]))
		require.NoFileExists(t, got, "not there before Close")
		require.Equal(t, len(c.tokens), w.Len())
		require.Equal(t, slices.Max(c.tokens), w.MaxID())
		require.NoError(t, w.Close())
		a, _ := os.ReadFile(want)
		b, _ := os.ReadFile(got)
		require.Equal(t, a, b, "vocab %d", c.vocab)
	}
	w, err := data.CreateShard(filepath.Join(dir, "small.bin"), 256)
	require.NoError(t, err)
	require.ErrorContains(t, w.Write([]uint32{70000}), "token id 70000 does not fit a version 1 shard's 16 bits")
	w, err = data.CreateShard(filepath.Join(dir, "aborted.bin"), 256)
	require.NoError(t, err)
	require.NoError(t, w.Write([]uint32{1, 2}))
	w.Abort()
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.Equal(t, []string{"got0.bin", "got1.bin", "want0.bin", "want1.bin"}, names, "Abort and a failed Write leave no file")
}

// TestWindowsOverSources: over one source NewWindowsFrom draws NewWindows' windows; over several, no
// window crosses two sources, a source too short for a window gives none, and each source is drawn
// in proportion to its windows.
func TestWindowsOverSources(t *testing.T) {
	tokens := make([]data.Token, 500)
	for i := range tokens {
		tokens[i] = data.Token(i)
	}
	a, err := data.NewWindows(tokens, 8, 16, 3)
	require.NoError(t, err)
	b, err := data.NewWindowsFrom([]data.Source{data.Tokens(tokens)}, 8, 16, 3)
	require.NoError(t, err)
	for range 5 {
		xa, ya := a.Next()
		xb, yb := b.Next()
		require.Equal(t, xa, xb)
		require.Equal(t, ya, yb)
	}
	// Three sources: 1,000 tokens of 1s... no: tokens that name their source (id / 1000) and position.
	src := func(k, n int) data.Tokens {
		s := make(data.Tokens, n)
		for i := range s {
			s[i] = data.Token(k*1000 + i)
		}
		return s
	}
	sources := []data.Source{src(0, 116), src(1, 10), src(2, 916)} // windows: 100, none, 900
	w, err := data.NewWindowsFrom(sources, 50, 16, 9)
	require.NoError(t, err)
	counts := map[int]int{}
	for range 40 {
		x, y := w.Next()
		for i := range x {
			k := int(x[i][0]) / 1000
			counts[k]++
			for j := range x[i] {
				require.Equal(t, x[i][0]+int32(j), x[i][j], "consecutive tokens of one source")
				require.Equal(t, x[i][j]+1, y[i][j])
			}
			require.Less(t, int(y[i][15])%1000, sources[k].Len())
		}
	}
	require.Zero(t, counts[1], "a source shorter than a window")
	require.InDelta(t, 0.1, float64(counts[0])/2000, 0.03, "source 0 holds a tenth of the windows: %v", counts)
	_, err = data.NewWindowsFrom([]data.Source{src(0, 5), src(1, 16)}, 1, 16, 1)
	require.EqualError(t, err, "the longest of 2 sources holds 16 tokens, fewer than one window of 16+1")
}

// TestEvalSpans: windows laid over each source in turn, none across two, and a limit on the targets.
func TestEvalSpans(t *testing.T) {
	a, b := data.Tokens{1, 2, 3, 4, 5, 6}, data.Tokens{10, 11, 12}
	spans := data.EvalSpans([]data.Source{a, b}, 4, 0)
	var in, tg [][]int32
	for _, s := range spans {
		x, y := s.Read()
		in, tg = append(in, x), append(tg, y)
	}
	require.Equal(t, [][]int32{{1, 2, 3, 4}, {5}, {10, 11}}, in)
	require.Equal(t, [][]int32{{2, 3, 4, 5}, {6}, {11, 12}}, tg)
	spans = data.EvalSpans([]data.Source{a, b}, 4, 6)
	require.Len(t, spans, 3)
	require.Equal(t, 1, spans[2].Len, "cut to the limit")
	require.Len(t, data.EvalSpans([]data.Source{a, b}, 4, 4), 1)
}

func writeGzip(t *testing.T, path string, content []byte) {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	_, err := z.Write(content)
	require.NoError(t, err)
	require.NoError(t, z.Close())
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

func readSplit(t *testing.T, shards []*data.Shard) []int32 {
	t.Helper()
	var out []int32
	for _, s := range shards {
		buf := make([]int32, s.Len())
		s.Read(buf, 0)
		out = append(out, buf...)
	}
	return out
}

// corpusDir writes eight documents of 100 bytes each in every kind of file prepare reads (.txt,
// .jsonl with blank lines and an empty text, .jsonl.gz, .txt.gz in a subfolder) and one it passes
// over; it returns them in the order prepare reads them.
func corpusDir(t *testing.T) (string, []string) {
	dir := t.TempDir()
	var docs []string
	doc := func(k int) string {
		d := fmt.Sprintf("document %d: ", k)
		d += strings.Repeat(string(rune('a'+k)), 100-len(d))
		docs = append(docs, d)
		return d
	}
	jsonl := func(texts ...string) []byte {
		var b []byte
		for _, text := range texts {
			line, _ := json.Marshal(map[string]any{"text": text, "id": 1})
			b = append(append(b, line...), "\n\n"...)
		}
		return append(b, `{"text": ""}`...)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte(doc(0)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.jsonl"), jsonl(doc(1), doc(2)), 0o644))
	writeGzip(t, filepath.Join(dir, "c.jsonl.gz"), jsonl(doc(3), doc(4)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "e.txt"), []byte(doc(5)), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	writeGzip(t, filepath.Join(dir, "sub", "f.txt.gz"), []byte(doc(6)))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "z.txt"), []byte(doc(7)), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.md"), []byte("not read"), 0o644))
	return dir, docs
}

func withEOT(eot int32, docs ...string) []int32 {
	var out []int32
	for _, d := range docs {
		out = append(out, eot)
		for _, b := range []byte(d) {
			out = append(out, int32(b))
		}
	}
	return out
}

// TestPrepare: every document of every kind of file, in order, each after the end-of-text token;
// with chunks of one document, chunks 3 and 7 to validation (ValFrac 1/4); shards no longer than
// ShardTokens; the same files with one worker or four; a manifest that opens as a folder with its
// tokenizer and checks the vocabulary.
func TestPrepare(t *testing.T) {
	in, docs := corpusDir(t)
	const eot = 255 // any id serves: the documents are ASCII
	files := map[int]map[string][]byte{}
	for _, workers := range []int{1, 4} {
		out := filepath.Join(t.TempDir(), "shards")
		var last data.PrepareProgress
		m, err := data.Prepare(context.Background(), data.PrepareConfig{Inputs: []string{in}, Out: out, Tokenizer: data.Bytes{},
			EOT: eot, ValFrac: 0.25, ChunkBytes: 100, ShardTokens: 250, Workers: workers,
			Progress: func(p data.PrepareProgress) { last = p }})
		require.NoError(t, err)
		require.True(t, m.Complete)
		require.Equal(t, int64(8), m.Documents)
		require.Equal(t, int64(800), m.Bytes)
		require.Len(t, m.Inputs, 6)
		require.Equal(t, last.Total, last.Read, "progress ends at the whole input")
		require.Equal(t, int64(808), last.Tokens)
		require.Equal(t, int64(800), last.Text)
		f, err := data.OpenShardFolder(out)
		require.NoError(t, err)
		tok, ok, err := f.Tokenizer()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, data.Bytes{}, tok)
		require.Len(t, f.Train, 3, "606 training tokens in shards of 250")
		for _, s := range append(slices.Clone(f.Train), f.Val...) {
			require.LessOrEqual(t, s.Len(), 250)
		}
		require.Equal(t, withEOT(eot, docs[0], docs[1], docs[2], docs[4], docs[5], docs[6]), readSplit(t, f.Train))
		require.Equal(t, withEOT(eot, docs[3], docs[7]), readSplit(t, f.Val))
		require.NoError(t, f.CheckVocab(256))
		require.ErrorContains(t, f.CheckVocab(255), "holds token id 255, outside the model's vocabulary of 255")
		require.NoError(t, f.Close())
		files[workers] = map[string][]byte{}
		entries, _ := os.ReadDir(out)
		for _, e := range entries {
			files[workers][e.Name()], _ = os.ReadFile(filepath.Join(out, e.Name()))
		}
	}
	require.Equal(t, files[1], files[4], "the same files with one worker or four")
}

// TestPrepareLongDocument: a document longer than a chunk is cut at newlines, its pieces spread over
// both splits and nothing lost; no end-of-text token (-1).
func TestPrepareLongDocument(t *testing.T) {
	in := filepath.Join(t.TempDir(), "long.txt")
	text := strings.Repeat("a line of a long document\n", 1000)
	require.NoError(t, os.WriteFile(in, []byte(text), 0o644))
	out := filepath.Join(t.TempDir(), "shards")
	_, err := data.Prepare(context.Background(), data.PrepareConfig{Inputs: []string{in}, Out: out, Tokenizer: data.Bytes{}, EOT: -1, ValFrac: 0.1, ChunkBytes: 200})
	require.NoError(t, err)
	f, err := data.OpenShardFolder(out)
	require.NoError(t, err)
	defer func() { require.NoError(t, f.Close()) }()
	train, val := readSplit(t, f.Train), readSplit(t, f.Val)
	require.Len(t, append(train, val...), len(text))
	require.InDelta(t, 0.1, float64(len(val))/float64(len(text)), 0.03)
	for _, split := range [][]int32{train, val} {
		b := make([]byte, len(split))
		for i, x := range split {
			b[i] = byte(x)
		}
		require.Zero(t, len(b)%26, "whole lines")
		require.Equal(t, strings.Repeat("a line of a long document\n", len(b)/26), string(b))
	}
}

// TestForeignShardFolder: llm.c's file names and nanoGPT's headerless train.bin and val.bin open as
// folders without a tokenizer, their vocabulary checked by reading every token.
func TestForeignShardFolder(t *testing.T) {
	llmc := t.TempDir()
	require.NoError(t, data.WriteShard(filepath.Join(llmc, "fineweb_train_000001.bin"), []uint32{1, 2, 3}))
	require.NoError(t, data.WriteShard(filepath.Join(llmc, "fineweb_train_000002.bin"), []uint32{4, 5, 50256}))
	require.NoError(t, data.WriteShard(filepath.Join(llmc, "fineweb_val_000000.bin"), []uint32{7, 8}))
	require.NoError(t, os.WriteFile(filepath.Join(llmc, "README"), []byte("passed over"), 0o644))
	require.True(t, data.IsShardFolder(llmc))
	f, err := data.OpenShardFolder(llmc)
	require.NoError(t, err)
	require.Nil(t, f.Manifest)
	_, ok, err := f.Tokenizer()
	require.NoError(t, err)
	require.False(t, ok)
	require.Equal(t, []int32{1, 2, 3, 4, 5, 50256}, readSplit(t, f.Train))
	require.NoError(t, f.CheckVocab(50257))
	require.EqualError(t, f.CheckVocab(50000), "shard "+filepath.Join(llmc, "fineweb_train_000002.bin")+": token id 50256 at position 2 is outside the vocabulary of 50000")
	require.NoError(t, f.Close())

	nano := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(nano, "train.bin"), []byte{1, 0, 2, 0, 3, 0}, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(nano, "val.bin"), []byte{9, 0, 8, 0}, 0o644))
	f, err = data.OpenShardFolder(nano)
	require.NoError(t, err)
	require.Equal(t, []int32{1, 2, 3}, readSplit(t, f.Train))
	require.Equal(t, []int32{9, 8}, readSplit(t, f.Val))
	require.NoError(t, f.Close())
	require.False(t, data.IsShardFolder(t.TempDir()))
}

// TestShardFolderBadInput: each damage to a folder is one line naming it.
func TestShardFolderBadInput(t *testing.T) {
	in, _ := corpusDir(t)
	prepare := func() string {
		out := filepath.Join(t.TempDir(), "shards")
		_, err := data.Prepare(context.Background(), data.PrepareConfig{Inputs: []string{in}, Out: out, Tokenizer: data.Bytes{}, EOT: -1, ValFrac: 0.25, ChunkBytes: 100})
		require.NoError(t, err)
		return out
	}
	for name, c := range map[string]struct {
		damage func(dir string)
		want   string
	}{
		"truncated": {func(dir string) {
			p := filepath.Join(dir, "train_000000.bin")
			b, _ := os.ReadFile(p)
			require.NoError(t, os.WriteFile(p, b[:len(b)-2], 0o644))
		}, "the file has 2222 bytes: truncated or padded"},
		"wrong magic": {func(dir string) {
			p := filepath.Join(dir, "val_000000.bin")
			b, _ := os.ReadFile(p)
			b[0] = 0
			require.NoError(t, os.WriteFile(p, b, 0o644))
		}, "not a token shard: magic 20240384, not 20240520 (llm.c's)"},
		"replaced": {func(dir string) {
			require.NoError(t, data.WriteShard(filepath.Join(dir, "val_000000.bin"), []uint32{1, 2}))
		}, "holds 2 tokens, shards.json counts 200: the folder changed after it was prepared; prepare it again"},
		"missing": {func(dir string) { require.NoError(t, os.Remove(filepath.Join(dir, "val_000000.bin"))) }, "no such file"},
		"incomplete": {func(dir string) {
			m, err := data.ReadManifest(dir)
			require.NoError(t, err)
			m.Complete = false
			require.NoError(t, data.WriteManifest(dir, m))
		}, "the prepare command that wrote them did not finish; run it again"},
		"bad manifest": {func(dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, data.ManifestFile), []byte("{"), 0o644))
		}, "shards.json: unexpected end of JSON input"},
		"escaping name": {func(dir string) {
			m, _ := data.ReadManifest(dir)
			m.Val[0].Name = "../val_000000.bin"
			require.NoError(t, data.WriteManifest(dir, m))
		}, `shards.json names "../val_000000.bin", not a file in the folder`},
		"empty split": {func(dir string) {
			m, _ := data.ReadManifest(dir)
			m.Val = nil
			require.NoError(t, data.WriteManifest(dir, m))
		}, "the validation split has no shard"},
	} {
		dir := prepare()
		c.damage(dir)
		_, err := data.OpenShardFolder(dir)
		require.ErrorContains(t, err, c.want, name)
		require.NotContains(t, err.Error(), "\n", name)
	}
	empty := t.TempDir()
	require.NoError(t, data.WriteShard(filepath.Join(empty, "x_train.bin"), []uint32{1, 2}))
	require.NoError(t, data.WriteShard(filepath.Join(empty, "x_val.bin"), nil))
	_, err := data.OpenShardFolder(empty)
	require.EqualError(t, err, "shards "+empty+": the validation split has 1 shards and no token")
}

// TestPrepareBadInput: what prepare refuses, in one line, and an interrupted prepare leaves a folder
// that says so and no temporary file.
func TestPrepareBadInput(t *testing.T) {
	in, _ := corpusDir(t)
	run := func(cfg data.PrepareConfig) error {
		if cfg.Out == "" {
			cfg.Out = filepath.Join(t.TempDir(), "shards")
		}
		if cfg.Tokenizer == nil {
			cfg.Tokenizer = data.Bytes{}
		}
		_, err := data.Prepare(context.Background(), cfg)
		return err
	}
	busy := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(busy, "mine.txt"), nil, 0o644))
	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "x.jsonl"), []byte(`{"text": "ok"}`+"\n"+`{"body": "no text"}`), 0o644))
	notJSON := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(notJSON, "x.jsonl"), []byte("plain text\n"), 0o644))
	notGzip := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(notGzip, "x.txt.gz"), []byte("plain text\n"), 0o644))
	for name, c := range map[string]struct {
		cfg  data.PrepareConfig
		want string
	}{
		"busy out":      {data.PrepareConfig{Inputs: []string{in}, Out: busy, ValFrac: 0.1}, "holds mine.txt, which prepare did not write: choose an empty or a new folder"},
		"no field":      {data.PrepareConfig{Inputs: []string{bad}, ValFrac: 0.1}, `x.jsonl: line 2: no field "text"`},
		"not json":      {data.PrepareConfig{Inputs: []string{notJSON}, ValFrac: 0.1}, "x.jsonl: line 1: not a JSON object"},
		"not gzip":      {data.PrepareConfig{Inputs: []string{notGzip}, ValFrac: 0.1}, "x.txt.gz: gzip: invalid header"},
		"missing":       {data.PrepareConfig{Inputs: []string{filepath.Join(in, "nothing")}, ValFrac: 0.1}, "does not exist"},
		"no val":        {data.PrepareConfig{Inputs: []string{in}, ValFrac: 0.01, ChunkBytes: 100}, "the validation split is empty (800 bytes of text in 8 chunks of 100 bytes, validation fraction 0.01)"},
		"bad fraction":  {data.PrepareConfig{Inputs: []string{in}, ValFrac: 1}, "validation fraction 1 must be in [0, 1)"},
		"eot too large": {data.PrepareConfig{Inputs: []string{in}, EOT: 256}, "end-of-text token 256 is outside the tokenizer's 256 ids"},
	} {
		err := run(c.cfg)
		require.ErrorContains(t, err, c.want, name)
		require.NotContains(t, err.Error(), "\n", name)
	}
	// Interrupted: the manifest says incomplete, nothing temporary is left, and a second run replaces all.
	out := filepath.Join(t.TempDir(), "shards")
	ctx, cancel := context.WithCancel(context.Background())
	_, err := data.Prepare(ctx, data.PrepareConfig{Inputs: []string{in}, Out: out, Tokenizer: data.Bytes{}, EOT: -1, ValFrac: 0.25, ChunkBytes: 100, Workers: 1,
		Progress: func(data.PrepareProgress) { cancel() }})
	require.True(t, errors.Is(err, context.Canceled), "%v", err)
	_, err = data.OpenShardFolder(out)
	require.ErrorContains(t, err, "did not finish; run it again")
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		require.NotContains(t, e.Name(), ".tmp-")
	}
	require.NoError(t, run(data.PrepareConfig{Inputs: []string{in}, Out: out, ValFrac: 0.25, ChunkBytes: 100, EOT: -1}))
	f, err := data.OpenShardFolder(out)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}
