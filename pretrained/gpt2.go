// Package pretrained loads GPT-2 checkpoints in Hugging Face's layout (the files of
// openai-community/gpt2 and its medium, large and xl siblings, or a fine-tune saved by
// transformers) into bitter's transformer, and writes bitter's GPT-2-shaped models back out in that
// layout, so weights go both ways between bitter and PyTorch.
//
// A model folder holds config.json (GPT2Config's fields), model.safetensors (the weights; or their
// shards and model.safetensors.index.json, as save_pretrained splits large checkpoints) and the
// tokenizer files vocab.json and merges.txt (or tokenizer.json alone). bitter reads nothing else: a folder with only
// pytorch_model.bin (a pickle, which can run code) is refused with a message saying how to convert it.
//
// The name mapping (hub names with or without GPT2LMHeadModel's "transformer." prefix):
//
//	wte.weight                  token_embeddings/embeddings
//	wpe.weight                  position_embeddings/embeddings
//	h.N.ln_1.{weight,bias}      layer_N/attention_norm/{gain,bias}
//	h.N.attn.c_attn.{weight,bias}  split in three along the output: layer_N/attention/{query,key,value}/{weights,biases}
//	h.N.attn.c_proj.{weight,bias}  layer_N/attention/output/{weights,biases}
//	h.N.ln_2.{weight,bias}      layer_N/mlp_norm/{gain,bias}
//	h.N.mlp.c_fc.{weight,bias}  layer_N/mlp/up/{weights,biases}
//	h.N.mlp.c_proj.{weight,bias}  layer_N/mlp/down/{weights,biases}
//	ln_f.{weight,bias}          final_norm/{gain,bias}
//	lm_head.weight              the tied head (ignored), or head/weights transposed when untied
//
// GPT-2's Conv1D weights are stored [in, out], as bitter's are, so nothing is transposed but an
// untied head. The attention mask buffers (h.N.attn.bias, h.N.attn.masked_bias) are skipped.
package pretrained

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/positional"
	"github.com/bitterlesson/bitter/safetensors"
	"github.com/bitterlesson/bitter/transformer"
)

// File names in a model folder.
const (
	ConfigFile  = "config.json"
	WeightsFile = "model.safetensors"
	// IndexFile, instead of WeightsFile, lists the shards of weights saved in several files
	// (transformers' save_pretrained shards checkpoints above its max_shard_size).
	IndexFile = "model.safetensors.index.json"
)

// GPT2 is a pretrained GPT-2: its configuration as a transformer.Config, its tokenizer and its
// weights under bitter's variable paths.
type GPT2 struct {
	Config    transformer.Config
	Tokenizer *data.GPT2Tokenizer
	// Params holds every trainable variable of Config's model, float32, by scope path
	// ("layer_0/attention/query/weights").
	Params map[string]*tensors.Tensor
}

// hfConfig is the part of Hugging Face's GPT2Config that shapes the model, with its defaults
// (GPT-2 small's) for fields left out.
type hfConfig struct {
	ModelType                  string   `json:"model_type"`
	VocabSize                  int      `json:"vocab_size"`
	NPositions                 int      `json:"n_positions"`
	NEmbd                      int      `json:"n_embd"`
	NLayer                     int      `json:"n_layer"`
	NHead                      int      `json:"n_head"`
	NInner                     *int     `json:"n_inner"`
	Activation                 string   `json:"activation_function"`
	LayerNormEpsilon           float64  `json:"layer_norm_epsilon"`
	ScaleAttnWeights           bool     `json:"scale_attn_weights"`
	ScaleAttnByInverseLayerIdx bool     `json:"scale_attn_by_inverse_layer_idx"`
	AddCrossAttention          bool     `json:"add_cross_attention"`
	TieWordEmbeddings          bool     `json:"tie_word_embeddings"`
	Architectures              []string `json:"architectures"`
}

// activations maps GPT2Config's activation_function to bitter's.
var activations = map[string]transformer.Activation{
	"gelu_new": transformer.GELUTanh, "gelu_pytorch_tanh": transformer.GELUTanh, "gelu_fast": transformer.GELUTanh,
	"gelu": transformer.GELU, "relu": transformer.ReLU,
}

// ReadGPT2Config reads a config.json of GPT2Config's fields into a transformer.Config: GPT-2's
// block (pre-norm LayerNorm with biases, learned positions, tied embeddings unless
// tie_word_embeddings is false), float32, no dropout (set Config.Dropout to fine-tune with it).
// Settings bitter's model does not compute (scaled attention turned off or scaled by layer, cross
// attention, an activation other than gelu_new, gelu or relu) are an error, not a silent change.
func ReadGPT2Config(content []byte) (transformer.Config, error) {
	h := hfConfig{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, Activation: "gelu_new",
		LayerNormEpsilon: 1e-5, ScaleAttnWeights: true, TieWordEmbeddings: true}
	if err := json.Unmarshal(content, &h); err != nil {
		return transformer.Config{}, fmt.Errorf("gpt2 config: %w", err)
	}
	var errs []error
	if h.ModelType != "" && h.ModelType != "gpt2" {
		errs = append(errs, fmt.Errorf("model_type is %q, not gpt2", h.ModelType))
	}
	act, ok := activations[h.Activation]
	if !ok {
		errs = append(errs, fmt.Errorf("activation_function %q is not gelu_new, gelu_pytorch_tanh, gelu_fast, gelu or relu", h.Activation))
	}
	if !h.ScaleAttnWeights {
		errs = append(errs, errors.New("scale_attn_weights false (scores not divided by √head_dim) is not supported"))
	}
	if h.ScaleAttnByInverseLayerIdx {
		errs = append(errs, errors.New("scale_attn_by_inverse_layer_idx is not supported"))
	}
	if h.AddCrossAttention {
		errs = append(errs, errors.New("add_cross_attention (an encoder-decoder) is not supported"))
	}
	ffn := 4 * h.NEmbd
	if h.NInner != nil {
		ffn = *h.NInner
	}
	cfg := transformer.Config{VocabSize: h.VocabSize, MaxSeqLen: h.NPositions, NumLayers: h.NLayer, ModelDim: h.NEmbd,
		NumHeads: h.NHead, FFNDim: ffn, Activation: act, Norm: transformer.LayerNorm, Positional: transformer.Learned,
		TieEmbeddings: h.TieWordEmbeddings, UseBias: true, NormEpsilon: h.LayerNormEpsilon, DType: dtypes.Float32}
	if ok {
		if err := cfg.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return transformer.Config{}, fmt.Errorf("gpt2 config: %w", err)
	}
	return cfg, nil
}

// LoadGPT2 reads the model in dir: config.json, model.safetensors (or the shards that
// model.safetensors.index.json lists), and the tokenizer (vocab.json or encoder.json, merges.txt or
// vocab.bpe, else tokenizer.json). Its vocabulary must fit the model's.
func LoadGPT2(dir string) (*GPT2, error) {
	content, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("gpt2: %w", err)
	}
	cfg, err := ReadGPT2Config(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ConfigFile), err)
	}
	weights := filepath.Join(dir, WeightsFile)
	open := safetensors.Open // one tensor in memory at a time, besides the weights
	if _, err := os.Stat(weights); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, IndexFile)); err == nil {
			weights, open = filepath.Join(dir, IndexFile), safetensors.OpenIndex
		} else if _, binErr := os.Stat(filepath.Join(dir, "pytorch_model.bin")); binErr == nil {
			return nil, fmt.Errorf("gpt2: %s has pytorch_model.bin but no %s; bitter does not read pickles (they can run code): "+
				"convert it with safetensors.torch.save_file(torch.load(path), %q) in Python", dir, WeightsFile, WeightsFile)
		}
	}
	f, err := open(weights)
	if err != nil {
		return nil, fmt.Errorf("gpt2: %w", err)
	}
	defer func() { _ = f.Close() }()
	params, err := GPT2Params(cfg, f)
	if err != nil {
		return nil, fmt.Errorf("gpt2: %s: %w", weights, err)
	}
	tok, err := data.LoadGPT2Tokenizer(dir)
	if err != nil {
		return nil, fmt.Errorf("gpt2: %w", err)
	}
	if tok.VocabSize() > cfg.VocabSize {
		return nil, fmt.Errorf("gpt2: the tokenizer in %s has %d ids, the model's vocab_size is %d", dir, tok.VocabSize(), cfg.VocabSize)
	}
	return &GPT2{Config: cfg, Tokenizer: tok, Params: params}, nil
}

var skipped = regexp.MustCompile(`^h\.\d+\.attn\.(bias|masked_bias)$`)

// GPT2Params maps the tensors of a GPT-2 safetensors file to cfg's variables, float32 (F16, BF16
// and F64 files are converted), checking that every weight is there with its shape and that
// nothing else is. Tensors are read one at a time (see [safetensors.Open]) and decoded straight
// into the variables' tensors.
func GPT2Params(cfg transformer.Config, f *safetensors.File) (map[string]*tensors.Tensor, error) {
	prefix := ""
	if _, ok := f.Tensors["transformer.wte.weight"]; ok {
		prefix = "transformer."
	}
	used := map[string]bool{}
	params := map[string]*tensors.Tensor{}
	D, V := cfg.ModelDim, cfg.VocabSize
	// check names a tensor of the file and checks it has the given shape: before anything is
	// allocated for it, so a config of absurd sizes fails here.
	check := func(name string, shape []int) (string, error) {
		full := prefix + name
		if name == "lm_head.weight" {
			full = name
		}
		t, ok := f.Tensors[full]
		if !ok {
			return "", fmt.Errorf("no tensor %q", full)
		}
		used[name] = true
		if !slices.Equal(t.Shape, shape) {
			return "", fmt.Errorf("tensor %q has shape %v, the config makes it %v", full, t.Shape, shape)
		}
		return full, nil
	}
	// load reads a checked tensor into out.
	load := func(full string, out []float32) error {
		t, err := f.Load(full)
		if err == nil {
			err = t.Float32sInto(out)
		}
		if err != nil {
			return fmt.Errorf("tensor %q: %w", full, err)
		}
		// A weight that is not a number would surface only later, as a training loss of NaN (or
		// samples drawn from garbage): the file is damaged, and this is where to say so.
		for i, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("tensor %q holds %v at element %d: the weights are damaged", full, v, i)
			}
		}
		return nil
	}
	read := func(name string, shape ...int) ([]float32, error) {
		full, err := check(name, shape)
		if err != nil {
			return nil, err
		}
		out := make([]float32, prod(shape))
		return out, load(full, out)
	}
	var errs []error
	put := func(path, name string, shape ...int) {
		full, err := check(name, shape)
		if err != nil {
			errs = append(errs, err)
			return
		}
		t := tensors.FromShape(shapes.Make(dtypes.Float32, shape...))
		t.MustMutableFlatData(func(flat any) { err = load(full, flat.([]float32)) })
		if err != nil {
			errs = append(errs, err)
			return
		}
		params[path] = t
	}
	put(transformer.TokenEmbeddingScope+"/"+transformer.EmbeddingsVar, "wte.weight", V, D)
	put(transformer.PositionEmbeddingScope+"/"+positional.LearnedVariable, "wpe.weight", cfg.MaxSeqLen, D)
	norm := func(path, name string) {
		put(path+"/"+transformer.GainVar, name+".weight", D)
		put(path+"/"+transformer.BiasVar, name+".bias", D)
	}
	linear := func(path, name string, in, out int) {
		put(path+"/"+transformer.WeightsVar, name+".weight", in, out)
		put(path+"/"+transformer.BiasesVar, name+".bias", out)
	}
	for i := range cfg.NumLayers {
		l, h := transformer.LayerScope(i), fmt.Sprintf("h.%d.", i)
		norm(l+"/"+transformer.AttentionNormScope, h+"ln_1")
		att := l + "/" + transformer.AttentionScope + "/"
		w, errW := read(h+"attn.c_attn.weight", D, 3*D)
		b, errB := read(h+"attn.c_attn.bias", 3*D)
		if err := errors.Join(errW, errB); err != nil {
			errs = append(errs, err)
		} else {
			for k, scope := range []string{attention.QueryScope, attention.KeyScope, attention.ValueScope} {
				part := make([]float32, 0, D*D)
				for r := range D {
					part = append(part, w[r*3*D+k*D:r*3*D+(k+1)*D]...)
				}
				params[att+scope+"/"+transformer.WeightsVar] = tensors.FromFlatDataAndDimensions(part, D, D)
				params[att+scope+"/"+transformer.BiasesVar] = tensors.FromFlatDataAndDimensions(slices.Clone(b[k*D:(k+1)*D]), D)
			}
		}
		linear(att+attention.OutputScope, h+"attn.c_proj", D, D)
		norm(l+"/"+transformer.MLPNormScope, h+"ln_2")
		linear(l+"/"+transformer.MLPScope+"/up", h+"mlp.c_fc", D, cfg.FFNDim)
		linear(l+"/"+transformer.MLPScope+"/down", h+"mlp.c_proj", cfg.FFNDim, D)
	}
	norm(transformer.FinalNormScope, "ln_f")
	if !cfg.TieEmbeddings {
		if w, err := read("lm_head.weight", V, D); err != nil {
			errs = append(errs, err)
		} else {
			t := make([]float32, D*V) // [V, D] (torch.nn.Linear) to bitter's [D, V]
			for v := range V {
				for d := range D {
					t[d*V+v] = w[v*D+d]
				}
			}
			params[transformer.HeadScope+"/"+transformer.WeightsVar] = tensors.FromFlatDataAndDimensions(t, D, V)
		}
	}
	for _, name := range f.Names {
		n := strings.TrimPrefix(name, prefix)
		if !used[n] && !skipped.MatchString(n) && !(n == "lm_head.weight" && cfg.TieEmbeddings) {
			errs = append(errs, fmt.Errorf("tensor %q is not a weight of GPT-2 with this config", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return params, nil
}

// Init sets every variable of the model in ctx to the pretrained weights, creating the ones that
// don't exist yet. It changes nothing unless every existing variable has the pretrained shape.
// Build graphs on ctx.Reuse() afterwards (a train.Trainer or context.Exec; transformer.NewGenerator
// does it itself), so the model finds the weights rather than creating new ones.
func (g *GPT2) Init(ctx *context.Context) error {
	return SetParams(ctx, g.Params)
}

// SetParams sets the variables at the given scope paths (relative to ctx's scope) to values,
// creating the ones that don't exist yet; it changes nothing unless every existing variable has
// its value's shape.
func SetParams(ctx *context.Context, params map[string]*tensors.Tensor) error {
	paths := make([]string, 0, len(params))
	for p := range params {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		c, name := at(ctx, p)
		if v := c.GetVariable(name); v != nil && !v.Shape().Equal(params[p].Shape()) {
			return fmt.Errorf("pretrained: variable %s is %s, the pretrained weight %s", p, v.Shape(), params[p].Shape())
		}
	}
	for _, p := range paths {
		c, name := at(ctx, p)
		if v := c.GetVariable(name); v != nil {
			v.SetValue(params[p])
		} else {
			c.VariableWithValue(name, params[p])
		}
	}
	return nil
}

// at returns the context of a variable's scope path ("layer_0/attention/query/weights", relative
// to ctx) and the variable's name.
func at(ctx *context.Context, path string) (*context.Context, string) {
	parts := strings.Split(path, "/")
	for _, s := range parts[:len(parts)-1] {
		ctx = ctx.In(s)
	}
	return ctx, parts[len(parts)-1]
}
