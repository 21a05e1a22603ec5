package pretrained

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/checkpoint"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/positional"
	"github.com/bitterlesson/bitter/safetensors"
	"github.com/bitterlesson/bitter/transformer"
)

// CheckGPT2Shape returns an error unless cfg is a model GPT-2's layout can hold: LayerNorm with
// biases, learned positions, every head with its own keys and values, no QK-norm, and a GELU
// (exact or tanh) or ReLU MLP.
func CheckGPT2Shape(cfg transformer.Config) error {
	var errs []error
	if err := cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	if cfg.Norm != transformer.LayerNorm || !cfg.UseBias {
		errs = append(errs, errors.New("GPT-2 has LayerNorm and biases (Norm layernorm, UseBias)"))
	}
	if cfg.Positional != transformer.Learned {
		errs = append(errs, fmt.Errorf("GPT-2 has learned positions, not %s", cfg.Positional))
	}
	if cfg.NumKVHeads != 0 && cfg.NumKVHeads != cfg.NumHeads {
		errs = append(errs, fmt.Errorf("GPT-2 has no grouped-query attention (NumKVHeads %d of %d heads)", cfg.NumKVHeads, cfg.NumHeads))
	}
	if cfg.QKNorm {
		errs = append(errs, errors.New("GPT-2 has no QK-norm"))
	}
	if _, ok := hfActivation(cfg.Activation); !ok {
		errs = append(errs, fmt.Errorf("GPT-2's config has no activation for %s", cfg.Activation))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gpt2: the model does not fit GPT-2's layout: %w", err)
	}
	return nil
}

func hfActivation(a transformer.Activation) (string, bool) {
	switch a {
	case transformer.GELUTanh:
		return "gelu_new", true
	case transformer.GELU:
		return "gelu", true
	case transformer.ReLU:
		return "relu", true
	}
	return "", false
}

// SaveGPT2 writes the model of cfg whose variables are in ctx (trained by bitter, or loaded by
// [LoadGPT2]) to dir in Hugging Face's layout, which transformers' GPT2LMHeadModel.from_pretrained
// and [LoadGPT2] read: config.json, model.safetensors (float32; tied models under the hub's
// names, untied ones under GPT2LMHeadModel's, with lm_head.weight) and, when tok is not nil,
// vocab.json and merges.txt. Each file is written atomically.
func SaveGPT2(dir string, cfg transformer.Config, ctx *context.Context, tok *data.GPT2Tokenizer) error {
	if err := CheckGPT2Shape(cfg); err != nil {
		return err
	}
	if tok != nil && tok.VocabSize() > cfg.VocabSize {
		return fmt.Errorf("gpt2: the tokenizer has %d ids, the model %d", tok.VocabSize(), cfg.VocabSize)
	}
	D, V := cfg.ModelDim, cfg.VocabSize
	var errs []error
	get := func(path string, shape ...int) []float32 {
		c, name := at(ctx, path)
		v := c.GetVariable(name)
		if v == nil {
			errs = append(errs, fmt.Errorf("no variable %s", path))
			return make([]float32, prod(shape))
		}
		if !slices.Equal(v.Shape().Dimensions, shape) {
			errs = append(errs, fmt.Errorf("variable %s is %s, the config makes it %v", path, v.Shape(), shape))
			return make([]float32, prod(shape))
		}
		t, err := v.Value()
		var values []float32
		if err == nil {
			values, err = float32s(t)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("variable %s: %w", path, err))
			return make([]float32, prod(shape))
		}
		return values
	}
	prefix := ""
	if !cfg.TieEmbeddings {
		prefix = "transformer."
	}
	var names []string
	out := map[string]safetensors.Tensor{}
	put := func(name string, values []float32, shape ...int) {
		t, err := safetensors.FromFloat32s(values, shape...)
		if err != nil {
			errs = append(errs, err)
			return
		}
		names = append(names, prefix+name)
		out[prefix+name] = t
	}
	put("wte.weight", get(transformer.TokenEmbeddingScope+"/"+transformer.EmbeddingsVar, V, D), V, D)
	put("wpe.weight", get(transformer.PositionEmbeddingScope+"/"+positional.LearnedVariable, cfg.MaxSeqLen, D), cfg.MaxSeqLen, D)
	norm := func(name, path string) {
		put(name+".weight", get(path+"/"+transformer.GainVar, D), D)
		put(name+".bias", get(path+"/"+transformer.BiasVar, D), D)
	}
	linear := func(name, path string, in, n int) {
		put(name+".weight", get(path+"/"+transformer.WeightsVar, in, n), in, n)
		put(name+".bias", get(path+"/"+transformer.BiasesVar, n), n)
	}
	for i := range cfg.NumLayers {
		l, h := transformer.LayerScope(i), fmt.Sprintf("h.%d.", i)
		norm(h+"ln_1", l+"/"+transformer.AttentionNormScope)
		att := l + "/" + transformer.AttentionScope + "/"
		w := make([]float32, 0, 3*D*D)
		var b []float32
		var parts [3][]float32
		for k, scope := range []string{attention.QueryScope, attention.KeyScope, attention.ValueScope} {
			parts[k] = get(att+scope+"/"+transformer.WeightsVar, D, D)
			b = append(b, get(att+scope+"/"+transformer.BiasesVar, D)...)
		}
		for r := range D {
			for k := range 3 {
				w = append(w, parts[k][r*D:(r+1)*D]...)
			}
		}
		put(h+"attn.c_attn.weight", w, D, 3*D)
		put(h+"attn.c_attn.bias", b, 3*D)
		linear(h+"attn.c_proj", att+attention.OutputScope, D, D)
		norm(h+"ln_2", l+"/"+transformer.MLPNormScope)
		linear(h+"mlp.c_fc", l+"/"+transformer.MLPScope+"/up", D, cfg.FFNDim)
		linear(h+"mlp.c_proj", l+"/"+transformer.MLPScope+"/down", cfg.FFNDim, D)
	}
	norm("ln_f", transformer.FinalNormScope)
	if !cfg.TieEmbeddings {
		w := get(transformer.HeadScope+"/"+transformer.WeightsVar, D, V)
		t := make([]float32, V*D)
		for d := range D {
			for v := range V {
				t[v*D+d] = w[d*V+v]
			}
		}
		prefix = ""
		put("lm_head.weight", t, V, D)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	act, _ := hfActivation(cfg.Activation)
	eps := cfg.NormEpsilon
	if eps == 0 {
		eps = 1e-5
	}
	config, err := json.MarshalIndent(map[string]any{
		"model_type": "gpt2", "architectures": []string{"GPT2LMHeadModel"}, "vocab_size": V, "n_positions": cfg.MaxSeqLen,
		"n_ctx": cfg.MaxSeqLen, "n_embd": D, "n_layer": cfg.NumLayers, "n_head": cfg.NumHeads, "n_inner": cfg.FFNDim,
		"activation_function": act, "layer_norm_epsilon": eps, "tie_word_embeddings": cfg.TieEmbeddings,
		"scale_attn_weights": true, "resid_pdrop": cfg.Dropout, "embd_pdrop": cfg.Dropout, "attn_pdrop": cfg.Dropout,
		"torch_dtype": "float32",
	}, "", "  ")
	if err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	if err := safetensors.Write(filepath.Join(dir, WeightsFile), names, out, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("gpt2: %w", err)
	}
	files := []struct {
		name    string
		content []byte
	}{{ConfigFile, append(config, '\n')}}
	if tok != nil {
		vocab, merges := tok.Files()
		files = append(files, struct {
			name    string
			content []byte
		}{data.VocabFiles[0][0], vocab}, struct {
			name    string
			content []byte
		}{data.VocabFiles[1][0], merges})
	}
	for _, f := range files {
		if err := checkpoint.WriteFile(filepath.Join(dir, f.name), f.content); err != nil {
			return fmt.Errorf("gpt2: %w", err)
		}
	}
	return nil
}

func prod(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// float32s returns a float32 or float64 tensor's values as float32.
func float32s(t *tensors.Tensor) ([]float32, error) {
	switch t.DType() {
	case dtypes.Float32:
		return tensors.CopyFlatData[float32](t)
	case dtypes.Float64:
		v, err := tensors.CopyFlatData[float64](t)
		out := make([]float32, len(v))
		for i, x := range v {
			out[i] = float32(x)
		}
		return out, err
	}
	return nil, fmt.Errorf("%s values are not written", t.DType())
}
