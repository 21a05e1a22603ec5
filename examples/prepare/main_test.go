package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

func corpus(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	text := strings.Repeat("It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n", 200)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.txt"), []byte(text), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.jsonl"), []byte(`{"text": "one document"}`+"\n"+`{"text": "another"}`+"\n"), 0o644))
	return dir
}

// TestPrepareCommand: each tokenizer writes a folder that opens with its tokenizer, and says how to
// train from it.
func TestPrepareCommand(t *testing.T) {
	in := corpus(t)
	for _, c := range []struct {
		args []string
		kind string
		eot  int
	}{
		{nil, "bytes", -1},
		{[]string{"-tokenizer", "bpe", "-vocab", "300"}, "bpe", -1},
		{[]string{"-tokenizer", "gpt2", "-tokenizer-dir", filepath.Join("..", "..", "data", "testdata", "gpt2tok")}, "gpt2", -2},
	} {
		out := filepath.Join(t.TempDir(), "shards")
		var stdout, stderr bytes.Buffer
		args := append([]string{"-data", in, "-out", out, "-val-frac", "0.3"}, c.args...)
		require.NoError(t, run(context.Background(), args, &stdout, &stderr), c.kind)
		require.Contains(t, stdout.String(), "read 2 files: 3 documents", c.kind)
		require.Contains(t, stdout.String(), "train: go run ./examples/nexttoken -data "+out, c.kind)
		f, err := data.OpenShardFolder(out)
		require.NoError(t, err, c.kind)
		tok, ok, err := f.Tokenizer()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, c.kind, f.Manifest.Tokenizer.Kind)
		require.Equal(t, tok.VocabSize(), f.Manifest.Vocab)
		if c.eot == -2 { // GPT-2's <|endoftext|>, before each document
			require.GreaterOrEqual(t, f.Manifest.EOT, 0)
			require.Equal(t, int32(f.Manifest.EOT), readFirst(f.Train[0]))
		} else {
			require.Equal(t, c.eot, f.Manifest.EOT)
		}
		require.NoError(t, f.Close())
	}
}

func readFirst(s *data.Shard) int32 {
	buf := make([]int32, 1)
	s.Read(buf, 0)
	return buf[0]
}

// TestPrepareCommandBadInput: bad flags and inputs are one line each.
func TestPrepareCommandBadInput(t *testing.T) {
	in := corpus(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-tokenizer", "words"}, `-tokenizer "words" is not bytes, bpe or gpt2`},
		{[]string{"-tokenizer", "gpt2"}, "-tokenizer gpt2 and -tokenizer-dir go together"},
		{[]string{"-vocab", "70000"}, "-vocab 70000 must be in [257, 65536]"},
		{[]string{"-val-frac", "1"}, "-val-frac 1 must be in (0, 1)"},
		{[]string{"-shard-tokens", "0"}, "-shard-tokens 0 must be in [1, 2147483647]"},
		{[]string{"-data", "/no/such/folder"}, `corpus path "/no/such/folder" does not exist`},
		{[]string{"-out", filepath.Join(in, "shards")}, "lies inside -data"},
		{[]string{"-tokenizer", "gpt2", "-tokenizer-dir", t.TempDir()}, "-tokenizer-dir: "},
		{[]string{"stray"}, `unexpected argument "stray"`},
	} {
		args := append([]string{"-data", in, "-out", filepath.Join(t.TempDir(), "out")}, c.args...)
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, &stdout, &stderr)
		require.ErrorContains(t, err, c.want, c.args)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-data", in, "-out", out}, &stdout, &stderr)
	require.ErrorContains(t, err, "interrupted: the shards in "+out+" are unfinished")
	_, err = data.OpenShardFolder(out)
	require.ErrorContains(t, err, "did not finish")
}
