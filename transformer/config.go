package transformer

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"

	"github.com/bitterlesson/bitter/attention"
)

// Activation names the MLP's non-linearity.
type Activation string

// Activations.
const (
	GELU     Activation = "gelu"      // exact GELU, 0.5·x·(1 + erf(x/√2)), as torch.nn.GELU()
	GELUTanh Activation = "gelu_tanh" // GPT-2's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))): torch's GELU(approximate="tanh"), Hugging Face's "gelu_new"
	ReLU     Activation = "relu"      // max(x, 0)
	ReLU2    Activation = "relu2"     // max(x, 0)², So et al. 2021 (Primer)
	SwiGLU   Activation = "swiglu"    // silu(x·W_gate) ⊙ (x·W_up), Shazeer 2020
)

// Norm names the normalisation layer.
type Norm string

// Norms.
const (
	LayerNorm Norm = "layernorm" // (x - mean) / sqrt(var + eps) · gain + bias
	RMSNorm   Norm = "rmsnorm"   // x / sqrt(mean(x²) + eps) · gain
)

// Positional names the position encoding.
type Positional string

// Position encodings.
const (
	Learned    Positional = "learned"    // trained absolute embeddings (GPT-2)
	Sinusoidal Positional = "sinusoidal" // fixed sinusoids added to the embeddings (Vaswani et al. 2017)
	RoPE       Positional = "rope"       // rotary embeddings of queries and keys (Su et al. 2021)
	ALiBi      Positional = "alibi"      // linear attention biases (Press et al. 2021)
	NoPosition Positional = "none"       // nothing: causal attention alone carries order
)

// Config describes a decoder-only Transformer language model. Use a preset ([Tiny],
// [ShakespeareChar], [GPT2Small]) and change fields; [Config.Validate] names any bad value.
type Config struct {
	// VocabSize is the number of token ids (256 for bytes; 50257 for GPT-2's BPE).
	VocabSize int
	// MaxSeqLen is the longest sequence the model takes (the context, "block size"), e.g. 128.
	MaxSeqLen int
	// NumLayers is the number of Transformer blocks, e.g. 4.
	NumLayers int
	// ModelDim is the width of the residual stream, e.g. 128.
	ModelDim int
	// NumHeads is the number of attention (query) heads, e.g. 4; ModelDim must divide by it.
	NumHeads int
	// NumKVHeads is the number of key/value heads (0 = NumHeads; fewer is grouped-query attention).
	NumKVHeads int
	// FFNDim is the MLP's hidden width, e.g. 4·ModelDim = 512.
	FFNDim int
	// Activation is the MLP's non-linearity: gelu, gelu_tanh, relu, relu2 or swiglu.
	Activation Activation
	// Norm is layernorm or rmsnorm; blocks are pre-norm, with a final norm before the head.
	Norm Norm
	// Positional is learned, sinusoidal, rope, alibi or none.
	Positional Positional
	// Dropout is the rate on embeddings, attention probabilities and residual branches in training (e.g. 0.2).
	Dropout float64
	// TieEmbeddings makes the output head the transpose of the token embeddings (GPT-2 does).
	TieEmbeddings bool
	// UseBias adds biases to linear layers and LayerNorm (GPT-2 does; LLaMA doesn't).
	UseBias bool
	// QKNorm applies RMS norm to each head's queries and keys.
	QKNorm bool
	// NormEpsilon is the norms' epsilon; 0 means 1e-5.
	NormEpsilon float64
	// RoPEBase is the rotary base; 0 means 10000.
	RoPEBase float64
	// DType is the dtype of parameters and activations: Float32 (default when zero) or Float64.
	DType dtypes.DType
	// ComputeDType, set to BFloat16, turns on mixed precision: matmuls (projections, attention,
	// MLP, head) take bfloat16 inputs and weights cast from the float32 master copy; the residual
	// stream, norms, softmax accumulation, activations' non-linearities, the loss and the optimizer
	// state stay in float32. Zero means DType throughout.
	ComputeDType dtypes.DType
	// Kernels chooses how attention is computed (causal query blocks, cuDNN's fused kernel), never
	// what: a setting of the run, not of the model, so checkpoints do not store it. The zero value
	// takes the backend's defaults.
	Kernels attention.Kernels `json:"-"`
}

// Tiny is the CPU default: 4 layers, 128 wide, 4 heads, FFN 512, GELU, LayerNorm, learned positions,
// context 128, byte vocabulary, untied head, no dropout. About 0.8M non-embedding parameters.
func Tiny() Config {
	return Config{VocabSize: 256, MaxSeqLen: 128, NumLayers: 4, ModelDim: 128, NumHeads: 4, FFNDim: 512,
		Activation: GELU, Norm: LayerNorm, Positional: Learned, UseBias: true, DType: dtypes.Float32}
}

// ShakespeareChar is nanoGPT's config/train_shakespeare_char.py model: 6 layers, 6 heads, 384 wide,
// block 256, dropout 0.2, tied embeddings, on bytes.
func ShakespeareChar() Config {
	return Config{VocabSize: 256, MaxSeqLen: 256, NumLayers: 6, ModelDim: 384, NumHeads: 6, FFNDim: 4 * 384,
		Activation: GELU, Norm: LayerNorm, Positional: Learned, Dropout: 0.2, TieEmbeddings: true, UseBias: true,
		DType: dtypes.Float32}
}

// GPT2Small is GPT-2 small (124M): 12 layers, 12 heads, 768 wide, 1024 context, vocabulary 50257,
// tied embeddings, learned positions, GELU, LayerNorm with biases.
func GPT2Small() Config {
	return Config{VocabSize: 50257, MaxSeqLen: 1024, NumLayers: 12, ModelDim: 768, NumHeads: 12, FFNDim: 4 * 768,
		Activation: GELU, Norm: LayerNorm, Positional: Learned, TieEmbeddings: true, UseBias: true,
		DType: dtypes.Float32}
}

// Presets maps preset names (the example trainer's -preset) to their constructors.
var Presets = map[string]func() Config{
	"tiny":             Tiny,
	"shakespeare-char": ShakespeareChar,
	"gpt2-small":       GPT2Small,
}

func (c Config) dtype() dtypes.DType {
	if c.DType == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return c.DType
}

// compute returns the matmul dtype.
func (c Config) compute() dtypes.DType {
	if c.ComputeDType == dtypes.InvalidDType {
		return c.dtype()
	}
	return c.ComputeDType
}

func (c Config) normEpsilon() float64 {
	if c.NormEpsilon == 0 {
		return 1e-5
	}
	return c.NormEpsilon
}

// Attention returns the configuration of each block's attention layer.
func (c Config) Attention() attention.Config {
	return attention.Config{ModelDim: c.ModelDim, NumHeads: c.NumHeads, NumKVHeads: c.NumKVHeads,
		UseBias: c.UseBias, RoPE: c.Positional == RoPE, RoPEBase: c.RoPEBase, QKNorm: c.QKNorm,
		NormEpsilon: 1e-6, Dropout: c.Dropout, ComputeDType: c.ComputeDType, Kernels: c.Kernels}
}

// Validate returns an error naming every bad value, or nil.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.VocabSize < 2 {
		add("VocabSize %d must be at least 2", c.VocabSize)
	}
	if c.MaxSeqLen < 1 {
		add("MaxSeqLen %d must be positive", c.MaxSeqLen)
	}
	if c.NumLayers < 1 {
		add("NumLayers %d must be positive", c.NumLayers)
	}
	if c.FFNDim < 1 {
		add("FFNDim %d must be positive", c.FFNDim)
	}
	switch c.Activation {
	case GELU, GELUTanh, ReLU, ReLU2, SwiGLU:
	default:
		add("Activation %q is not one of gelu, gelu_tanh, relu, relu2, swiglu", c.Activation)
	}
	switch c.Norm {
	case LayerNorm, RMSNorm:
	default:
		add("Norm %q is not one of layernorm, rmsnorm", c.Norm)
	}
	switch c.Positional {
	case Learned, Sinusoidal, RoPE, ALiBi, NoPosition:
	default:
		add("Positional %q is not one of learned, sinusoidal, rope, alibi, none", c.Positional)
	}
	if !(c.NormEpsilon >= 0) || math.IsInf(c.NormEpsilon, 0) {
		add("NormEpsilon %g must be a finite number, not negative (0 = 1e-5)", c.NormEpsilon)
	}
	switch c.DType {
	case dtypes.InvalidDType, dtypes.Float32, dtypes.Float64:
	default:
		add("DType %s is not Float32 or Float64", c.DType)
	}
	switch c.ComputeDType {
	case dtypes.InvalidDType, c.dtype():
	case dtypes.BFloat16:
		if c.dtype() != dtypes.Float32 {
			add("ComputeDType BFloat16 needs DType Float32 master weights, got %s", c.DType)
		}
	default:
		add("ComputeDType %s is not BFloat16 (or DType)", c.ComputeDType)
	}
	if err := c.Attention().Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("transformer.Config: %w", errors.Join(errs...))
	}
	return nil
}

// TrainingMemory estimates a training step's memory, as [lm.Model] has it: 4 copies of every
// parameter (values, gradients, AdamW's two moments) and, per token, each block's activations
// (about 13·ModelDim + 3·FFNDim values, and 2.5·NumHeads·seqLen for the attention scores and
// probabilities) and the logits with their softmax and gradient (3·VocabSize), in DType.
func (c Config) TrainingMemory(batch, seqLen int) (state, activations float64) {
	size := float64(c.dtype().Size())
	d, f, h, t := float64(c.ModelDim), float64(c.FFNDim), float64(c.NumHeads), float64(seqLen)
	perToken := float64(c.NumLayers)*(13*d+3*f+2.5*h*t) + 3*float64(c.VocabSize) + 2*d
	return 4 * size * float64(c.NumParams()), size * float64(batch) * t * perToken
}

// Vocab returns VocabSize, as the [lm.Model] interface has it.
func (c Config) Vocab() int { return c.VocabSize }

// CheckSeqLen returns an error when seqLen tokens don't fit the model.
func (c Config) CheckSeqLen(seqLen int) error {
	if seqLen < 1 || seqLen > c.MaxSeqLen {
		return fmt.Errorf("sequence length %d is outside the model's 1..MaxSeqLen=%d", seqLen, c.MaxSeqLen)
	}
	return nil
}

// NumParams counts the model's parameters (not optimizer state, not caches): embeddings, blocks,
// final norm and head (counted once when tied).
func (c Config) NumParams() int {
	d, v := c.ModelDim, c.VocabSize
	n := v * d // token embeddings
	if c.Positional == Learned {
		n += c.MaxSeqLen * d
	}
	n += c.NumLayers * c.blockParams()
	n += c.normParams()
	if !c.TieEmbeddings {
		n += d * v
	}
	return n
}

// NonEmbeddingParams is N of the FLOP estimate: every parameter that takes part in a matmul per
// token, that is NumParams less the token and position lookup tables, plus the head's d·vocab
// weights even when tied (nanoGPT's count for its tied GPT-2).
func (c Config) NonEmbeddingParams() int {
	n := c.NumParams() - c.VocabSize*c.ModelDim
	if c.Positional == Learned {
		n -= c.MaxSeqLen * c.ModelDim
	}
	if c.TieEmbeddings {
		n += c.VocabSize * c.ModelDim
	}
	return n
}

func (c Config) normParams() int {
	if c.Norm == LayerNorm && c.UseBias {
		return 2 * c.ModelDim
	}
	return c.ModelDim
}

func (c Config) blockParams() int {
	a := c.Attention()
	d, q, h, kvh, f := c.ModelDim, a.HeadSize(), c.NumHeads, a.KVHeads(), c.FFNDim
	n := 2 * c.normParams()
	n += d*h*q + 2*d*kvh*q + h*q*d
	if c.UseBias {
		n += h*q + 2*kvh*q + d
	}
	if c.QKNorm {
		n += 2 * q
	}
	if c.Activation == SwiGLU {
		n += 3 * d * f
		if c.UseBias {
			n += 2*f + d
		}
	} else {
		n += 2 * d * f
		if c.UseBias {
			n += f + d
		}
	}
	return n
}

// FLOPsPerToken estimates the training FLOPs per token at sequence length seqLen:
// 6N + 12·L·H·Q·T (nanoGPT's estimate_mfu, from the PaLM paper), N = NonEmbeddingParams.
func (c Config) FLOPsPerToken(seqLen int) float64 {
	a := c.Attention()
	return 6*float64(c.NonEmbeddingParams()) +
		12*float64(c.NumLayers)*float64(c.NumHeads)*float64(a.HeadSize())*float64(seqLen)
}
