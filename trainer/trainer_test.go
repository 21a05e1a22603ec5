package trainer_test

import (
	"bytes"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	bdata "github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/trainer"
)

// corpus writes a small repetitive text file and returns its path.
func corpus(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for i := range 300 {
		b.WriteString("func f")
		b.WriteByte(byte('a' + i%7))
		b.WriteString("(x int) int { return x * 2 }\n")
	}
	path := filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

func tinyOptions(t *testing.T, data, out string) trainer.Options {
	o := trainer.DefaultOptions()
	o.Data, o.Out = data, out
	o.Layers, o.Dim, o.Heads, o.FFN, o.Seq, o.Batch = 1, 16, 2, 32, 16, 4
	o.Steps, o.EvalEvery, o.Warmup, o.EvalTokens = 6, 3, 2, 256
	o.Dropout = 0.1 // Dropout draws from the context RNG, which must be restored too.
	// A cosine schedule depends on -steps, which the split run below changes; warmup then constant
	// doesn't, so both runs follow the same learning rates.
	o.Schedule = "constant"
	o.Sample, o.Quiet = 20, true
	return o
}

// TestResumeReproducesUninterruptedRun trains 6 steps in one go, and 3 steps then a resume to 6
// from the checkpoint; the losses of every step must be identical.
func TestResumeReproducesUninterruptedRun(t *testing.T) {
	data := corpus(t)
	var stdout, stderr bytes.Buffer
	full, err := trainer.Run(tinyOptions(t, data, filepath.Join(t.TempDir(), "full")), &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	require.Len(t, full.History, 6)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Equal(t, full.FinalLine(), lines[len(lines)-1])
	require.Regexp(t, `^final: step=6 train_loss=\d+\.\d{4} val_loss=\d+\.\d{4} tokens_per_sec=\d+$`, lines[len(lines)-1])

	out := filepath.Join(t.TempDir(), "split")
	o := tinyOptions(t, data, out)
	o.Steps = 3
	first, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err)
	require.Len(t, first.History, 3)
	o.Steps, o.Resume = 6, true
	resumed, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err)
	require.Len(t, resumed.History, 6)
	for i := range full.History {
		require.Equal(t, full.History[i].TrainLoss, resumed.History[i].TrainLoss, "step %d", i+1)
		require.Greater(t, full.History[i].GradNorm, 0.0, "step %d", i+1)
		require.Equal(t, full.History[i].GradNorm, resumed.History[i].GradNorm, "step %d", i+1)
		if full.History[i].ValLoss != nil {
			require.Equal(t, *full.History[i].ValLoss, *resumed.History[i].ValLoss, "val at step %d", i+1)
		}
	}
	require.Equal(t, full.ValLoss, resumed.ValLoss)
	require.Equal(t, full.Sample, resumed.Sample)
	for _, f := range []string{trainer.CheckpointFile, "loss.csv", "loss.png"} {
		info, err := os.Stat(filepath.Join(out, f))
		require.NoError(t, err)
		require.NotZero(t, info.Size())
	}
	csv, err := os.ReadFile(filepath.Join(out, "loss.csv"))
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(csv)), "\n"), 7, "header and 6 steps")
	require.True(t, strings.HasPrefix(string(csv), "step,train_loss,val_loss,lr,tokens_per_sec,grad_norm\n"))

	// The loss falls on this repetitive text.
	require.Less(t, full.History[5].TrainLoss, full.History[0].TrainLoss)
}

// TestMFUAgainstAGivenPeak: with -peak-tflops the log lines and the final line carry model FLOPs
// utilisation, the model's training FLOPs per token times the median tokens/s over the peak.
func TestMFUAgainstAGivenPeak(t *testing.T) {
	o := tinyOptions(t, corpus(t), t.TempDir())
	o.Steps, o.Sample = 3, 0
	o.PeakTFLOPs = 1e-4 // 100 MFLOP/s: the tiny model on this machine lands in the percent range
	var stdout, stderr bytes.Buffer
	res, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	model, err := o.BuildModel()
	require.NoError(t, err)
	flops := model.FLOPsPerToken(o.Seq)
	require.Greater(t, flops, 6*float64(model.NonEmbeddingParams()), "attention adds 12·L·H·Q·T")
	require.Greater(t, res.TokensPerSec, 0.0)
	require.InDelta(t, flops*res.TokensPerSec/1e8, res.MFU, 1e-12*res.MFU)
	require.Contains(t, stdout.String(), "MFU against a peak of 0.0001 TFLOP/s")
	require.Contains(t, stderr.String(), " MFU ", "log lines show it")
	require.Regexp(t, `step 1: \d+\.\d s, compiling the training graph included`, stderr.String())
	require.Regexp(t, `^final: step=3 train_loss=\d+\.\d{4} val_loss=\d+\.\d{4} tokens_per_sec=\d+ mfu=\d+\.\d%$`, res.FinalLine())
	require.True(t, strings.HasSuffix(strings.TrimSpace(stdout.String()), res.FinalLine()))
}

func TestBadInputsAreClearErrors(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	cases := []struct {
		name string
		edit func(o *trainer.Options)
		want string
	}{
		{"steps", func(o *trainer.Options) { o.Steps = 0 }, "-steps 0 must be positive"},
		{"preset", func(o *trainer.Options) { o.Preset = "huge" }, `-preset "huge" is not one of tiny, shakespeare-char, gpt2-small`},
		{"model", func(o *trainer.Options) { o.Dim = 30; o.Heads = 4 }, "ModelDim 30 is not divisible by NumHeads 4"},
		{"missing corpus", func(o *trainer.Options) { o.Data = "/no/such/corpus" }, `corpus path "/no/such/corpus" does not exist`},
		{"schedule", func(o *trainer.Options) { o.Schedule = "step" }, `-schedule "step" is not constant or cosine`},
		{"resume without checkpoint", func(o *trainer.Options) { o.Resume = true }, "-resume: no checkpoint at"},
		{"peak", func(o *trainer.Options) { o.PeakTFLOPs = -790 }, "-peak-tflops -790 must be a positive number, or 0 for none"},
		{"out under a file", func(o *trainer.Options) { o.Out = filepath.Join(data, "sub") }, "-out: mkdir " + data + ": not a directory"},
		{"peak NaN", func(o *trainer.Options) { o.PeakTFLOPs = math.NaN() }, "-peak-tflops NaN must be a positive number"},
		{"accum", func(o *trainer.Options) { o.Accum = 0 }, "-accum 0 must be positive"},
		{"accum in chunks", func(o *trainer.Options) { o.Model, o.Accum, o.RNNChunk = "lstm", 2, 4 }, "-accum is not available with -rnn-chunk"},
		{"tokenizer", func(o *trainer.Options) { o.Tokenizer = "wordpiece" }, `-tokenizer "wordpiece" is not bytes, bpe or gpt2`},
		{"pattern", func(o *trainer.Options) { o.Tokenizer, o.BPEPattern = "bpe", "o200k" }, `-bpe-pattern "o200k" is not gpt2 or cl100k`},
		{"vocab for bytes", func(o *trainer.Options) { o.Vocab = 1000 }, "-vocab is for -tokenizer bpe"},
		{"vocab small", func(o *trainer.Options) { o.Tokenizer, o.Vocab = "bpe", 256 }, "-vocab 256 must be in [257, 65536]"},
		{"vocab large", func(o *trainer.Options) { o.Tokenizer, o.Vocab = "bpe", 70000 }, "-vocab 70000 must be in [257, 65536]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions(t, data, t.TempDir())
			c.edit(&o)
			_, err := trainer.Run(o, &out, &out)
			require.ErrorContains(t, err, c.want)
		})
	}

	t.Run("corrupt checkpoint", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, trainer.CheckpointFile), []byte("garbage"), 0o644))
		o := tinyOptions(t, data, dir)
		o.Resume = true
		_, err := trainer.Run(o, &out, &out)
		require.ErrorContains(t, err, "corrupt checkpoint")
	})
	t.Run("resume with other flags", func(t *testing.T) {
		dir := t.TempDir()
		o := tinyOptions(t, data, dir)
		o.Steps, o.Sample = 3, 0
		_, err := trainer.Run(o, &out, &out)
		require.NoError(t, err)
		o.Steps, o.Resume = 6, true
		o.Dim, o.Precision, o.Seed = 32, "bfloat16", 9
		_, err = trainer.Run(o, &out, &out)
		require.EqualError(t, err, "-resume: the checkpoint in "+dir+" was made with -dim 16 (asked: 32), "+
			"-precision float32 (asked: bfloat16), -seed 1 (asked: 9): pass the checkpoint's values to resume")
		o = tinyOptions(t, data, dir)
		o.Steps, o.Resume, o.Model, o.Hidden = 6, true, "gru", 8
		_, err = trainer.Run(o, &out, &out)
		require.EqualError(t, err, "-resume: the checkpoint in "+dir+" was made with -model transformer (asked: gru): "+
			"pass the checkpoint's values to resume")
	})
	t.Run("more memory than there is", func(t *testing.T) {
		if _, ok := backend.HostMemory(); !ok {
			t.Skip("the host's available memory is not known here")
		}
		for _, c := range []struct {
			edit func(o *trainer.Options)
			want string
		}{
			{func(o *trainer.Options) { o.Dim, o.Heads = 1_000_000, 1 }, "for the model's 4000715000032 parameters with their gradients and AdamW's moments, and "},
			{func(o *trainer.Options) { o.Batch = 10_000_000 }, "for the activations of 10000000 sequences of 16 tokens, and "},
			{func(o *trainer.Options) { o.Seq = 1_000_000 }, "for the activations of 4 sequences of 1000000 tokens, and "},
		} {
			o := tinyOptions(t, data, t.TempDir())
			c.edit(&o)
			_, err := trainer.Run(o, &out, &out)
			require.ErrorContains(t, err, c.want)
			require.Regexp(t, `^memory: the run needs about [0-9.]+ [KMGTPE]?B, `, err.Error())
		}
	})
	t.Run("corpus too short", func(t *testing.T) {
		short := filepath.Join(t.TempDir(), "short.txt")
		require.NoError(t, os.WriteFile(short, []byte("0123456789"), 0o644))
		_, err := trainer.Run(tinyOptions(t, short, t.TempDir()), &out, &out)
		require.ErrorContains(t, err, "training split: 9 tokens are fewer than one window of 16+1")
	})
	t.Run("empty corpus", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.txt")
		require.NoError(t, os.WriteFile(empty, nil, 0o644))
		_, err := trainer.Run(tinyOptions(t, empty, t.TempDir()), &out, &out)
		require.ErrorContains(t, err, "empty.txt is empty")
	})
}

// TestRecurrentModels trains the LSTM and GRU through the same entry, and resumes the GRU.
func TestRecurrentModels(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	for _, model := range []string{"lstm", "gru"} {
		t.Run(model, func(t *testing.T) {
			o := tinyOptions(t, data, t.TempDir())
			o.Model, o.Dim, o.Hidden, o.Steps, o.EvalEvery, o.Sample = model, 8, 12, 4, 2, 10
			res, err := trainer.Run(o, &out, &out)
			require.NoError(t, err, out.String())
			require.Len(t, res.History, 4)
			require.Len(t, res.Sample, len(o.Prompt)+10)
			require.Contains(t, out.String(), "model: "+model+", 1 layers of 12, embedding 8")
			o.Steps, o.Resume = 6, true
			resumed, err := trainer.Run(o, &out, &out)
			require.NoError(t, err)
			require.Len(t, resumed.History, 6)
			o.Model = "transformer"
			_, err = trainer.Run(o, &out, &out)
			require.ErrorContains(t, err, "-resume: the checkpoint in")
		})
	}
	o := tinyOptions(t, data, t.TempDir())
	o.Model = "rnn"
	_, err := trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, `-model "rnn" is not one of transformer, lstm, gru, hmm`)
}

// TestHiddenMarkovModel: -model hmm trains through the same loop (its logits are the forward
// algorithm's next-token log-probabilities), learns, resumes step for step, samples from its
// checkpoint, and names -hidden when a resume asks for another size.
func TestHiddenMarkovModel(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	dir := t.TempDir()
	o := tinyOptions(t, data, filepath.Join(dir, "full"))
	o.Model, o.Hidden, o.Steps, o.EvalEvery, o.LR = "hmm", 16, 30, 10, 0.05
	full, err := trainer.Run(o, &out, &out)
	require.NoError(t, err, out.String())
	require.Contains(t, out.String(), "model: hmm, 16 hidden states: 4368 parameters")
	require.Less(t, *full.History[29].ValLoss, *full.History[9].ValLoss, "it learns")
	require.Less(t, full.ValLoss, math.Log(256), "better than uniform bytes")

	o.Out = filepath.Join(dir, "split")
	o.Steps = 10
	_, err = trainer.Run(o, &out, &out)
	require.NoError(t, err)
	o.Steps, o.Resume = 30, true
	resumed, err := trainer.Run(o, &out, &out)
	require.NoError(t, err)
	for i := range full.History {
		require.Equal(t, full.History[i].TrainLoss, resumed.History[i].TrainLoss, "step %d", i+1)
	}
	require.Equal(t, full.Sample, resumed.Sample)

	g := trainer.DefaultOptions()
	g.Out, g.Generate, g.Sample, g.Prompt = o.Out, true, 20, "func"
	text, err := trainer.Generate(g, &out)
	require.NoError(t, err)
	require.Len(t, text, len("func")+20)

	o.Hidden, o.Steps = 32, 40
	_, err = trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, "-hidden 16 (asked: 32)")
}

// TestRecurrentModelsInChunks: with -rnn-chunk the LSTM trains and evaluates chunk by chunk
// (rnn.ChunkedTrainer) and its run is the unrolled run's, step for step; a checkpoint written in
// chunks resumes unrolled. -rnn-chunk is refused for the transformer.
func TestRecurrentModelsInChunks(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	run := func(chunk int, dir string) trainer.Result {
		o := tinyOptions(t, data, dir)
		o.Model, o.Dim, o.Hidden, o.Steps, o.EvalEvery, o.Sample, o.RNNChunk = "lstm", 8, 12, 4, 2, 0, chunk
		res, err := trainer.Run(o, &out, &out)
		require.NoError(t, err, out.String())
		return res
	}
	chunkedDir := t.TempDir()
	unrolled, chunked := run(0, t.TempDir()), run(5, chunkedDir)
	require.Len(t, chunked.History, 4)
	for i := range unrolled.History {
		require.InDelta(t, unrolled.History[i].TrainLoss, chunked.History[i].TrainLoss, 1e-5, "step %d", i+1)
	}
	require.InDelta(t, unrolled.ValLoss, chunked.ValLoss, 1e-5)

	o := tinyOptions(t, data, chunkedDir)
	o.Model, o.Dim, o.Hidden, o.Steps, o.EvalEvery, o.Sample, o.Resume = "lstm", 8, 12, 6, 2, 0, true
	resumed, err := trainer.Run(o, &out, &out)
	require.NoError(t, err, out.String())
	require.Len(t, resumed.History, 6)

	o = tinyOptions(t, data, t.TempDir())
	o.RNNChunk = 4
	_, err = trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, "-rnn-chunk is for -model lstm or gru")
	o.Model, o.RNNChunk = "gru", -1
	_, err = trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, "-rnn-chunk -1 must not be negative")
}

// TestMixedPrecisionTracksFloat32 trains the same model from the same seed in float32 and with
// bfloat16 matmuls (float32 master weights, optimizer, norms, softmax and loss) and checks that the
// bf16 run's training loss stays within 0.05 nats of the float32 run's at every step, and its final
// validation loss within 0.02.
func TestMixedPrecisionTracksFloat32(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	o := tinyOptions(t, data, t.TempDir())
	o.Steps, o.EvalEvery, o.Dropout, o.Sample = 30, 30, 0, 5 // The sample runs the bf16 KV-cache path too.
	f32, err := trainer.Run(o, &out, &out)
	require.NoError(t, err)
	o.Precision, o.Out = "bfloat16", t.TempDir()
	bf16, err := trainer.Run(o, &out, &out)
	require.NoError(t, err)
	for i := range f32.History {
		require.InDelta(t, f32.History[i].TrainLoss, bf16.History[i].TrainLoss, 0.05, "step %d", i+1)
	}
	require.InDelta(t, f32.ValLoss, bf16.ValLoss, 0.02)
	require.Less(t, f32.History[29].TrainLoss, f32.History[0].TrainLoss-0.5, "the run learns")
	require.NotEqual(t, f32.History[29].TrainLoss, bf16.History[29].TrainLoss, "bf16 really ran in bf16")
}

// TestBPETokenizer trains with -tokenizer bpe: the BPE is learned on the training split, sized
// the model's vocabulary, kept in the checkpoint and taken from it on -resume (the resumed run
// is the uninterrupted one, step for step); the final line adds bits per byte, which is the
// validation loss times tokens over bytes over ln 2.
func TestBPETokenizer(t *testing.T) {
	data := corpus(t)
	var stdout, stderr bytes.Buffer
	o := tinyOptions(t, data, filepath.Join(t.TempDir(), "full"))
	o.Tokenizer, o.Vocab = "bpe", 300
	full, err := trainer.Run(o, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	// This small, repetitive text runs out of pairs before 300 ids; the model has 300.
	require.Contains(t, stdout.String(), "tokenizer: byte-level BPE of 281 ids (of 300 asked: no pair was left to merge")
	require.Regexp(t, `^final: step=6 train_loss=\d+\.\d{4} val_loss=\d+\.\d{4} tokens_per_sec=\d+ val_bpb=\d+\.\d{4}$`, full.FinalLine())
	cfg, err := o.ModelConfig()
	require.NoError(t, err)
	require.Equal(t, 300, cfg.VocabSize)
	require.True(t, strings.HasPrefix(full.Sample, o.Prompt))

	// Bits per byte by hand: the validation split is the end of the text; the run evaluates its
	// first -eval-tokens targets.
	text, err := os.ReadFile(data)
	require.NoError(t, err)
	trainText, valText, err := bdata.Split(text, o.ValFrac)
	require.NoError(t, err)
	bpe, err := bdata.TrainBPE(trainText, 300, bdata.GPT2)
	require.NoError(t, err)
	targets := bpe.Encode(valText)[1 : o.EvalTokens+1]
	want := full.ValLoss * float64(len(targets)) / float64(len(bpe.Decode(targets))) / math.Ln2
	require.InDelta(t, want, full.ValBitsPerByte, 1e-12)
	require.Less(t, full.ValBitsPerByte, full.ValLoss/math.Ln2/2, "more than two bytes per token")

	o.Out = filepath.Join(t.TempDir(), "split")
	o, resumed := runSplit(t, o, &stdout, &stderr)
	require.Contains(t, stdout.String(), "tokenizer: byte-level BPE of 281 ids, gpt2 pattern, from the checkpoint")
	for i := range full.History {
		require.Equal(t, full.History[i].TrainLoss, resumed.History[i].TrainLoss, "step %d", i+1)
	}
	require.Equal(t, full.ValBitsPerByte, resumed.ValBitsPerByte)
	require.Equal(t, full.Sample, resumed.Sample)

	// Resuming with another tokenizer is refused.
	o.Steps, o.BPEPattern = 8, "cl100k"
	_, err = trainer.Run(o, &stdout, &stderr)
	require.ErrorContains(t, err, "was trained with -tokenizer bpe -bpe-pattern gpt2")
	o.Tokenizer, o.Vocab, o.BPEPattern = "bytes", 0, "gpt2"
	_, err = trainer.Run(o, &stdout, &stderr)
	require.ErrorContains(t, err, "-resume: the checkpoint in")

}

func TestBPEVocab(t *testing.T) {
	o := trainer.DefaultOptions()
	o.Tokenizer = "bpe"
	require.Equal(t, 4096, o.BPEVocab(), "tiny's 256 bytes: the default")
	o.Preset = "gpt2-small"
	require.Equal(t, 50257, o.BPEVocab())
	cfg, err := o.ModelConfig()
	require.NoError(t, err)
	require.Equal(t, 50257, cfg.VocabSize)
	o.Vocab = 8000
	cfg, err = o.ModelConfig()
	require.NoError(t, err)
	require.Equal(t, 8000, cfg.VocabSize)
	o.Model = "gru"
	rc, err := o.RNNConfig()
	require.NoError(t, err)
	require.Equal(t, 8000, rc.VocabSize)
}

// TestGenerateFromCheckpoint: -generate samples from a checkpoint without training, taking the
// model and tokenizer from it; with the run's prompt, length and seed it gives the run's own sample
// (the checkpoint holds the weights of the last step), for a BPE transformer and a byte-level GRU.
func TestGenerateFromCheckpoint(t *testing.T) {
	data := corpus(t)
	var stdout, stderr bytes.Buffer
	for _, c := range []struct {
		name string
		edit func(o *trainer.Options)
	}{
		{"transformer-bpe-cl100k", func(o *trainer.Options) { o.Tokenizer, o.Vocab, o.BPEPattern = "bpe", 300, "cl100k" }},
		{"gru-bytes", func(o *trainer.Options) { o.Model, o.Dim, o.Hidden = "gru", 8, 12 }},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := tinyOptions(t, data, t.TempDir())
			o.Steps = 3
			c.edit(&o)
			res, err := trainer.Run(o, &stdout, &stderr)
			require.NoError(t, err, stderr.String())

			g := trainer.DefaultOptions() // the model flags are the defaults: they come from the checkpoint
			g.Out, g.Generate, g.Prompt, g.Sample, g.Seed = o.Out, true, o.Prompt, o.Sample, o.Seed
			stdout.Reset()
			text, err := trainer.Generate(g, &stdout)
			require.NoError(t, err)
			require.Equal(t, res.Sample, text)
			require.Contains(t, stdout.String(), "at step 3")
			require.Contains(t, stdout.String(), text)

			g.Seed = 2
			other, err := trainer.Generate(g, &stdout)
			require.NoError(t, err)
			require.NotEqual(t, text, other, "another seed, another sample")
		})
	}

	for _, c := range []struct {
		edit func(o *trainer.Options)
		want string
	}{
		{func(o *trainer.Options) {}, "-generate: no checkpoint at"},
		{func(o *trainer.Options) { o.Resume = true }, "-resume trains: pick one"},
		{func(o *trainer.Options) { o.Sample = 0 }, "-generate needs -sample above 0"},
		{func(o *trainer.Options) { o.Temperature = -1 }, "-temperature -1 must not be negative"},
	} {
		o := trainer.DefaultOptions()
		o.Out, o.Generate = t.TempDir(), true
		c.edit(&o)
		_, err := trainer.Generate(o, &stdout)
		require.ErrorContains(t, err, c.want)
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, trainer.CheckpointFile), []byte("garbage"), 0o644))
	o := trainer.DefaultOptions()
	o.Out, o.Generate = dir, true
	_, err := trainer.Generate(o, &stdout)
	require.ErrorContains(t, err, "corrupt checkpoint")
}

// TestGradientAccumulation: -batch 2 -accum 2 takes the same optimizer steps as -batch 4 (the same
// windows in the same order, the mean of two micro-batch gradients equals the batch gradient), so
// the losses agree to float32 rounding; a run with -accum resumes to the uninterrupted run exactly.
func TestGradientAccumulation(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	run := func(batch, accum, steps int, dir string, resume bool) trainer.Result {
		o := tinyOptions(t, data, dir)
		o.Batch, o.Accum, o.Steps, o.Resume, o.Dropout, o.Sample = batch, accum, steps, resume, 0, 0
		res, err := trainer.Run(o, &out, &out)
		require.NoError(t, err, out.String())
		return res
	}
	whole, accumulated := run(4, 1, 6, t.TempDir(), false), run(2, 2, 6, t.TempDir(), false)
	for i := range whole.History {
		require.InDelta(t, whole.History[i].TrainLoss, accumulated.History[i].TrainLoss, 2e-5, "step %d", i+1)
	}
	require.InDelta(t, whole.ValLoss, accumulated.ValLoss, 2e-5)
	require.Less(t, whole.History[5].TrainLoss, whole.History[0].TrainLoss-0.1, "the steps moved the model")

	dir := t.TempDir()
	run(2, 2, 3, dir, false)
	resumed := run(2, 2, 6, dir, true)
	for i := range accumulated.History {
		require.Equal(t, accumulated.History[i].TrainLoss, resumed.History[i].TrainLoss, "step %d", i+1)
	}

	o := tinyOptions(t, data, dir)
	o.Steps, o.Resume = 8, true // -accum 1 against a checkpoint made with -accum 2
	_, err := trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, "-batch 2 (asked: 4), -accum 2 (asked: 1)")
}

// TestBadNumbersKeepTheLastCheckpoint: a learning rate that breaks the weights stops the run at
// the first bad number. When the update of an evaluation step breaks the weights, the validation
// loss is NaN and the run stops before writing them: the checkpoint of the step before stays, and
// resumes.
func TestBadNumbersKeepTheLastCheckpoint(t *testing.T) {
	data := corpus(t)
	var out bytes.Buffer
	o := tinyOptions(t, data, t.TempDir())
	o.LR, o.Warmup, o.EvalEvery, o.Sample = 1e30, 0, 1, 0
	_, err := trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, "step 1: the validation loss is NaN; no checkpoint was written; try a lower -lr")
	_, err = os.Stat(filepath.Join(o.Out, trainer.CheckpointFile))
	require.ErrorIs(t, err, os.ErrNotExist)

	o = tinyOptions(t, data, t.TempDir())
	o.Steps, o.EvalEvery, o.Sample = 2, 1, 0
	_, err = trainer.Run(o, &out, &out)
	require.NoError(t, err)
	before, err := os.ReadFile(filepath.Join(o.Out, trainer.CheckpointFile))
	require.NoError(t, err)
	o.Steps, o.Resume, o.LR = 4, true, 1e30
	_, err = trainer.Run(o, &out, &out)
	require.ErrorContains(t, err, "step 3: the validation loss is NaN; the checkpoint in "+o.Out+" (step 2) is intact")
	after, err := os.ReadFile(filepath.Join(o.Out, trainer.CheckpointFile))
	require.NoError(t, err)
	require.Equal(t, before, after)
	o.LR = trainer.DefaultOptions().LR
	res, err := trainer.Run(o, &out, &out)
	require.NoError(t, err, "the kept checkpoint resumes")
	require.False(t, math.IsNaN(res.ValLoss))
}

// TestWarmupAdaptsToShortRuns: the default warmup is 10 steps, or a tenth of a shorter run, so that
// -steps 5 alone runs; a warmup that was asked for is kept, and checked.
func TestWarmupAdaptsToShortRuns(t *testing.T) {
	o := trainer.DefaultOptions()
	require.Equal(t, -1, o.Warmup)
	for steps, want := range map[int]int{5: 0, 50: 5, 100: 10, 5000: 10} {
		require.Equal(t, want, o.WarmupSteps(steps), "-steps %d", steps)
	}
	o.Warmup = 3
	require.Equal(t, 3, o.WarmupSteps(5))
	o.Warmup = -2
	require.ErrorContains(t, o.Validate(), "-warmup -2 must not be negative")

	o = tinyOptions(t, corpus(t), t.TempDir())
	o.Warmup, o.Schedule, o.Steps, o.EvalEvery, o.Sample = -1, "cosine", 5, 5, 0
	res, err := trainer.Run(o, io.Discard, io.Discard)
	require.NoError(t, err, "-steps 5 with the default warmup")
	require.Len(t, res.History, 5)
}

// TestResumePastTheScheduleKeepsItsFinalRate: a cosine run of 4 steps resumed to 8 takes steps 5 to
// 8 at the schedule's final rate (lr/10) and says so, where it used to stretch the schedule over 8
// and jump back up.
func TestResumePastTheScheduleKeepsItsFinalRate(t *testing.T) {
	o := tinyOptions(t, corpus(t), t.TempDir())
	o.Schedule, o.Warmup, o.Steps, o.EvalEvery, o.Sample = "cosine", 1, 4, 2, 0
	first, err := trainer.Run(o, io.Discard, io.Discard)
	require.NoError(t, err)
	final := first.History[3].LR
	require.InDelta(t, o.LR/10, final, 1e-12)
	o.Steps, o.Resume = 8, true
	var stdout strings.Builder
	res, err := trainer.Run(o, &stdout, io.Discard)
	require.NoError(t, err)
	require.Contains(t, stdout.String(), "schedule: the run began with -steps 4; steps 5 to 8 keep its final learning rate, 2.00e-04")
	for _, r := range res.History[4:] {
		require.Equal(t, final, r.LR, "step %d", r.Step)
	}
	for i := range 4 {
		require.Equal(t, first.History[i].LR, res.History[i].LR, "step %d, from the checkpoint", i+1)
	}
}
