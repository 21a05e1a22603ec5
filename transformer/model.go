package transformer

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/layers"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/linear"
	"github.com/bitterlesson/bitter/positional"
)

// Scope names of the model's variables: the checkpoint format. Blocks are "layer_0", "layer_1", ...
const (
	TokenEmbeddingScope    = "token_embeddings" // holds "embeddings" [VocabSize, ModelDim]
	PositionEmbeddingScope = "position_embeddings"
	AttentionNormScope     = "attention_norm"
	AttentionScope         = "attention"
	MLPNormScope           = "mlp_norm"
	MLPScope               = "mlp" // holds "up", "down" (and "gate" for swiglu), each "weights" (+ "biases")
	FinalNormScope         = "final_norm"
	HeadScope              = "head" // holds "weights" [ModelDim, VocabSize] when untied
	EmbeddingsVar          = "embeddings"
	GainVar                = "gain"
	BiasVar                = "bias"
	WeightsVar             = linear.WeightsVar
	BiasesVar              = linear.BiasesVar
)

// LayerScope returns the scope name of block i.
func LayerScope(i int) string { return fmt.Sprintf("layer_%d", i) }

// InitStdDev is the standard deviation of the normal initialisation of weights and embeddings
// (GPT-2's 0.02). Biases start at zero and norm gains at one.
const InitStdDev = 0.02

// Logits is the causal forward pass: tokens Int32 `[batch, seq]` (seq <= MaxSeqLen) to next-token
// logits `[batch, seq, VocabSize]`, with the variables in ctx's scope. Dropout is applied while ctx
// is training. It panics with the reason when cfg is invalid or tokens don't fit.
func Logits(ctx *context.Context, cfg Config, tokens *graph.Node) *graph.Node {
	return forward(ctx, cfg, tokens, nil)
}

// DecodeLogits is one incremental decoding step on the KV cache: tokens `[batch, n]` are the next n
// tokens of each sequence, at absolute positions position ... position+n-1 (position an Int32 scalar),
// attending to everything cached before them. It returns their logits `[batch, n, VocabSize]`.
// The cache holds MaxSeqLen positions; position+n must not exceed MaxSeqLen (the caller's check,
// since positions are data). Start a new sequence at position 0: no reset is needed.
func DecodeLogits(ctx *context.Context, cfg Config, tokens, position *graph.Node) *graph.Node {
	return forward(ctx, cfg, tokens, &attention.Cache{Capacity: cfg.MaxSeqLen, Position: position})
}

func forward(ctx *context.Context, cfg Config, tokens *graph.Node, cache *attention.Cache) *graph.Node {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	if tokens.Rank() != 2 || !tokens.DType().IsInt() {
		panic(fmt.Sprintf("transformer: tokens must be integer [batch, seq], got %s", tokens.Shape()))
	}
	seq := tokens.Shape().Dimensions[1]
	if seq > cfg.MaxSeqLen {
		panic(fmt.Sprintf("transformer: sequence length %d (tokens %s) exceeds MaxSeqLen %d", seq, tokens.Shape(), cfg.MaxSeqLen))
	}
	g := tokens.Graph()
	dtype := cfg.dtype()
	ctx = ctx.WithInitializer(initializers.RandomNormalFn(ctx, InitStdDev))

	positions := graph.Iota(g, shapes.Make(dtypes.Int32, seq), 0)
	if cache != nil {
		positions = graph.Add(positions, graph.ConvertDType(cache.Position, dtypes.Int32))
	}

	// Embeddings.
	wte := ctx.In(TokenEmbeddingScope).VariableWithShape(EmbeddingsVar, shapes.Make(dtype, cfg.VocabSize, cfg.ModelDim)).ValueGraph(g)
	x := graph.Gather(wte, graph.InsertAxes(graph.ConvertDType(tokens, dtypes.Int32), -1)) // [batch, seq, dim]
	x = addPositions(ctx, cfg.Positional, x, positions, cfg.MaxSeqLen)
	x = layers.DropoutStatic(ctx, x, cfg.Dropout)

	args := attention.Args{Causal: true, Positions: positions, Cache: cache}
	if cfg.Positional == ALiBi {
		if cache != nil {
			args.Bias = positional.ALiBiBiasAt(positions, dtype, cfg.NumHeads, cache.Capacity)
		} else {
			args.Bias = positional.ALiBiBias(g, dtype, cfg.NumHeads, seq, seq)
		}
	}
	attnCfg := cfg.Attention()
	for i := range cfg.NumLayers {
		lctx := ctx.In(LayerScope(i))
		h := attention.MultiHead(lctx.In(AttentionScope), attnCfg, norm(lctx.In(AttentionNormScope), cfg, x), args)
		x = graph.Add(x, layers.DropoutStatic(ctx, h, cfg.Dropout))
		h = mlp(lctx.In(MLPScope), cfg, norm(lctx.In(MLPNormScope), cfg, x))
		x = graph.Add(x, layers.DropoutStatic(ctx, h, cfg.Dropout))
	}
	x = toDType(norm(ctx.In(FinalNormScope), cfg, x), cfg.compute())
	if cfg.TieEmbeddings {
		return graph.DotGeneral(x, []int{2}, nil, toDType(wte, cfg.compute()), []int{1}, nil)
	}
	return linear.Dense(ctx.In(HeadScope), x, cfg.VocabSize, false, dtype)
}

// addPositions adds the absolute position encoding kind to x `[batch, seq, dim]` at positions
// Int32 `[seq]` (below maxLen): learned (a `[maxLen, dim]` table in ctx's PositionEmbeddingScope) or
// sinusoidal. RoPE and ALiBi act in attention, and none adds nothing: x is returned as it is.
func addPositions(ctx *context.Context, kind Positional, x, positions *graph.Node, maxLen int) *graph.Node {
	dim := x.Shape().Dimensions[2]
	switch kind {
	case Learned:
		return graph.Add(x, graph.InsertAxes(positional.Learned(ctx.In(PositionEmbeddingScope), positions, maxLen, dim, x.DType()), 0))
	case Sinusoidal:
		table := positional.Sinusoidal(x.Graph(), x.DType(), maxLen, dim)
		return graph.Add(x, graph.InsertAxes(graph.Gather(table, graph.InsertAxes(positions, -1)), 0))
	}
	return x
}

// toDType converts x to dtype if it isn't already.
func toDType(x *graph.Node, dtype dtypes.DType) *graph.Node {
	if x.DType() == dtype {
		return x
	}
	return graph.ConvertDType(x, dtype)
}

// norm is LayerNorm or RMSNorm over the last axis, statistics in x's dtype (float32 or float64).
func norm(ctx *context.Context, cfg Config, x *graph.Node) *graph.Node {
	dim := x.Shape().Dimensions[x.Rank()-1]
	g := x.Graph()
	eps := cfg.normEpsilon()
	gain := ctx.WithInitializer(initializers.One).VariableWithShape(GainVar, shapes.Make(x.DType(), dim)).ValueGraph(g)
	var y *graph.Node
	switch cfg.Norm {
	case RMSNorm:
		ms := graph.ReduceAndKeep(graph.Square(x), graph.ReduceMean, -1)
		y = graph.Div(x, graph.Sqrt(graph.AddScalar(ms, eps))) // 1/Sqrt: GoMLX v0.26 has no Rsqrt gradient of its own.
	default:
		mean := graph.ReduceAndKeep(x, graph.ReduceMean, -1)
		centered := graph.Sub(x, mean)
		variance := graph.ReduceAndKeep(graph.Square(centered), graph.ReduceMean, -1)
		y = graph.Div(centered, graph.Sqrt(graph.AddScalar(variance, eps)))
	}
	y = graph.Mul(y, graph.ExpandLeftToRank(gain, y.Rank()))
	if cfg.Norm == LayerNorm && cfg.UseBias {
		b := ctx.WithInitializer(initializers.Zero).VariableWithShape(BiasVar, shapes.Make(x.DType(), dim)).ValueGraph(g)
		y = graph.Add(y, graph.ExpandLeftToRank(b, y.Rank()))
	}
	return y
}

// mlp is the position-wise feed-forward network: matmuls in the compute dtype, the non-linearity
// in x's dtype; it returns x's dtype.
func mlp(ctx *context.Context, cfg Config, x *graph.Node) *graph.Node {
	param := x.DType()
	xc := toDType(x, cfg.compute())
	up := toDType(linear.Dense(ctx.In("up"), xc, cfg.FFNDim, cfg.UseBias, param), param)
	var h *graph.Node
	switch cfg.Activation {
	case GELU:
		h = gelu(up)
	case GELUTanh:
		h = geluTanh(up)
	case ReLU:
		h = graph.Max(up, graph.ZerosLike(up))
	case ReLU2:
		r := graph.Max(up, graph.ZerosLike(up))
		h = graph.Mul(r, r)
	case SwiGLU:
		gate := toDType(linear.Dense(ctx.In("gate"), xc, cfg.FFNDim, cfg.UseBias, param), param)
		h = graph.Mul(graph.Mul(gate, graph.Sigmoid(gate)), up)
	}
	return toDType(linear.Dense(ctx.In("down"), toDType(h, cfg.compute()), cfg.ModelDim, cfg.UseBias, param), param)
}

// gelu is the exact GELU, 0.5·x·(1 + erf(x/√2)).
func gelu(x *graph.Node) *graph.Node {
	return graph.Mul(graph.MulScalar(x, 0.5), graph.OnePlus(graph.Erf(graph.MulScalar(x, 1/math.Sqrt2))))
}

// geluTanh is GPT-2's tanh approximation of the GELU, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
func geluTanh(x *graph.Node) *graph.Node {
	inner := graph.MulScalar(graph.Add(x, graph.MulScalar(graph.Mul(graph.Mul(x, x), x), 0.044715)), math.Sqrt(2/math.Pi))
	return graph.Mul(graph.MulScalar(x, 0.5), graph.OnePlus(graph.Tanh(inner)))
}

// Logits is the method form of the package function [Logits], so a Config can stand for its model
// wherever a model is an interface (the example trainer takes transformers and RNNs alike).
func (c Config) Logits(ctx *context.Context, tokens *graph.Node) *graph.Node {
	return forward(ctx, c, tokens, nil)
}
