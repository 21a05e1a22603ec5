package trainer_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	bdata "github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/trainer"
)

// prepareShards tokenizes the text file in into a shard folder with tok and returns the folder.
func prepareShards(t *testing.T, in string, tok bdata.Tokenizer) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "shards")
	_, err := bdata.Prepare(context.Background(), bdata.PrepareConfig{Inputs: []string{in}, Out: out, Tokenizer: tok, EOT: -1,
		ValFrac: 0.2, ChunkBytes: 512, ShardTokens: 3000})
	require.NoError(t, err)
	return out
}

// TestShardsTrainAsTheTextTheyHold: shards holding exactly the in-memory run's training and
// validation tokens (the split as -val-frac cuts it) train to the same losses, step for step, and
// the same sample.
func TestShardsTrainAsTheTextTheyHold(t *testing.T) {
	text := corpus(t)
	var stdout, stderr bytes.Buffer
	o := tinyOptions(t, text, filepath.Join(t.TempDir(), "text"))
	want, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err, stderr.String())

	raw, err := os.ReadFile(text)
	require.NoError(t, err)
	train, val, err := bdata.Split(raw, o.ValFrac)
	require.NoError(t, err)
	dir := t.TempDir() // llm.c's names: a folder without a manifest, bytes by -tokenizer's default
	for name, part := range map[string][]byte{"corpus_train.bin": train, "corpus_val.bin": val} {
		ids := make([]uint32, len(part))
		for i, b := range part {
			ids[i] = uint32(b)
		}
		require.NoError(t, bdata.WriteShard(filepath.Join(dir, name), ids))
	}
	stdout.Reset()
	o.Data, o.Out = dir, filepath.Join(t.TempDir(), "shards")
	got, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Contains(t, stdout.String(), "corpus: "+dir+" (shards): 9720 training tokens in 1 shards, 1080 validation tokens in 1 (256 evaluated), memory-mapped")
	for i := range want.History {
		require.Equal(t, want.History[i].TrainLoss, got.History[i].TrainLoss, "step %d", i+1)
	}
	require.Equal(t, want.ValLoss, got.ValLoss)
	require.Equal(t, want.Sample, got.Sample)
}

// TestShardsResumeReproducesUninterruptedRun: from a prepared folder of several shards with its
// own BPE, 6 steps in one go equal 3 and a resume to 6; the checkpoint samples with the folder's
// tokenizer.
func TestShardsResumeReproducesUninterruptedRun(t *testing.T) {
	text := corpus(t)
	raw, err := os.ReadFile(text)
	require.NoError(t, err)
	bpe, err := bdata.TrainBPE(raw, 300, bdata.CL100K) // not -bpe-pattern's default: the folder's own counts
	require.NoError(t, err)
	dir := prepareShards(t, text, bpe)
	f, err := bdata.OpenShardFolder(dir)
	require.NoError(t, err)
	require.Greater(t, len(f.Train), 1, "several training shards")
	require.NoError(t, f.Close())

	var stdout, stderr bytes.Buffer
	full, err := trainer.Run(tinyOptions(t, dir, filepath.Join(t.TempDir(), "full")), &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Contains(t, stdout.String(), "tokenizer: bpe of 282 ids, from "+filepath.Join(dir, bdata.ManifestFile))
	require.Contains(t, stdout.String(), "model: transformer, 1 layers, 16 wide, 2 heads, FFN 32, context 128: 13328 parameters")
	require.Greater(t, full.ValBitsPerByte, 0.0)

	out := filepath.Join(t.TempDir(), "split")
	o, resumed := runSplit(t, tinyOptions(t, dir, out), &stdout, &stderr)
	for i := range full.History {
		require.Equal(t, full.History[i].TrainLoss, resumed.History[i].TrainLoss, "step %d", i+1)
	}
	require.Equal(t, full.ValLoss, resumed.ValLoss)
	require.Equal(t, full.Sample, resumed.Sample)

	stdout.Reset()
	g := trainer.DefaultOptions()
	g.Out, g.Generate, g.Sample, g.Prompt = out, true, 10, "func"
	sample, err := trainer.Generate(g, &stdout)
	require.NoError(t, err)
	require.Contains(t, stdout.String(), "(tokenizer bpe, of the shards in "+dir+")")
	require.Greater(t, len(sample), len("func"))

	// Prepared again with another tokenizer: resuming is refused.
	_, err = bdata.Prepare(context.Background(), bdata.PrepareConfig{Inputs: []string{text}, Out: dir, Tokenizer: bdata.Bytes{}, EOT: -1, ValFrac: 0.2, ChunkBytes: 512})
	require.NoError(t, err)
	o.Steps = 9
	_, err = trainer.Run(o, &stdout, &stderr)
	require.EqualError(t, err, "-resume: the tokenizer of the shards in "+dir+" is not the checkpoint's: the folder was prepared again")
}

// TestShardsBadInput: each bad folder or flag is one line.
func TestShardsBadInput(t *testing.T) {
	text := corpus(t)
	good := func() string { return prepareShards(t, text, bdata.Bytes{}) }
	edit := func(path string, fn func([]byte) []byte) {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, fn(b), 0o644))
	}
	for name, c := range map[string]struct {
		folder func() string
		opts   func(o *trainer.Options)
		want   string
	}{
		"truncated shard": {func() string {
			d := good()
			edit(filepath.Join(d, "train_000000.bin"), func(b []byte) []byte { return b[:len(b)-1] })
			return d
		}, nil, "truncated or padded"},
		"wrong magic": {func() string {
			d := good()
			edit(filepath.Join(d, "val_000000.bin"), func(b []byte) []byte { b[1]++; return b })
			return d
		}, nil, "not a token shard: magic"},
		"id beyond the vocabulary": {func() string {
			d := t.TempDir()
			require.NoError(t, bdata.WriteShard(filepath.Join(d, "x_train.bin"), append(make([]uint32, 100), 300)))
			require.NoError(t, bdata.WriteShard(filepath.Join(d, "x_val.bin"), make([]uint32, 100)))
			return d
		}, nil, "x_train.bin: token id 300 at position 100 is outside the vocabulary of 256"},
		"empty split": {func() string {
			d := t.TempDir()
			require.NoError(t, bdata.WriteShard(filepath.Join(d, "x_train.bin"), make([]uint32, 100)))
			return d
		}, nil, "the validation split has no shard"},
		"unfinished": {func() string {
			d := good()
			m, err := bdata.ReadManifest(d)
			require.NoError(t, err)
			m.Complete = false
			require.NoError(t, bdata.WriteManifest(d, m))
			return d
		}, nil, "did not finish; run it again"},
		"-tokenizer with a prepared folder": {good, func(o *trainer.Options) { o.Tokenizer, o.TokenizerDir = "gpt2", "x" },
			"bring their tokenizer (shards.json): leave -tokenizer, -tokenizer-dir and -vocab unset"},
		"-vocab with a prepared folder": {good, func(o *trainer.Options) { o.Vocab = 1000 }, "leave -tokenizer, -tokenizer-dir and -vocab unset"},
		"-tokenizer bpe with llm.c's": {func() string {
			d := t.TempDir()
			require.NoError(t, bdata.WriteShard(filepath.Join(d, "x_train.bin"), make([]uint32, 100)))
			require.NoError(t, bdata.WriteShard(filepath.Join(d, "x_val.bin"), make([]uint32, 100)))
			return d
		}, func(o *trainer.Options) { o.Tokenizer = "bpe" }, "-tokenizer bpe trains on text; the shards in"},
		"-ext":      {good, func(o *trainer.Options) { o.Ext = ".go" }, "-ext picks files of a text corpus"},
		"too short": {good, func(o *trainer.Options) { o.Seq = 5000 }, "fewer than one window of 5000+1"},
	} {
		dir := c.folder()
		o := tinyOptions(t, dir, filepath.Join(t.TempDir(), "out"))
		if c.opts != nil {
			c.opts(&o)
		}
		var stdout, stderr bytes.Buffer
		_, err := trainer.Run(o, &stdout, &stderr)
		require.ErrorContains(t, err, c.want, name)
		require.NotContains(t, err.Error(), "\n", name)
	}
}

// TestShardsOfALargeVocabulary: shards of uint32 ids (version 2: a vocabulary above 65,536, as
// cl100k's or Llama 3's) train a model of -vocab ids; without -vocab the first id beyond the model's is
// named; with no tokenizer to write the ids as text, the run says it has no sample, and -generate
// refuses.
func TestShardsOfALargeVocabulary(t *testing.T) {
	dir := t.TempDir()
	ids := make([]uint32, 600)
	for i := range ids {
		ids[i] = uint32(i*997) % 100_000
	}
	require.NoError(t, bdata.WriteShard(filepath.Join(dir, "cl100k_train_000000.bin"), ids[:500]))
	require.NoError(t, bdata.WriteShard(filepath.Join(dir, "cl100k_val_000000.bin"), ids[500:]))
	o := tinyOptions(t, dir, filepath.Join(t.TempDir(), "out"))
	o.Steps, o.EvalEvery = 2, 2
	var stdout, stderr bytes.Buffer
	_, err := trainer.Run(o, &stdout, &stderr)
	require.EqualError(t, err, "shard "+filepath.Join(dir, "cl100k_train_000000.bin")+
		": token id 997 at position 1 is outside the vocabulary of 256 (-vocab sets the model's for shards without a tokenizer)")
	o.Vocab = 100_000
	res, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Equal(t, 2, res.Step)
	require.Contains(t, stdout.String(), "sample: none: the shards in "+dir+" bring no tokenizer to write the model's 100000 ids as text")
	g := trainer.DefaultOptions()
	g.Out, g.Generate = o.Out, true
	_, err = trainer.Generate(g, &stdout)
	require.ErrorContains(t, err, "-generate: the checkpoint's model reads 100000 ids, and it keeps no tokenizer")
	o.Data = corpus(t)
	require.ErrorContains(t, o.Validate(), "-vocab 100000 must be in [257, 65536]")
}
