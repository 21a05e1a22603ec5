package trainer

import (
	"fmt"

	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// CheckpointFile is the checkpoint's name inside Options.Out.
const CheckpointFile = "checkpoint.bin"

// Meta is the checkpoint's metadata: what a resumed run needs besides the variables.
type Meta struct {
	Step   int                `json:"step"`
	Model  string             `json:"model"`
	Config transformer.Config `json:"config"`
	RNN    rnn.Config         `json:"rnn"`
	Seed   uint64             `json:"seed"`
	Batch  int                `json:"batch"`
	Accum  int                `json:"accum,omitempty"` // 0 in checkpoints from before -accum: 1
	Seq    int                `json:"seq"`
	Corpus string             `json:"corpus"`
	// Tokenizer is the BPE of -tokenizer bpe, trained when the run began; nil for bytes.
	Tokenizer *data.BPE `json:"tokenizer,omitempty"`
	// GPT2Tokenizer is GPT-2's tokenizer: of the pretrained model the run started from (-init-from), or
	// of -tokenizer gpt2.
	GPT2Tokenizer *data.GPT2Tokenizer `json:"gpt2_tokenizer,omitempty"`
	// InitFrom is the -init-from folder the weights were first loaded from.
	InitFrom string `json:"init_from,omitempty"`
	// TokenizerDir is the -tokenizer-dir GPT2Tokenizer was read from (-tokenizer gpt2).
	TokenizerDir string   `json:"tokenizer_dir,omitempty"`
	DataRNG      []byte   `json:"data_rng"`
	History      []Record `json:"history"`
}

// tokenizer is the run's tokenizer: GPT-2's of -init-from, the BPE of -tokenizer bpe, or bytes.
func (m Meta) tokenizer() data.Tokenizer {
	switch {
	case m.GPT2Tokenizer != nil:
		return m.GPT2Tokenizer
	case m.Tokenizer != nil:
		return m.Tokenizer
	}
	return data.Bytes{}
}

// tokenizerName names the run's tokenizer as the flags that make it.
func tokenizerName(m Meta) string {
	switch {
	case m.TokenizerDir != "":
		return "-tokenizer gpt2 -tokenizer-dir " + m.TokenizerDir
	case m.GPT2Tokenizer != nil:
		return "of -init-from " + m.InitFrom
	case m.Tokenizer != nil:
		return "-tokenizer bpe -bpe-pattern " + string(m.Tokenizer.Pattern())
	}
	return "-tokenizer bytes"
}

// intact says what is left on disk when a run stops on a bad number: the last checkpoint, untouched.
func intact(o Options, meta Meta) string {
	if meta.Step == 0 {
		return "no checkpoint was written"
	}
	return fmt.Sprintf("the checkpoint in %s (step %d) is intact", o.Out, meta.Step)
}
