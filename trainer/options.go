package trainer

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/hmm"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// Options is everything a run is given. Each field's comment names the flag of examples/nexttoken
// that sets it, and the errors of [Options.Validate] name the flags too.
type Options struct {
	// Data is -data: comma-separated files or folders of text (empty: the .go files under GOROOT/src),
	// or one folder of token shards (data.IsShardFolder: examples/prepare's, llm.c's, nanoGPT's),
	// memory-mapped, with its own split and, when prepare wrote it, its tokenizer and vocabulary.
	Data         string
	Ext          string  // -ext: comma-separated file suffixes kept when reading folders ("" = all; default ".go" for GOROOT)
	Out          string  // -out: folder for the checkpoint, loss.csv, loss.png
	Tokenizer    string  // -tokenizer: bytes, bpe (byte-level BPE trained on the training split), or gpt2 (GPT-2's, from -tokenizer-dir)
	TokenizerDir string  // -tokenizer-dir: the folder of -tokenizer gpt2's vocab.json and merges.txt
	Vocab        int     // -vocab: the BPE vocabulary (0 = the preset's when above 256, else 4096)
	BPEPattern   string  // -bpe-pattern: the BPE's pre-tokenizer, gpt2 or cl100k
	Model        string  // -model: transformer, lstm or gru
	Preset       string  // -preset: tiny, shakespeare-char, gpt2-small (transformer)
	Hidden       int     // -hidden: recurrent state width (lstm, gru; 0 = the baseline's), or hidden states (hmm; 0 = 256)
	RNNChunk     int     // -rnn-chunk: lstm/gru trained and evaluated in chunks of this many steps (0 = unrolled)
	Steps        int     // -steps: total optimizer steps (with -resume: up to this many in total)
	Batch        int     // -batch: sequences per micro-batch (per step without -accum)
	Accum        int     // -accum: micro-batches whose mean gradient makes one optimizer step
	Seq          int     // -seq: tokens per sequence (0 = the preset's MaxSeqLen)
	Layers       int     // -layers (0 = preset)
	Dim          int     // -dim (0 = preset)
	Heads        int     // -heads (0 = preset)
	FFN          int     // -ffn (0 = preset)
	Dropout      float64 // -dropout (negative = preset)
	Precision    string  // -precision: float32, or bfloat16 (mixed precision: bf16 matmuls, float32 master weights)
	LR           float64 // -lr: peak learning rate
	Warmup       int     // -warmup: linear warmup steps; -1 (the default) = 10, or a tenth of -steps in shorter runs
	Schedule     string  // -schedule: constant or cosine (to LR/10 at the last step)
	WeightDecay  float64 // -weight-decay: AdamW's decoupled decay
	Clip         float64 // -clip: global gradient-norm clip (0 = off)
	ValFrac      float64 // -val-frac: held-out fraction at the end of the corpus
	EvalEvery    int     // -eval-every: steps between validations and checkpoints
	EvalTokens   int     // -eval-tokens: validation tokens evaluated periodically (0 = the whole split)
	Seed         uint64  // -seed: model initialisation, dropout and batch order
	Resume       bool    // -resume: continue from the checkpoint in -out
	Generate     bool    // -generate: only sample from the checkpoint in -out, or from -init-from (see Generate)
	InitFrom     string  // -init-from: a pretrained GPT-2 folder in Hugging Face's layout to start from (model, weights, tokenizer)
	Export       string  // -export: only write the checkpoint in -out to this folder in Hugging Face's GPT-2 layout (see Export)
	Sample       int     // -sample: tokens to generate at the end (0 = none)
	Prompt       string  // -prompt: the text the sample continues
	Temperature  float64 // -temperature: 0 = greedy
	TopK         int     // -top-k: 0 = off
	TopP         float64 // -top-p: 0 or 1 = off
	Quiet        bool    // -quiet: no progress bar, only log lines
	PeakTFLOPs   float64 // -peak-tflops: the device's peak, to report model FLOPs utilisation (0 = not reported)
	// Kernels chooses how the transformer's attention is computed (causal query blocks, cuDNN's
	// fused kernel), never what; the zero value takes the backend's defaults. Not a flag: nexttoken
	// reads it from BITTER_CAUSAL_BLOCK and BITTER_CUDNN_ATTENTION.
	Kernels attention.Kernels
}

// DefaultOptions are the flags' defaults: the Tiny model on GOROOT's Go source for 1,000 steps of
// 16 x 128 bytes, about 3 minutes on 2 CPU cores with the pure-Go backend (the best validation loss
// of the configurations tried in that time: examples/nexttoken/README.md), then a sample at
// temperature 0.7 from the 40 likeliest bytes (top-k), which keeps it off runs of blank lines.
func DefaultOptions() Options {
	return Options{Out: "runs/nexttoken", Tokenizer: "bytes", BPEPattern: "gpt2", Model: "transformer", Preset: "tiny", Steps: 1000, Batch: 16, Accum: 1, Seq: 0, Dropout: -1, Precision: "float32",
		LR: 2e-3, Warmup: -1, Schedule: "cosine", WeightDecay: 0.1, Clip: 1.0, ValFrac: 0.1, EvalEvery: 250,
		EvalTokens: 32768, Seed: 1, Sample: 300, Prompt: "func (b *Buffer) Len() int {", Temperature: 0.7, TopK: 40, TopP: 0.95}
}

// Validate returns an error naming every bad value, or nil.
func (o Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Model != "transformer" && o.Model != "lstm" && o.Model != "gru" && o.Model != "hmm" {
		add("-model %q is not one of transformer, lstm, gru, hmm", o.Model)
	}
	if o.Tokenizer != "bytes" && o.Tokenizer != "bpe" && o.Tokenizer != "gpt2" {
		add("-tokenizer %q is not bytes, bpe or gpt2", o.Tokenizer)
	}
	if (o.Tokenizer == "gpt2") != (o.TokenizerDir != "") {
		add("-tokenizer gpt2 and -tokenizer-dir go together: the folder of GPT-2's vocab.json and merges.txt")
	}
	_, shards := o.shardFolder()
	if o.Vocab != 0 && o.Tokenizer != "bpe" && !shards {
		add("-vocab is for -tokenizer bpe, or for a folder of shards without a tokenizer")
	}
	if err := data.Pattern(o.BPEPattern).Check(); err != nil {
		add("-bpe-pattern %q is not gpt2 or cl100k", o.BPEPattern)
	}
	if maxVocab := 1 << 16; o.Vocab != 0 && (o.Vocab <= 256 || o.Vocab > maxVocab) && !shards {
		add("-vocab %d must be in [257, %d], or 0 for the default", o.Vocab, maxVocab)
	} else if o.Vocab != 0 && (o.Vocab <= 256 || o.Vocab > math.MaxInt32) {
		add("-vocab %d must be in [257, %d] for shards, or 0 for -tokenizer's", o.Vocab, math.MaxInt32)
	}
	if o.Precision != "float32" && o.Precision != "bfloat16" {
		add("-precision %q is not float32 or bfloat16", o.Precision)
	}
	if o.Precision == "bfloat16" && o.Model != "transformer" {
		add("-precision bfloat16 is for -model transformer")
	}
	if o.Hidden < 0 {
		add("-hidden %d must not be negative", o.Hidden)
	}
	if o.RNNChunk < 0 {
		add("-rnn-chunk %d must not be negative", o.RNNChunk)
	}
	if o.RNNChunk > 0 && o.Model != "lstm" && o.Model != "gru" {
		add("-rnn-chunk is for -model lstm or gru")
	}
	if _, ok := transformer.Presets[o.Preset]; !ok {
		add("-preset %q is not one of %s", o.Preset, presetNames())
	}
	if o.Out == "" {
		add("-out must name a folder")
	}
	if o.Steps < 1 {
		add("-steps %d must be positive", o.Steps)
	}
	if o.Batch < 1 {
		add("-batch %d must be positive", o.Batch)
	}
	if o.Accum < 1 {
		add("-accum %d must be positive", o.Accum)
	}
	if o.Accum > 1 && o.RNNChunk > 0 {
		add("-accum is not available with -rnn-chunk (rnn.ChunkedTrainer takes whole batches)")
	}
	for name, v := range map[string]int{"-seq": o.Seq, "-layers": o.Layers, "-dim": o.Dim, "-heads": o.Heads, "-ffn": o.FFN, "-eval-tokens": o.EvalTokens, "-sample": o.Sample, "-top-k": o.TopK} {
		if v < 0 {
			add("%s %d must not be negative", name, v)
		}
	}
	if o.Dropout >= 1 || math.IsNaN(o.Dropout) {
		add("-dropout %g must be below 1", o.Dropout)
	}
	if !(o.LR > 0) || math.IsInf(o.LR, 0) {
		add("-lr %g must be a positive number", o.LR)
	}
	if o.Schedule != "constant" && o.Schedule != "cosine" {
		add("-schedule %q is not constant or cosine", o.Schedule)
	}
	if o.Warmup < -1 {
		add("-warmup %d must not be negative (-1: 10, or a tenth of -steps in shorter runs)", o.Warmup)
	}
	if o.Schedule == "cosine" && o.Warmup >= o.Steps {
		add("-warmup %d must be below -steps %d with the cosine schedule", o.Warmup, o.Steps)
	}
	if !(o.WeightDecay >= 0) {
		add("-weight-decay %g must not be negative", o.WeightDecay)
	}
	if !(o.Clip >= 0) {
		add("-clip %g must not be negative", o.Clip)
	}
	if !(o.ValFrac > 0 && o.ValFrac < 1) {
		add("-val-frac %g must be in (0, 1)", o.ValFrac)
	}
	if o.EvalEvery < 1 {
		add("-eval-every %d must be positive", o.EvalEvery)
	}
	if !(o.Temperature >= 0) {
		add("-temperature %g must not be negative", o.Temperature)
	}
	if !(o.TopP >= 0 && o.TopP <= 1) {
		add("-top-p %g must be in [0, 1]", o.TopP)
	}
	if !(o.PeakTFLOPs >= 0) || math.IsInf(o.PeakTFLOPs, 0) {
		add("-peak-tflops %g must be a positive number, or 0 for none", o.PeakTFLOPs)
	}
	if o.InitFrom != "" {
		if o.Model != "transformer" {
			add("-init-from is for -model transformer")
		}
		if o.Tokenizer != "bytes" || o.Vocab != 0 {
			add("-init-from brings its tokenizer: leave -tokenizer and -vocab unset")
		}
		if o.Layers != 0 || o.Dim != 0 || o.Heads != 0 || o.FFN != 0 {
			add("-init-from sets the model's size: leave -layers, -dim, -heads and -ffn unset")
		}
		if o.Export != "" {
			add("-export writes the checkpoint in -out; -init-from starts a run: pick one")
		}
	}
	if o.Export != "" && (o.Generate || o.Resume) {
		add("-export only writes the checkpoint in -out; leave -generate and -resume unset")
	}
	if o.Sample > 0 && o.Prompt == "" {
		add("-prompt must not be empty when -sample > 0")
	}
	if err := o.Kernels.Validate(); err != nil {
		add("attention kernels: %v", err)
	}
	return errors.Join(errs...)
}

func presetNames() string {
	return "tiny, shakespeare-char, gpt2-small"
}

// ModelConfig returns the preset with the size flags applied; the training sequence length
// raises MaxSeqLen when it is longer.
func (o Options) ModelConfig() (transformer.Config, error) {
	if o.InitFrom != "" {
		return o.pretrainedConfig()
	}
	preset, ok := transformer.Presets[o.Preset]
	if !ok {
		return transformer.Config{}, fmt.Errorf("-preset %q is not one of %s", o.Preset, presetNames())
	}
	cfg := preset()
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	set(&cfg.NumLayers, o.Layers)
	set(&cfg.ModelDim, o.Dim)
	set(&cfg.NumHeads, o.Heads)
	set(&cfg.FFNDim, o.FFN)
	if err := o.setVocab(&cfg.VocabSize); err != nil {
		return cfg, err
	}
	if o.Seq > cfg.MaxSeqLen {
		cfg.MaxSeqLen = o.Seq
	}
	if o.Dropout >= 0 {
		cfg.Dropout = o.Dropout
	}
	if o.Precision == "bfloat16" {
		cfg.ComputeDType = dtypes.BFloat16
	}
	cfg.Kernels = o.Kernels
	if err := cfg.Validate(); err != nil {
		return cfg, modelError(err, "transformer.Config: ")
	}
	return cfg, nil
}

// pretrainedConfig is the config.json of -init-from with -dropout (0 when unset) and -precision;
// -seq cannot exceed its positions.
func (o Options) pretrainedConfig() (transformer.Config, error) {
	path := filepath.Join(o.InitFrom, pretrained.ConfigFile)
	content, err := os.ReadFile(path)
	if err != nil {
		return transformer.Config{}, fmt.Errorf("-init-from: %w", err)
	}
	cfg, err := pretrained.ReadGPT2Config(content)
	if err != nil {
		return cfg, fmt.Errorf("-init-from: %s: %w", path, err)
	}
	if o.Seq > cfg.MaxSeqLen {
		return cfg, fmt.Errorf("-seq %d exceeds the %d positions of the pretrained model in %s", o.Seq, cfg.MaxSeqLen, o.InitFrom)
	}
	cfg.Dropout = max(o.Dropout, 0)
	if o.Precision == "bfloat16" {
		cfg.ComputeDType = dtypes.BFloat16
	}
	cfg.Kernels = o.Kernels
	return cfg, nil
}

// setVocab sets the model's vocabulary for the tokenizer: a prepared shard folder's, -vocab for
// shards without a tokenizer, -tokenizer bpe's size, or -tokenizer gpt2's (read from its files; a preset with more ids, as gpt2-small's
// 50,257, keeps its own).
func (o Options) setVocab(vocab *int) error {
	if dir, ok := o.shardFolder(); ok {
		v, own, err := data.ManifestVocab(dir)
		if err != nil {
			return fmt.Errorf("-data: %w", err)
		}
		if own { // the folder's tokenizer, whatever the preset's vocabulary
			*vocab = v
			return nil
		}
		if o.Vocab > 0 { // shards of a tokenizer bitter does not have (uint32 ids: cl100k, Llama 3's)
			*vocab = o.Vocab
			return nil
		}
	}
	switch o.Tokenizer {
	case "bpe":
		*vocab = o.BPEVocab()
	case "gpt2":
		tok, err := data.LoadGPT2Tokenizer(o.TokenizerDir)
		if err != nil {
			return fmt.Errorf("-tokenizer-dir: %w", err)
		}
		*vocab = max(*vocab, tok.VocabSize())
	}
	return nil
}

// WarmupSteps is the learning rate's linear warmup for a schedule laid out over steps: -warmup, or
// when it is -1, 10 steps, or a tenth of steps in runs shorter than 100 (so -steps 5 warms up for 0).
func (o Options) WarmupSteps(steps int) int {
	if o.Warmup >= 0 {
		return o.Warmup
	}
	return min(10, steps/10)
}

// BPEVocab is the vocabulary size of -tokenizer bpe: -vocab, else the transformer preset's
// vocabulary when it is above 256 (50,257 for gpt2-small), else 4096. The model is built for this
// many ids; a BPE that runs out of pairs to merge has fewer, and the rest go unused.
func (o Options) BPEVocab() int {
	if o.Vocab > 0 {
		return o.Vocab
	}
	if preset, ok := transformer.Presets[o.Preset]; ok && o.Model == "transformer" {
		if v := preset().VocabSize; v > 256 {
			return v
		}
	}
	return 4096
}

// SeqLen is the training sequence length: -seq, or the transformer preset's context.
func (o Options) SeqLen() int {
	if o.Seq > 0 {
		return o.Seq
	}
	cfg, _ := o.ModelConfig()
	return cfg.MaxSeqLen
}

// RNNConfig returns the lstm or gru baseline with the size flags applied.
func (o Options) RNNConfig() (rnn.Config, error) {
	cfg := rnn.Baseline(rnn.Cell(o.Model))
	if o.Layers > 0 {
		cfg.NumLayers = o.Layers
	}
	if o.Dim > 0 {
		cfg.EmbedDim = o.Dim
	}
	if o.Hidden > 0 {
		cfg.HiddenDim = o.Hidden
	}
	if err := o.setVocab(&cfg.VocabSize); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, modelError(err, "rnn.Config: ")
	}
	return cfg, nil
}

// modelError is a model config's Validate error as one line after "model: ", without the config's
// own prefix (its bad values joined by "; ").
func modelError(err error, prefix string) error {
	return fmt.Errorf("model: %s", strings.ReplaceAll(strings.TrimPrefix(err.Error(), prefix), "\n", "; "))
}

// HMMStates is -model hmm's number of hidden states when -hidden is 0.
const HMMStates = 256

// HMMConfig returns the hidden Markov model of -hidden states (HMMStates when 0).
func (o Options) HMMConfig() (hmm.Config, error) {
	cfg := hmm.Config{States: HMMStates, VocabSize: 256}
	if o.Hidden > 0 {
		cfg.States = o.Hidden
	}
	if err := o.setVocab(&cfg.VocabSize); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, modelError(err, "hmm.Config: ")
	}
	return cfg, nil
}

// BuildModel returns the model the options describe.
func (o Options) BuildModel() (lm.Model, error) {
	switch o.Model {
	case "lstm", "gru":
		return o.RNNConfig()
	case "hmm":
		return o.HMMConfig()
	}
	return o.ModelConfig()
}
