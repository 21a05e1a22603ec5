package pretrained_test

import (
	"encoding/json"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/safetensors"
	"github.com/bitterlesson/bitter/transformer"
)

const tinyDir = "testdata/gpt2-tiny"

// gpt2Golden is testdata/golden.json, written by generate.py.
type gpt2Golden struct {
	Text              string
	Tokens, Targets   [][]int32
	Logits            golden.Array
	LogitsBF16Weights golden.Array `json:"logits_bf16_weights"`
	Loss              float64
	Grads             map[string]golden.Array
}

func loadGolden(t *testing.T) gpt2Golden {
	var g gpt2Golden
	require.NoError(t, golden.Load("testdata/golden.json", &g))
	return g
}

func ids(rows [][]int32) *tensors.Tensor {
	flat := slices.Concat(rows...)
	return tensors.FromFlatDataAndDimensions(flat, len(rows), len(rows[0]))
}

// run builds cfg's model on params and returns the logits, the loss and the gradient of the loss
// with respect to each of paths.
func run(t *testing.T, cfg transformer.Config, params map[string]*tensors.Tensor, tokens, targets [][]int32, paths []string) []*tensors.Tensor {
	t.Helper()
	ctx := context.New()
	require.NoError(t, pretrained.SetParams(ctx, params))
	exec, err := context.NewExec(backend.MustShared(), ctx.Reuse(), func(ctx *context.Context, tok, tgt *graph.Node) []*graph.Node {
		logits := transformer.Logits(ctx, cfg, tok)
		loss := lm.Loss(logits, tgt)
		var wrt []*graph.Node
		for _, p := range paths {
			parts := strings.Split(p, "/")
			c := ctx
			for _, s := range parts[:len(parts)-1] {
				c = c.In(s)
			}
			wrt = append(wrt, c.GetVariable(parts[len(parts)-1]).ValueGraph(tok.Graph()))
		}
		return append([]*graph.Node{logits, loss}, graph.Gradient(loss, wrt...)...)
	})
	require.NoError(t, err)
	outs, err := exec.Exec(ids(tokens), ids(targets))
	require.NoError(t, err)
	require.Equal(t, len(params), golden.NumTrainable(ctx), "the model's variables are exactly the pretrained ones")
	return outs
}

// TestGPT2MatchesReference loads a GPT-2 in Hugging Face's layout (config.json, model.safetensors,
// vocab.json, merges.txt, all written in Python) and checks, against GPT-2's equations computed by
// PyTorch in float64: the tokens of a text, the logits, the loss, and the gradient of every
// weight (the c_attn gradients through the same split as the weights, whose logits check it).
func TestGPT2MatchesReference(t *testing.T) {
	want := loadGolden(t)
	g, err := pretrained.LoadGPT2(tinyDir)
	require.NoError(t, err)
	cfg := g.Config
	require.Equal(t, transformer.Config{VocabSize: 407, MaxSeqLen: 32, NumLayers: 2, ModelDim: 16, NumHeads: 4, FFNDim: 64,
		Activation: transformer.GELUTanh, Norm: transformer.LayerNorm, Positional: transformer.Learned, TieEmbeddings: true,
		UseBias: true, NormEpsilon: 1e-5, DType: dtypes.Float32}, cfg)
	require.Len(t, g.Params, 2+2*16+2)
	require.Equal(t, 407*16+32*16+2*(4*16+4*(16*16+16)+16*64+64+64*16+16)+2*16, cfg.NumParams())

	enc := g.Tokenizer.Encode([]byte(want.Text))
	require.Equal(t, slices.Concat(want.Tokens[0], want.Targets[0][len(want.Targets[0])-1:], want.Tokens[1]),
		int32s(enc[:2*len(want.Tokens[0])+1]), "the tokenizer")

	paths := slices.Sorted(mapsKeys(g.Params))
	tol, gradTol := golden.Tol(backend.MustShared(), dtypes.Float32, 2e-5, 2e-5)
	outs := run(t, cfg, g.Params, want.Tokens, want.Targets, paths)
	golden.Check(t.Errorf, "logits", outs[0], want.Logits, tol)
	loss := golden.Float64s(outs[1])[0]
	require.InEpsilon(t, want.Loss, loss, tol)
	// The reference gradients, by hub name, mapped to bitter's paths as the weights were.
	file := &safetensors.File{Tensors: map[string]safetensors.Tensor{}}
	for name, a := range want.Grads {
		v := make([]float32, len(a.Data))
		for i, x := range a.Data {
			v[i] = float32(x)
		}
		file.Tensors[name], err = safetensors.FromFloat32s(v, a.Shape...)
		require.NoError(t, err)
		file.Names = append(file.Names, name)
	}
	grads, err := pretrained.GPT2Params(cfg, file)
	require.NoError(t, err)
	for i, p := range paths {
		golden.Check(t.Errorf, "d "+p, outs[2+i], golden.Array{Shape: grads[p].Shape().Dimensions, Data: golden.Float64s(grads[p])}, gradTol)
	}
}

func int32s(ids []data.Token) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

func mapsKeys[M ~map[string]V, V any](m M) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestGPT2BFloat16File reads the same weights rounded to bfloat16, saved under GPT2LMHeadModel's
// names ("transformer." prefix, lm_head.weight), and checks the logits PyTorch computed with those
// weights, tied and (lm_head.weight as an untied head) untied.
func TestGPT2BFloat16File(t *testing.T) {
	want := loadGolden(t)
	g, err := pretrained.LoadGPT2(tinyDir)
	require.NoError(t, err)
	f, err := safetensors.Read("testdata/gpt2-tiny-bf16.safetensors")
	require.NoError(t, err)
	tol, _ := golden.Tol(backend.MustShared(), dtypes.Float32, 2e-5, 2e-5)
	for _, tied := range []bool{true, false} {
		cfg := g.Config
		cfg.TieEmbeddings = tied
		params, err := pretrained.GPT2Params(cfg, f)
		require.NoError(t, err)
		outs := run(t, cfg, params, want.Tokens, want.Targets, nil)
		golden.Check(t.Errorf, "logits", outs[0], want.LogitsBF16Weights, tol)
	}
}

// TestGPT2Errors: broken configs, weights and folders are clear errors.
func TestGPT2Errors(t *testing.T) {
	for _, c := range []struct{ config, want string }{
		{`{`, "gpt2 config: unexpected end of JSON input"},
		{`{"model_type": "llama"}`, `model_type is "llama", not gpt2`},
		{`{"activation_function": "swish"}`, `activation_function "swish" is not gelu_new`},
		{`{"scale_attn_weights": false}`, "scale_attn_weights false"},
		{`{"scale_attn_by_inverse_layer_idx": true, "add_cross_attention": true}`, "scale_attn_by_inverse_layer_idx is not supported\nadd_cross_attention"},
		{`{"n_embd": 100, "n_head": 12}`, "ModelDim 100 is not divisible by NumHeads 12"},
		{`{"n_layer": 0}`, "NumLayers 0 must be positive"},
	} {
		_, err := pretrained.ReadGPT2Config([]byte(c.config))
		require.ErrorContains(t, err, c.want, c.config)
	}
	cfg, err := pretrained.ReadGPT2Config([]byte(`{}`))
	require.NoError(t, err)
	require.Equal(t, transformer.GPT2Small().NumParams(), cfg.NumParams(), "GPT2Config's defaults are GPT-2 small")
	cfg, err = pretrained.ReadGPT2Config([]byte(`{"n_inner": 100, "activation_function": "gelu", "tie_word_embeddings": false, "layer_norm_epsilon": 1e-6}`))
	require.NoError(t, err)
	require.Equal(t, []any{100, transformer.GELU, false, 1e-6}, []any{cfg.FFNDim, cfg.Activation, cfg.TieEmbeddings, cfg.NormEpsilon})

	// Weights: each damage is named; several at once are all named.
	g, err := pretrained.LoadGPT2(tinyDir)
	require.NoError(t, err)
	f, err := safetensors.Read(filepath.Join(tinyDir, "model.safetensors"))
	require.NoError(t, err)
	edit := func(fn func(*safetensors.File)) *safetensors.File {
		c := &safetensors.File{Names: slices.Clone(f.Names), Tensors: map[string]safetensors.Tensor{}}
		for k, v := range f.Tensors {
			c.Tensors[k] = v
		}
		fn(c)
		return c
	}
	for _, c := range []struct {
		name string
		f    *safetensors.File
		want []string
	}{
		{"missing", edit(func(c *safetensors.File) { delete(c.Tensors, "h.1.mlp.c_fc.bias") }), []string{`no tensor "h.1.mlp.c_fc.bias"`}},
		{"shape", edit(func(c *safetensors.File) { c.Tensors["wpe.weight"] = c.Tensors["h.0.attn.c_proj.weight"] }),
			[]string{`tensor "wpe.weight" has shape [16 16], the config makes it [32 16]`}},
		{"extra", edit(func(c *safetensors.File) {
			c.Tensors["h.2.ln_1.weight"] = c.Tensors["h.0.ln_1.weight"]
			c.Names = append(c.Names, "h.2.ln_1.weight")
		}), []string{`tensor "h.2.ln_1.weight" is not a weight of GPT-2 with this config`}},
		{"dtype", edit(func(c *safetensors.File) {
			c.Tensors["ln_f.bias"] = safetensors.Tensor{DType: "I32", Shape: []int{16}, Data: make([]byte, 64)}
		}),
			[]string{`tensor "ln_f.bias": safetensors: cannot read I32 elements as float32`}},
		{"not a number", edit(func(c *safetensors.File) {
			nan, err := safetensors.FromFloat32s([]float32{1, 2, float32(math.NaN()), 4}, 4)
			require.NoError(t, err)
			c.Tensors["h.1.mlp.c_fc.bias"] = safetensors.Tensor{DType: "F32", Shape: c.Tensors["h.1.mlp.c_fc.bias"].Shape,
				Data: append(nan.Data, c.Tensors["h.1.mlp.c_fc.bias"].Data[16:]...)}
			inf, err := safetensors.FromFloat32s([]float32{float32(math.Inf(-1))})
			require.NoError(t, err)
			c.Tensors["ln_f.weight"] = safetensors.Tensor{DType: "F32", Shape: c.Tensors["ln_f.weight"].Shape,
				Data: append(slices.Clone(c.Tensors["ln_f.weight"].Data[:4*15]), inf.Data...)}
		}), []string{`tensor "h.1.mlp.c_fc.bias" holds NaN at element 2: the weights are damaged`,
			`tensor "ln_f.weight" holds -Inf at element 15: the weights are damaged`}},
		{"two", edit(func(c *safetensors.File) { delete(c.Tensors, "wte.weight"); delete(c.Tensors, "ln_f.weight") }),
			[]string{`no tensor "wte.weight"`, `no tensor "ln_f.weight"`}},
		{"untied without a head", f, nil},
	} {
		cfg := g.Config
		if c.want == nil {
			cfg.TieEmbeddings = false
			c.want = []string{`no tensor "lm_head.weight"`}
		}
		_, err := pretrained.GPT2Params(cfg, c.f)
		for _, w := range c.want {
			require.ErrorContains(t, err, w, c.name)
		}
	}

	// Folders.
	copyTo := func(skip ...string) string {
		dir := t.TempDir()
		for _, name := range []string{"config.json", "model.safetensors", "vocab.json", "merges.txt"} {
			if slices.Contains(skip, name) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(tinyDir, name))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
		return dir
	}
	_, err = pretrained.LoadGPT2(copyTo("config.json"))
	require.ErrorContains(t, err, "config.json: no such file")
	dir := copyTo("model.safetensors")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pytorch_model.bin"), []byte("pickle"), 0o644))
	_, err = pretrained.LoadGPT2(dir)
	require.ErrorContains(t, err, "has pytorch_model.bin but no model.safetensors; bitter does not read pickles")
	_, err = pretrained.LoadGPT2(copyTo("merges.txt"))
	require.ErrorContains(t, err, "holds neither merges.txt nor vocab.bpe")
	dir = copyTo()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"vocab_size": 300, "n_positions": 32, "n_embd": 16, "n_layer": 2, "n_head": 4}`), 0o644))
	_, err = pretrained.LoadGPT2(dir)
	require.ErrorContains(t, err, `tensor "wte.weight" has shape [407 16], the config makes it [300 16]`)
	// A config of absurd sizes (27 GB of embeddings) fails on the shapes, before allocating them.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"vocab_size": 407, "n_positions": 32, "n_embd": 16777216, "n_layer": 2, "n_head": 1}`), 0o644))
	_, err = pretrained.LoadGPT2(dir)
	require.ErrorContains(t, err, `tensor "wte.weight" has shape [407 16], the config makes it [407 16777216]`)
	dir = copyTo()
	raw, err := os.ReadFile(filepath.Join(dir, "model.safetensors"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "model.safetensors"), raw[:len(raw)-1], 0o644))
	_, err = pretrained.LoadGPT2(dir)
	require.ErrorContains(t, err, "not a valid safetensors file")

	// SetParams changes nothing when a shape disagrees.
	ctx := context.New()
	require.NoError(t, g.Init(ctx))
	bad := map[string]*tensors.Tensor{"final_norm/gain": tensors.FromValue([]float32{1, 2}), "final_norm/bias": tensors.FromValue(make([]float32, 16))}
	bias := func() float32 {
		v, err := ctx.In("final_norm").GetVariable("bias").Value()
		require.NoError(t, err)
		return v.Value().([]float32)[0]
	}
	before := bias()
	require.NotZero(t, before)
	require.ErrorContains(t, pretrained.SetParams(ctx, bad), "variable final_norm/gain is (Float32)[16], the pretrained weight (Float32)[2]")
	require.Equal(t, before, bias())
}

// TestGPT2HubConfig reads the config.json of openai-community/gpt2 as the hub serves it: GPT-2
// small, 124,439,808 parameters, with the tanh GELU (the GPT2Small preset, like nanoGPT, uses the
// exact one).
func TestGPT2HubConfig(t *testing.T) {
	hub := `{
  "activation_function": "gelu_new",
  "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "embd_pdrop": 0.1,
  "eos_token_id": 50256,
  "initializer_range": 0.02,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_layer": 12,
  "n_positions": 1024,
  "resid_pdrop": 0.1,
  "summary_activation": null,
  "summary_first_dropout": 0.1,
  "summary_proj_to_labels": true,
  "summary_type": "cls_index",
  "summary_use_proj": true,
  "task_specific_params": {"text-generation": {"do_sample": true, "max_length": 50}},
  "vocab_size": 50257
}`
	cfg, err := pretrained.ReadGPT2Config([]byte(hub))
	require.NoError(t, err)
	want := transformer.GPT2Small()
	want.Activation, want.NormEpsilon = transformer.GELUTanh, 1e-5
	require.Equal(t, want, cfg)
	require.Equal(t, 124_439_808, cfg.NumParams())
}

// TestGPT2Shards loads the weights split in two shards with an index, as save_pretrained writes
// checkpoints above its shard size: the same parameters; and a broken index is a clear error.
func TestGPT2Shards(t *testing.T) {
	g, err := pretrained.LoadGPT2(tinyDir)
	require.NoError(t, err)
	f, err := safetensors.Read(filepath.Join(tinyDir, pretrained.WeightsFile))
	require.NoError(t, err)
	shard := func(dir string, index map[string]string, names ...string) {
		for _, n := range names {
			index[n] = "s1.safetensors"
		}
		var rest []string
		for _, n := range f.Names {
			if _, ok := index[n]; !ok {
				rest = append(rest, n)
				index[n] = "s2.safetensors"
			}
		}
		require.NoError(t, safetensors.Write(filepath.Join(dir, "s1.safetensors"), names, f.Tensors, nil))
		require.NoError(t, safetensors.Write(filepath.Join(dir, "s2.safetensors"), rest, f.Tensors, nil))
		for _, name := range []string{"config.json", "vocab.json", "merges.txt"} {
			b, err := os.ReadFile(filepath.Join(tinyDir, name))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
		}
	}
	writeIndex := func(dir string, index map[string]string) {
		b, err := json.Marshal(map[string]any{"metadata": map[string]int{"total_size": 1}, "weight_map": index})
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, pretrained.IndexFile), b, 0o644))
	}
	dir := t.TempDir()
	index := map[string]string{}
	shard(dir, index, "wte.weight", "h.0.attn.c_attn.weight", "ln_f.bias")
	writeIndex(dir, index)
	back, err := pretrained.LoadGPT2(dir)
	require.NoError(t, err)
	requireSameParams(t, g.Params, back.Params)

	for _, c := range []struct {
		name string
		edit func(index map[string]string)
		want string
	}{
		{"missing shard", func(m map[string]string) { m["extra.weight"] = "s0.safetensors" }, "s0.safetensors: no such file"},
		{"outside", func(m map[string]string) { m["wte.weight"] = "../s1.safetensors" }, `tensor "wte.weight" is in "../s1.safetensors", not a file of the index's folder`},
		{"misplaced", func(m map[string]string) { m["ln_f.bias"] = "s2.safetensors" }, `shard s1.safetensors holds tensor "ln_f.bias", which the index puts in "s2.safetensors"`},
		{"unlisted", func(m map[string]string) { delete(m, "ln_f.bias") }, `shard s1.safetensors holds tensor "ln_f.bias", which the index puts in ""`},
		{"not held", func(m map[string]string) { m["extra.weight"] = "s1.safetensors" }, `the index puts tensor "extra.weight" in s1.safetensors, which does not hold it`},
	} {
		m := maps.Clone(index)
		c.edit(m)
		writeIndex(dir, m)
		_, err := pretrained.LoadGPT2(dir)
		require.ErrorContains(t, err, c.want, c.name)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, pretrained.IndexFile), []byte(`{"weight_map": {}}`), 0o644))
	_, err = pretrained.LoadGPT2(dir)
	require.ErrorContains(t, err, "not an index with a weight_map")
}

// FuzzReadGPT2Config: no config.json panics ReadGPT2Config; what it accepts is a valid
// transformer.Config in GPT-2's shape (learned positions, LayerNorm with biases), and what it
// refuses is an error that says "gpt2 config" or names the field.
func FuzzReadGPT2Config(f *testing.F) {
	content, err := os.ReadFile(filepath.Join(tinyDir, pretrained.ConfigFile))
	require.NoError(f, err)
	f.Add(content)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"n_inner": 100, "activation_function": "gelu", "tie_word_embeddings": false, "layer_norm_epsilon": 1e-6}`))
	f.Add([]byte(`{"n_embd": 10, "n_head": 3, "n_layer": -1, "vocab_size": 1e30, "model_type": "llama"}`))
	f.Fuzz(func(t *testing.T, content []byte) {
		cfg, err := pretrained.ReadGPT2Config(content)
		if err != nil {
			return
		}
		require.NoError(t, cfg.Validate(), "%s", content)
		require.Equal(t, transformer.Learned, cfg.Positional)
		require.Equal(t, transformer.LayerNorm, cfg.Norm)
	})
}
