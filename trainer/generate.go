package trainer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/checkpoint"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// sample continues o.Prompt by o.Sample tokens of the model in ctx, with o's sampling settings and
// seed, writing the text to w as it comes (then a line break), and returns the prompt and the
// continuation as text.
func sample(b backends.Backend, ctx *context.Context, model lm.Model, tok data.Tokenizer, o Options, w io.Writer) (string, error) {
	prompt := tok.Encode([]byte(o.Prompt))
	ids := make([]int32, len(prompt))
	for i, t := range prompt {
		ids[i] = int32(t)
	}
	sampling := lm.Sampling{Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP, Seed: o.Seed}
	gen, err := model.NewGenerator(b, ctx)
	if err != nil {
		return "", err
	}
	text := []byte(o.Prompt)
	fmt.Fprint(w, o.Prompt)
	err = gen.Stream(ids, o.Sample, sampling, func(t int32) error {
		piece := tok.Decode([]data.Token{data.Token(t)}) // Decode joins the pieces of its ids
		text = append(text, piece...)
		_, err := w.Write(piece)
		return err
	})
	fmt.Fprintln(w)
	if err != nil {
		return "", err
	}
	return string(text), nil
}

// Generate samples from the checkpoint in o.Out without training (-generate): the model, its
// tokenizer and its weights come from the checkpoint, so of the flags only -out, -prompt, -sample,
// -temperature, -top-k, -top-p and -seed count. With -init-from they come from the pretrained
// model instead (and -out is not read). It prints the sample and returns it.
func Generate(o Options, stdout io.Writer) (text string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := o.Validate(); err != nil {
		return "", err
	}
	if o.Resume {
		return "", errors.New("-generate samples from the checkpoint without training; -resume trains: pick one")
	}
	if o.Sample < 1 {
		return "", fmt.Errorf("-generate needs -sample above 0, got %d", o.Sample)
	}
	ckptPath := filepath.Join(o.Out, CheckpointFile)
	ctx := context.New()
	var meta Meta
	if o.InitFrom != "" {
		g, err := pretrained.LoadGPT2(o.InitFrom)
		if err != nil {
			return "", fmt.Errorf("-init-from: %w", err)
		}
		if err := g.Init(ctx); err != nil {
			return "", fmt.Errorf("-init-from: %w", err)
		}
		meta = Meta{Model: "transformer", Config: g.Config, GPT2Tokenizer: g.Tokenizer, InitFrom: o.InitFrom}
		if o.Precision == "bfloat16" {
			meta.Config.ComputeDType = dtypes.BFloat16
		}
	} else if err := checkpoint.Load(ckptPath, ctx, &meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("-generate: no checkpoint at %s; train one first (without -generate)", ckptPath)
		}
		return "", err
	}
	b, err := backend.New()
	if err != nil {
		return "", err
	}
	defer b.Finalize()
	meta.Config.Kernels = o.Kernels
	var model lm.Model = meta.Config
	switch meta.Model {
	case "lstm", "gru":
		model = meta.RNN.ForBackend(b.String())
	case "hmm":
		model = meta.HMM
	}
	tok := meta.tokenizer()
	if _, bytes := tok.(data.Bytes); bytes && meta.Shards != "" && model.Vocab() > 256 {
		return "", fmt.Errorf("-generate: the checkpoint's model reads %d ids, and it keeps no tokenizer to write them as text (it was trained on the shards in %s)", model.Vocab(), meta.Shards)
	}
	fmt.Fprintf(stdout, "backend: %s (%s)\n", backend.Config(), b.Description())
	if o.InitFrom != "" {
		fmt.Fprintf(stdout, "pretrained: %s: GPT-2 of %d parameters (tokenizer %s)\n", o.InitFrom, model.NumParams(), tokenizerName(meta))
	} else {
		fmt.Fprintf(stdout, "checkpoint: %s: %s of %d parameters at step %d, trained on %s (tokenizer %s)\n",
			ckptPath, meta.Model, model.NumParams(), meta.Step, meta.Corpus, tokenizerName(meta))
	}
	fmt.Fprintf(stdout, "sample (temperature %g, top-k %d, top-p %g, seed %d):\n", o.Temperature, o.TopK, o.TopP, o.Seed)
	return sample(b, ctx.Reuse(), model, tok, o, stdout)
}

// Export writes the transformer checkpoint in o.Out to o.Export in Hugging Face's GPT-2 layout
// (-export): config.json, model.safetensors and, for a run that started from a pretrained GPT-2,
// its vocab.json and merges.txt. A model GPT-2's layout cannot hold (RoPE, RMSNorm, SwiGLU, ...) is
// an error; so is an LSTM or GRU.
func Export(o Options, stdout io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := o.Validate(); err != nil {
		return err
	}
	ckptPath := filepath.Join(o.Out, CheckpointFile)
	ctx := context.New()
	var meta Meta
	if err := checkpoint.Load(ckptPath, ctx, &meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("-export: no checkpoint at %s; train one first (without -export)", ckptPath)
		}
		return err
	}
	if meta.Model != "transformer" {
		return fmt.Errorf("-export: the checkpoint in %s holds an %s; GPT-2's layout holds transformers", o.Out, meta.Model)
	}
	if err := pretrained.SaveGPT2(o.Export, meta.Config, ctx, meta.GPT2Tokenizer); err != nil {
		return fmt.Errorf("-export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: GPT-2 layout of the step-%d checkpoint in %s (%d parameters)\n", o.Export, meta.Step, o.Out, meta.Config.NumParams())
	switch {
	case meta.GPT2Tokenizer != nil:
		from := meta.InitFrom + meta.TokenizerDir // one of them, or the shards' folder
		if from == "" {
			from = "the shards in " + meta.Shards
		}
		fmt.Fprintf(stdout, "tokenizer: vocab.json and merges.txt of %s\n", from)
	case meta.Tokenizer != nil:
		fmt.Fprintln(stdout, "tokenizer: not written: bitter's BPE (its text form is in the checkpoint) is not in GPT-2's file format")
	default:
		fmt.Fprintln(stdout, "tokenizer: bytes (token id = byte value, 256 ids); no vocabulary file is needed")
	}
	return nil
}
