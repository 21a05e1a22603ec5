package trainer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/trainer"
)

// tinyGPT2 is a GPT-2 in Hugging Face's layout written in Python (pretrained/testdata/generate.py):
// 2 layers, 16 wide, 32 positions, a 407-id vocabulary.
var tinyGPT2 = filepath.Join("..", "pretrained", "testdata", "gpt2-tiny")

// requireSameRun checks that a resumed run took the uninterrupted run's steps: every record equal
// but its timing, the same validation loss and sample.
func requireSameRun(t *testing.T, full, resumed trainer.Result) {
	t.Helper()
	require.Len(t, resumed.History, len(full.History))
	for i, r := range full.History {
		r.TokensPerSec = resumed.History[i].TokensPerSec // timing, the one thing that differs
		require.Equal(t, r, resumed.History[i], "step %d", i+1)
	}
	require.Equal(t, full.ValLoss, resumed.ValLoss)
	require.Equal(t, full.Sample, resumed.Sample)
}

// runSplit trains o for 3 steps, then resumes it to 6 from the checkpoint, and returns the options
// of the resume and its result; stdout then holds the resumed run's output alone.
func runSplit(t *testing.T, o trainer.Options, stdout, stderr *bytes.Buffer) (trainer.Options, trainer.Result) {
	t.Helper()
	o.Steps = 3
	_, err := trainer.Run(o, stdout, stderr)
	require.NoError(t, err, stderr.String())
	o.Steps, o.Resume = 6, true
	stdout.Reset()
	resumed, err := trainer.Run(o, stdout, stderr)
	require.NoError(t, err, stderr.String())
	return o, resumed
}

func pretrainedOptions(t *testing.T, data, out string) trainer.Options {
	o := tinyOptions(t, data, out)
	o.InitFrom = tinyGPT2
	o.Layers, o.Dim, o.Heads, o.FFN = 0, 0, 0, 0
	o.LR = 3e-3
	return o
}

// TestInitFromPretrained fine-tunes the pretrained GPT-2: the weights are the pretrained ones
// (the validation loss before training is the same whatever the seed, which random
// initialisation would change), the loss falls, resuming reproduces the uninterrupted run, the
// checkpoint samples with GPT-2's tokenizer, and -export writes a folder that -init-from reads
// back to the same model (the same sample).
func TestInitFromPretrained(t *testing.T) {
	data := corpus(t)
	var stdout, stderr bytes.Buffer
	full, err := trainer.Run(pretrainedOptions(t, data, filepath.Join(t.TempDir(), "full")), &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	out := stdout.String()
	require.Contains(t, out, "pretrained: "+tinyGPT2+": 13616 parameters")
	require.Contains(t, out, "tokenizer: GPT-2's byte-level BPE of 407 ids (150 merges)")
	require.Contains(t, out, "model: transformer, 2 layers, 16 wide, 4 heads, FFN 64, context 32")
	require.Contains(t, out, "step 0: val_loss=")
	require.Greater(t, full.PretrainedValLoss, 5.0, "a random tiny GPT-2 does not know this text")
	require.Less(t, full.ValLoss, full.PretrainedValLoss-0.5, "fine-tuning lowers the validation loss")
	require.Greater(t, full.ValBitsPerByte, 0.0)
	require.Contains(t, full.FinalLine(), " val_bpb=")

	o := pretrainedOptions(t, data, filepath.Join(t.TempDir(), "seed2"))
	o.Seed, o.Steps = 2, 3
	other, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err)
	require.Equal(t, full.PretrainedValLoss, other.PretrainedValLoss, "the starting weights do not depend on the seed")

	// Resume: 3 steps, then to 6.
	split := filepath.Join(t.TempDir(), "split")
	o, resumed := runSplit(t, pretrainedOptions(t, data, split), &stdout, &stderr)
	requireSameRun(t, full, resumed)
	o.InitFrom = ""
	o.Steps = 9
	_, err = trainer.Run(o, &stdout, &stderr)
	require.ErrorContains(t, err, "started from -init-from")

	// -generate from the checkpoint, with the checkpoint's tokenizer.
	g := trainer.DefaultOptions()
	g.Out, g.Generate, g.Prompt, g.Sample, g.Seed = split, true, o.Prompt, o.Sample, o.Seed
	stdout.Reset()
	text, err := trainer.Generate(g, &stdout)
	require.NoError(t, err)
	require.Equal(t, full.Sample, text)
	require.Contains(t, stdout.String(), "(tokenizer of -init-from "+tinyGPT2+")")

	// -export, then -generate -init-from the exported folder: the same model, the same sample.
	e := trainer.DefaultOptions()
	e.Out, e.Export = split, filepath.Join(t.TempDir(), "hf")
	stdout.Reset()
	require.NoError(t, trainer.Export(e, &stdout))
	require.Contains(t, stdout.String(), "GPT-2 layout of the step-6 checkpoint")
	for _, f := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
		require.FileExists(t, filepath.Join(e.Export, f))
	}
	g.Out, g.InitFrom = t.TempDir(), e.Export
	exported, err := trainer.Generate(g, &stdout)
	require.NoError(t, err)
	require.Equal(t, text, exported)
	// And from the pretrained folder itself: another model, another sample.
	g.InitFrom = tinyGPT2
	before, err := trainer.Generate(g, &stdout)
	require.NoError(t, err)
	require.NotEqual(t, text, before)
	require.True(t, strings.HasPrefix(before, o.Prompt))
}

// TestPretrainedBadInputs: wrong flag combinations, missing or broken folders, and exports a
// GPT-2 layout cannot hold are clear errors.
func TestPretrainedBadInputs(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	broken := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(broken, pretrained.ConfigFile), []byte(`{"n_embd": 16, "n_head": 4, "n_layer": 1, "n_positions": 32, "vocab_size": 407}`), 0o644))
	for _, c := range []struct {
		name string
		edit func(o *trainer.Options)
		want string
	}{
		{"lstm", func(o *trainer.Options) { o.Model = "lstm" }, "-init-from is for -model transformer"},
		{"bpe", func(o *trainer.Options) { o.Tokenizer = "bpe" }, "-init-from brings its tokenizer"},
		{"size", func(o *trainer.Options) { o.Layers = 4 }, "-init-from sets the model's size"},
		{"seq", func(o *trainer.Options) { o.Seq = 64 }, "-seq 64 exceeds the 32 positions of the pretrained model"},
		{"missing", func(o *trainer.Options) { o.InitFrom = "/no/such/model" }, "-init-from: open /no/such/model/config.json: no such file or directory"},
		{"no weights", func(o *trainer.Options) { o.InitFrom = broken }, "model.safetensors: no such file"},
		{"export too", func(o *trainer.Options) { o.Export = t.TempDir() }, "-init-from starts a run: pick one"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := pretrainedOptions(t, data, t.TempDir())
			c.edit(&o)
			_, err := trainer.Run(o, &out, &out)
			require.ErrorContains(t, err, c.want)
		})
	}
	// -export needs a transformer checkpoint GPT-2's layout holds.
	e := trainer.DefaultOptions()
	e.Out, e.Export = t.TempDir(), t.TempDir()
	require.ErrorContains(t, trainer.Export(e, &out), "-export: no checkpoint at")
	e.Resume = true
	require.ErrorContains(t, trainer.Export(e, &out), "-export only writes the checkpoint in -out")
	for _, c := range []struct {
		name string
		edit func(o *trainer.Options)
		want string
	}{
		{"gru", func(o *trainer.Options) { o.Model, o.Dim, o.Hidden = "gru", 8, 12 }, "holds an gru; GPT-2's layout holds transformers"},
		{"bytes", func(o *trainer.Options) {}, "tokenizer: bytes (token id = byte value"},
	} {
		o := tinyOptions(t, data, t.TempDir())
		o.Steps, o.Sample = 3, 0
		c.edit(&o)
		_, err := trainer.Run(o, &out, &out)
		require.NoError(t, err)
		e := trainer.DefaultOptions()
		e.Out, e.Export = o.Out, filepath.Join(t.TempDir(), "hf")
		out.Reset()
		err = trainer.Export(e, &out)
		if c.name == "gru" {
			require.ErrorContains(t, err, c.want)
			continue
		}
		require.NoError(t, err)
		require.Contains(t, out.String(), c.want)
		g, err := pretrained.LoadGPT2(e.Export)
		require.ErrorContains(t, err, "holds neither vocab.json nor encoder.json", "a byte-level model has no GPT-2 vocabulary")
		require.Nil(t, g)
	}
}

// TestGPT2TokenizerFromScratch trains a new model with GPT-2's tokenizer read from its files
// (-tokenizer gpt2 -tokenizer-dir): the model takes the tokenizer's 407 ids, the tokenizer rides in
// the checkpoint (resume, -generate and -export use it), and resuming reproduces the run.
func TestGPT2TokenizerFromScratch(t *testing.T) {
	data := corpus(t)
	var stdout, stderr bytes.Buffer
	opts := func(out string) trainer.Options {
		o := tinyOptions(t, data, out)
		o.Tokenizer, o.TokenizerDir = "gpt2", tinyGPT2
		return o
	}
	full, err := trainer.Run(opts(filepath.Join(t.TempDir(), "full")), &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Contains(t, stdout.String(), "tokenizer: GPT-2's byte-level BPE of 407 ids (150 merges), from "+tinyGPT2)
	require.Contains(t, stdout.String(), "model: transformer, 1 layers, 16 wide")
	require.NotContains(t, stdout.String(), "step 0:", "no pretrained weights")
	require.Greater(t, full.ValBitsPerByte, 0.0)

	split := filepath.Join(t.TempDir(), "split")
	o, resumed := runSplit(t, opts(split), &stdout, &stderr)
	require.Contains(t, stdout.String(), "from the checkpoint")
	requireSameRun(t, full, resumed)
	o.Tokenizer, o.TokenizerDir, o.Steps = "bytes", "", 9
	_, err = trainer.Run(o, &stdout, &stderr)
	require.ErrorContains(t, err, "was trained with -tokenizer gpt2 -tokenizer-dir "+tinyGPT2)

	g := trainer.DefaultOptions()
	g.Out, g.Generate, g.Prompt, g.Sample, g.Seed = split, true, o.Prompt, o.Sample, o.Seed
	text, err := trainer.Generate(g, &stdout)
	require.NoError(t, err)
	require.Equal(t, full.Sample, text)

	for _, c := range []struct {
		edit func(o *trainer.Options)
		want string
	}{
		{func(o *trainer.Options) { o.TokenizerDir = "" }, "-tokenizer gpt2 and -tokenizer-dir go together"},
		{func(o *trainer.Options) { o.Tokenizer = "bytes" }, "-tokenizer gpt2 and -tokenizer-dir go together"},
		{func(o *trainer.Options) { o.TokenizerDir = t.TempDir() }, "-tokenizer-dir: gpt2 tokenizer: "},
		{func(o *trainer.Options) { o.Vocab = 1000 }, "-vocab is for -tokenizer bpe"},
	} {
		o := opts(t.TempDir())
		c.edit(&o)
		_, err := trainer.Run(o, &stdout, &stderr)
		require.ErrorContains(t, err, c.want)
	}
}

// TestFilesAreDocuments: with GPT-2's tokenizer, a corpus of several files is several documents,
// <|endoftext|> between them; with bytes it stays one text.
func TestFilesAreDocuments(t *testing.T) {
	text, err := os.ReadFile(corpus(t))
	require.NoError(t, err)
	dir := t.TempDir()
	third := len(text) / 3
	for i, part := range [][]byte{text[:third], text[third : 2*third], text[2*third:]} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.txt", i)), part, 0o644))
	}
	var stdout, stderr bytes.Buffer
	o := tinyOptions(t, dir, t.TempDir())
	o.Tokenizer, o.TokenizerDir, o.Steps, o.Sample = "gpt2", tinyGPT2, 3, 0
	o.ValFrac, o.EvalTokens = 0.5, 0 // validation across two files, a separator among its tokens
	res, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Contains(t, stdout.String(), "corpus: 3 files, each a document: <|endoftext|> between them")
	require.Greater(t, res.ValBitsPerByte, 0.0)

	o = tinyOptions(t, dir, t.TempDir())
	o.Steps, o.Sample = 3, 0
	stdout.Reset()
	_, err = trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err)
	require.NotContains(t, stdout.String(), "each a document")
}
