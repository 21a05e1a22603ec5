package trainer

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"

	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/hmm"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
)

// CheckpointFile is the checkpoint's name inside Options.Out.
const CheckpointFile = "checkpoint.bin"

// Meta is the checkpoint's metadata: what a resumed run needs besides the variables.
type Meta struct {
	Step   int                `json:"step"`
	Model  string             `json:"model"`
	Config transformer.Config `json:"config"`
	RNN    rnn.Config         `json:"rnn"`
	HMM    hmm.Config         `json:"hmm"`
	Seed   uint64             `json:"seed"`
	Batch  int                `json:"batch"`
	Accum  int                `json:"accum,omitempty"` // 0 in checkpoints from before -accum: 1
	Seq    int                `json:"seq"`
	Corpus string             `json:"corpus"`
	// Shards is the folder of shards the run trains on (-data), whose tokenizer it uses; empty for text.
	Shards string `json:"shards,omitempty"`
	// Tokenizer is the BPE of -tokenizer bpe, trained when the run began; nil for bytes.
	Tokenizer *data.BPE `json:"tokenizer,omitempty"`
	// GPT2Tokenizer is GPT-2's tokenizer: of the pretrained model the run started from (-init-from), or
	// of -tokenizer gpt2.
	GPT2Tokenizer *data.GPT2Tokenizer `json:"gpt2_tokenizer,omitempty"`
	// InitFrom is the -init-from folder the weights were first loaded from.
	InitFrom string `json:"init_from,omitempty"`
	// TokenizerDir is the -tokenizer-dir GPT2Tokenizer was read from (-tokenizer gpt2).
	TokenizerDir string `json:"tokenizer_dir,omitempty"`
	// ScheduleSteps is the -steps the learning-rate schedule was laid out over when the run began
	// (0 in checkpoints from before it was kept: then the current -steps).
	ScheduleSteps int      `json:"schedule_steps,omitempty"`
	DataRNG       []byte   `json:"data_rng"`
	History       []Record `json:"history"`
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
	case m.Shards != "" && m.InitFrom == "" && m.TokenizerDir == "":
		kind := "bytes"
		if m.Tokenizer != nil {
			kind = "bpe"
		} else if m.GPT2Tokenizer != nil {
			kind = "gpt2"
		}
		return kind + ", of the shards in " + m.Shards
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

// The flags that set each field of a model's config (fields not listed come with -preset).
var (
	transformerFlags = map[string]string{"VocabSize": "-vocab", "MaxSeqLen": "-seq", "NumLayers": "-layers",
		"ModelDim": "-dim", "NumHeads": "-heads", "FFNDim": "-ffn", "Dropout": "-dropout", "ComputeDType": "-precision"}
	rnnFlags = map[string]string{"Cell": "-model", "VocabSize": "-vocab", "EmbedDim": "-dim", "HiddenDim": "-hidden",
		"NumLayers": "-layers"}
	hmmFlags = map[string]string{"States": "-hidden", "VocabSize": "-vocab"}
)

// resumeDiff lists, flag by flag, where the run that asked (the options, as metadata) differs from
// the one saved: "-dim 128 (asked: 256)". Empty when they are the same run.
func resumeDiff(saved, asked Meta) []string {
	var diff []string
	add := func(flag string, s, a any) {
		if s != a {
			diff = append(diff, fmt.Sprintf("%s %v (asked: %v)", flag, s, a))
		}
	}
	add("-model", saved.Model, asked.Model)
	if saved.Model == asked.Model { // another model differs everywhere: its name says it
		switch saved.Model {
		case "transformer":
			diff = append(diff, fieldDiff(saved.Config, asked.Config, transformerFlags)...)
		case "hmm":
			diff = append(diff, fieldDiff(saved.HMM, asked.HMM, hmmFlags)...)
		default:
			diff = append(diff, fieldDiff(saved.RNN, asked.RNN, rnnFlags)...)
		}
	}
	add("-seq", saved.Seq, asked.Seq)
	add("-seed", saved.Seed, asked.Seed)
	add("-batch", saved.Batch, asked.Batch)
	add("-accum", saved.Accum, asked.Accum)
	return diff
}

// fieldDiff compares two configs of one type field by field (those a checkpoint stores), naming
// each difference by its flag.
func fieldDiff(saved, asked any, flags map[string]string) []string {
	sv, av := reflect.ValueOf(saved), reflect.ValueOf(asked)
	var diff []string
	for i := range sv.NumField() {
		f := sv.Type().Field(i)
		if f.Tag.Get("json") == "-" { // not stored: a setting of the run (attention's kernels)
			continue
		}
		s, a := sv.Field(i).Interface(), av.Field(i).Interface()
		if reflect.DeepEqual(s, a) {
			continue
		}
		flag, ok := flags[f.Name]
		if !ok {
			flag = "-preset (" + f.Name + ")"
		}
		if f.Name == "ComputeDType" {
			s, a = precisionName(s.(dtypes.DType)), precisionName(a.(dtypes.DType))
		}
		diff = append(diff, fmt.Sprintf("%s %v (asked: %v)", flag, s, a))
	}
	return diff
}

// precisionName is the -precision value of a transformer's ComputeDType.
func precisionName(d dtypes.DType) string {
	if d == dtypes.BFloat16 {
		return "bfloat16"
	}
	return "float32"
}

// sameTokenizer reports whether the checkpoint's tokenizer is spec's.
func sameTokenizer(m Meta, spec data.TokenizerSpec) bool {
	switch spec.Kind {
	case "bytes":
		return m.Tokenizer == nil && m.GPT2Tokenizer == nil
	case "bpe":
		return m.Tokenizer != nil && spec.BPE != nil && sameText(m.Tokenizer, spec.BPE)
	case "gpt2":
		return m.GPT2Tokenizer != nil && spec.GPT2 != nil && sameText(m.GPT2Tokenizer, spec.GPT2)
	}
	return false
}

func sameText(a, b encoding.TextMarshaler) bool {
	x, errA := a.MarshalText()
	y, errB := b.MarshalText()
	return errA == nil && errB == nil && bytes.Equal(x, y)
}
