package main

import (
	"flag"

	"github.com/bitterlesson/bitter/trainer"
)

// registerFlags defines the flags on fs with o's values as defaults, writing into o.
func registerFlags(fs *flag.FlagSet, o *trainer.Options) {
	fs.StringVar(&o.Data, "data", o.Data, "comma-separated corpus files or folders (default: the .go files under $(go env GOROOT)/src), "+
		"or one folder of token shards (examples/prepare's, with its tokenizer; llm.c's or nanoGPT's .bin files), read through a memory map with its own split")
	fs.StringVar(&o.Ext, "ext", o.Ext, `comma-separated file suffixes to read from folders ("" = every file; ".go" for the default corpus)`)
	fs.StringVar(&o.Out, "out", o.Out, "output folder: checkpoint.bin, loss.csv, loss.png")
	fs.StringVar(&o.Tokenizer, "tokenizer", o.Tokenizer, "bytes (one token per byte); bpe: a byte-level BPE with GPT-2's split, trained on the training split; "+
		"or gpt2: GPT-2's own, read from -tokenizer-dir (kept in the checkpoint)")
	fs.StringVar(&o.TokenizerDir, "tokenizer-dir", o.TokenizerDir, "-tokenizer gpt2: the folder holding vocab.json and merges.txt (or GPT-2's encoder.json and vocab.bpe)")
	fs.IntVar(&o.Vocab, "vocab", o.Vocab, "the BPE vocabulary size, 257 to 65536 (0 = the preset's when above 256, as gpt2-small's 50257; else 4096); "+
		"with a folder of shards that has no tokenizer (llm.c's uint32 shards of cl100k, say), the model's vocabulary")
	fs.StringVar(&o.BPEPattern, "bpe-pattern", o.BPEPattern, "the BPE's pre-tokenizer: gpt2 (GPT-2's split) or cl100k (GPT-4's, kinder to code)")
	fs.StringVar(&o.Model, "model", o.Model, "model: transformer, lstm, gru, or hmm (a hidden Markov model of -hidden states)")
	fs.StringVar(&o.Preset, "preset", o.Preset, "transformer preset: tiny, shakespeare-char, gpt2-small")
	fs.IntVar(&o.Hidden, "hidden", o.Hidden, "lstm/gru state width (0 = the baseline's: 240 for lstm, 272 for gru); hmm: hidden states (0 = 256)")
	fs.IntVar(&o.RNNChunk, "rnn-chunk", o.RNNChunk, "lstm/gru: train (exact backpropagation through time) and evaluate in chunks of this many steps, "+
		"so each compiled graph holds that many steps rather than -seq: for long sequences on XLA (0 = one unrolled graph)")
	fs.IntVar(&o.Steps, "steps", o.Steps, "optimizer steps in total; with -resume past the first run's -steps, the extra steps keep the schedule's final learning rate")
	fs.IntVar(&o.Batch, "batch", o.Batch, "sequences per micro-batch: per step, times -accum")
	fs.IntVar(&o.Accum, "accum", o.Accum, "gradient accumulation: micro-batches of -batch sequences per optimizer step (their mean gradient)")
	fs.IntVar(&o.Seq, "seq", o.Seq, "tokens per sequence (0 = the preset's context length)")
	fs.IntVar(&o.Layers, "layers", o.Layers, "Transformer blocks or recurrent layers (0 = preset/baseline)")
	fs.IntVar(&o.Dim, "dim", o.Dim, "model width; the embedding width for lstm/gru (0 = preset/baseline)")
	fs.IntVar(&o.Heads, "heads", o.Heads, "attention heads (0 = preset)")
	fs.IntVar(&o.FFN, "ffn", o.FFN, "MLP hidden width (0 = preset)")
	fs.Float64Var(&o.Dropout, "dropout", o.Dropout, "dropout rate (negative = preset)")
	fs.StringVar(&o.Precision, "precision", o.Precision, "float32, or bfloat16: mixed precision (bf16 matmuls; float32 weights, optimizer, norms, softmax, loss)")
	fs.Float64Var(&o.LR, "lr", o.LR, "peak learning rate")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "linear warmup steps (-1: 10, or a tenth of -steps in shorter runs)")
	fs.StringVar(&o.Schedule, "schedule", o.Schedule, "learning-rate schedule after warmup: constant or cosine (to lr/10 at the run's first -steps)")
	fs.Float64Var(&o.WeightDecay, "weight-decay", o.WeightDecay, "AdamW decoupled weight decay (not on norms, biases, embeddings)")
	fs.Float64Var(&o.Clip, "clip", o.Clip, "clip gradients to this global norm (0 = off)")
	fs.Float64Var(&o.ValFrac, "val-frac", o.ValFrac, "fraction of a text corpus, at its end, held out for validation (shards bring their split)")
	fs.IntVar(&o.EvalEvery, "eval-every", o.EvalEvery, "steps between validations and checkpoints")
	fs.IntVar(&o.EvalTokens, "eval-tokens", o.EvalTokens, "validation tokens per evaluation, from the start of the split (0 = all)")
	fs.Uint64Var(&o.Seed, "seed", o.Seed, "seed of initialisation, dropout and batches")
	fs.BoolVar(&o.Resume, "resume", o.Resume, "continue from the checkpoint in -out up to -steps in total "+
		"(the learning-rate schedule stays the one the run began with: steps past its end keep its final rate)")
	fs.BoolVar(&o.Generate, "generate", o.Generate, "do not train: sample from the checkpoint in -out (its model and tokenizer) with -prompt, -sample, -temperature, -top-k, -top-p, -seed")
	fs.StringVar(&o.InitFrom, "init-from", o.InitFrom, "fine-tune a pretrained GPT-2: a folder in Hugging Face's layout (config.json, model.safetensors, vocab.json, merges.txt), "+
		"whose model, weights and tokenizer replace -preset, the size flags and -tokenizer; with -generate, sample from it")
	fs.StringVar(&o.Export, "export", o.Export, "do not train: write the transformer checkpoint in -out to this folder in Hugging Face's GPT-2 layout "+
		"(config.json, model.safetensors, and vocab.json, merges.txt for a GPT-2 tokenizer), which transformers and -init-from read")
	fs.IntVar(&o.Sample, "sample", o.Sample, "tokens to generate after training (0 = none)")
	fs.StringVar(&o.Prompt, "prompt", o.Prompt, "text the sample continues")
	fs.Float64Var(&o.Temperature, "temperature", o.Temperature, "sampling temperature (0 = greedy)")
	fs.IntVar(&o.TopK, "top-k", o.TopK, "sample from the k most likely tokens (0 = off)")
	fs.Float64Var(&o.TopP, "top-p", o.TopP, "nucleus sampling threshold (0 or 1 = off)")
	fs.BoolVar(&o.Quiet, "quiet", o.Quiet, "log lines instead of a progress bar")
	fs.Float64Var(&o.PeakTFLOPs, "peak-tflops", o.PeakTFLOPs, "the device's peak TFLOP/s for the run's precision (about 790 for bf16 on an H100 or H200), "+
		"to report MFU: model FLOPs per token (6N + 12·L·H·Q·T) × tokens/s over the peak (0 = not reported)")
}
