package attention

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/bitterlesson/bitter/linear"
	"github.com/bitterlesson/bitter/positional"
)

// Config describes a multi-head attention layer. The zero values of the optional fields pick the
// usual choice; [Config.Validate] names any value that can't work.
type Config struct {
	// ModelDim is the width of the residual stream, the last axis of the layer's input (e.g. 128).
	ModelDim int
	// NumHeads is the number of query heads (e.g. 4).
	NumHeads int
	// NumKVHeads is the number of key/value heads; NumHeads must be a multiple of it. 0 means NumHeads
	// (plain multi-head attention); 1 is multi-query attention; in between, grouped-query attention.
	NumKVHeads int
	// HeadDim is the width of each head; 0 means ModelDim / NumHeads, which must then divide evenly.
	HeadDim int
	// UseBias adds biases to the four projections (GPT-2 does; LLaMA doesn't).
	UseBias bool
	// RoPE rotates queries and keys by their positions (Su et al. 2021), base RoPEBase.
	RoPE bool
	// RoPEBase is the rotary base; 0 means 10000.
	RoPEBase float64
	// QKNorm applies an RMS norm with a learned scale to each head of q and k, before RoPE
	// (as in OLMo 2 and Qwen 3), which keeps attention logits from growing without bound.
	QKNorm bool
	// NormEpsilon is the QK-norm epsilon; 0 means 1e-6.
	NormEpsilon float64
	// Dropout is the rate at which attention probabilities are dropped in training (e.g. 0.1).
	Dropout float64
	// ComputeDType, when set (BFloat16 for mixed precision), is the dtype of the projections' inputs,
	// weights and products and of q, k, v; the weights are stored in the input's dtype (the master
	// copy), scores and softmax accumulate in float32, and the output is returned in the input's dtype.
	ComputeDType dtypes.DType
	// Kernels chooses how the attention is computed (causal query blocks, cuDNN's fused kernel),
	// never what; the zero value takes the backend's defaults.
	Kernels Kernels
}

// KVHeads returns the number of key/value heads, resolving 0 to NumHeads.
func (c Config) KVHeads() int {
	if c.NumKVHeads == 0 {
		return c.NumHeads
	}
	return c.NumKVHeads
}

// HeadSize returns the width of each head, resolving 0 to ModelDim / NumHeads.
func (c Config) HeadSize() int {
	if c.HeadDim == 0 && c.NumHeads > 0 {
		return c.ModelDim / c.NumHeads
	}
	return c.HeadDim
}

func (c Config) ropeBase() float64 {
	if c.RoPEBase == 0 {
		return 10000
	}
	return c.RoPEBase
}

func (c Config) normEpsilon() float64 {
	if c.NormEpsilon == 0 {
		return 1e-6
	}
	return c.NormEpsilon
}

// Validate returns an error naming every bad value, or nil.
func (c Config) Validate() error {
	var errs []error
	if c.ModelDim < 1 {
		errs = append(errs, fmt.Errorf("ModelDim %d must be positive", c.ModelDim))
	}
	if c.NumHeads < 1 {
		errs = append(errs, fmt.Errorf("NumHeads %d must be positive", c.NumHeads))
	}
	if c.NumKVHeads < 0 {
		errs = append(errs, fmt.Errorf("NumKVHeads %d must not be negative", c.NumKVHeads))
	} else if c.NumHeads > 0 && c.KVHeads() > 0 && c.NumHeads%c.KVHeads() != 0 {
		errs = append(errs, fmt.Errorf("NumHeads %d is not divisible by NumKVHeads %d", c.NumHeads, c.NumKVHeads))
	}
	if c.HeadDim < 0 {
		errs = append(errs, fmt.Errorf("HeadDim %d must not be negative", c.HeadDim))
	} else if c.HeadDim == 0 && c.NumHeads > 0 && c.ModelDim > 0 && c.ModelDim%c.NumHeads != 0 {
		errs = append(errs, fmt.Errorf("ModelDim %d is not divisible by NumHeads %d (or set HeadDim)", c.ModelDim, c.NumHeads))
	}
	if c.RoPE && c.HeadSize() > 0 && c.HeadSize()%2 != 0 {
		errs = append(errs, fmt.Errorf("RoPE needs an even head size, got %d", c.HeadSize()))
	}
	if !(c.RoPEBase >= 0) || math.IsInf(c.RoPEBase, 0) {
		errs = append(errs, fmt.Errorf("RoPEBase %g must be a finite number, not negative (0 = 10000)", c.RoPEBase))
	}
	if !(c.NormEpsilon >= 0) || math.IsInf(c.NormEpsilon, 0) {
		errs = append(errs, fmt.Errorf("NormEpsilon %g must be a finite number, not negative (0 = 1e-6)", c.NormEpsilon))
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		errs = append(errs, fmt.Errorf("Dropout %g must be in [0, 1)", c.Dropout))
	}
	switch c.ComputeDType {
	case dtypes.InvalidDType, dtypes.Float32, dtypes.Float64, dtypes.BFloat16:
	default:
		errs = append(errs, fmt.Errorf("ComputeDType %s is not Float32, Float64 or BFloat16", c.ComputeDType))
	}
	if err := c.Kernels.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("Kernels: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("attention.Config: %w", errors.Join(errs...))
	}
	return nil
}

// Args are the inputs of [MultiHead] besides x. The zero value is non-causal self-attention at
// positions 0..seq-1.
type Args struct {
	// Memory, when set, makes the layer cross-attention (Vaswani et al. 2017's encoder-decoder
	// attention): queries from x, keys and values projected from Memory `[batch, kvLen, ModelDim]`,
	// an encoder's output. Mask then masks memory positions: an encoder's padding mask
	// `[batch, 1, 1, kvLen]` (true = attend; the queries' own padding only affects outputs a loss
	// ignores). Not with Causal, Cache or RoPE.
	Memory *graph.Node
	// Causal masks future positions.
	Causal bool
	// Positions are the Int32 absolute positions of x's tokens, `[seq]` or `[batch, seq]`, used by RoPE.
	// nil means 0..seq-1, or Cache.Position + 0..seq-1 with a cache.
	Positions *graph.Node
	// Mask is an optional boolean mask (true = attend), broadcastable to `[batch, heads, seq, kvLen]`
	// (kvLen is Cache.Capacity with a cache): padding masks, for instance.
	Mask *graph.Node
	// Bias is an optional additive score bias, broadcastable like Mask (ALiBi).
	Bias *graph.Node
	// Cache, when set, makes this an incremental decoding step: see [Cache].
	Cache *Cache
}

// Cache is a key/value cache for incremental decoding (causal by construction).
//
// Keys and values live in non-trainable variables `key` and `value` of shape
// `[batch, Capacity, kvHeads, headDim]` under the layer scope's [CacheScope]. A step with x of
// `[batch, n, ModelDim]` writes the new keys and values at slots Position ... Position+n-1 and
// attends each new query at absolute position Position+i to slots 0 ... Position+i. Slots past the
// written ones are masked, so a new sequence needs no reset: start again at Position 0.
// Position+n must not exceed Capacity; positions are data, so that is the caller's check.
type Cache struct {
	// Capacity is the number of slots (typically the model's MaxSeqLen).
	Capacity int
	// Position is an Int32 scalar: the absolute position of x's first token.
	Position *graph.Node
}

// CacheScope is the scope, under the layer's, of the KV cache variables.
const CacheScope = "kv_cache"

// Variable names of the multi-head layer, inside the scope it is given (checkpoint keys).
const (
	QueryScope  = "query"
	KeyScope    = "key"
	ValueScope  = "value"
	OutputScope = "output"
	// Each projection scope holds WeightsVar `[in, out]` and, with UseBias, BiasesVar `[out]`
	// (package linear's).
	WeightsVar = linear.WeightsVar
	BiasesVar  = linear.BiasesVar
	// With QKNorm, QueryNormScope and KeyNormScope hold ScaleVar `[headDim]`.
	QueryNormScope = "query_norm"
	KeyNormScope   = "key_norm"
	ScaleVar       = "scale"
)

// MultiHead is multi-head attention over x, `[batch, seq, ModelDim]`, with its variables in ctx's
// scope: projections to queries `[batch, seq, NumHeads, HeadDim]` and keys and values
// `[batch, seq, NumKVHeads, HeadDim]` (of Args.Memory's kvLen positions in cross-attention), optional
// QK-norm and RoPE, [ScaledDotProduct] (with dropout
// while ctx is training), and an output projection back to `[batch, seq, ModelDim]`.
//
// Weights take ctx's initializer; biases start at zero and QK-norm scales at one.
// It panics with the reason when cfg is invalid or x doesn't fit.
func MultiHead(ctx *context.Context, cfg Config, x *graph.Node, args Args) *graph.Node {
	batch, seq := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	heads, headDim := cfg.NumHeads, cfg.HeadSize()
	param := x.DType() // Weights are stored in the input's dtype.
	q, k, v, positions := project(ctx, cfg, x, args)

	opts := append([]Option{Dropout(ctx, cfg.Dropout)}, cfg.Kernels.options()...)
	if args.Mask != nil {
		opts = append(opts, Mask(args.Mask))
	}
	if args.Bias != nil {
		opts = append(opts, Bias(args.Bias))
	}
	if args.Cache != nil {
		var cacheMask *graph.Node
		k, v, cacheMask = args.Cache.update(ctx.In(CacheScope), k, v, positions)
		opts = append(opts, Mask(cacheMask))
	} else if args.Causal {
		opts = append(opts, Causal())
	}
	out := ScaledDotProduct(q, k, v, opts...) // [batch, seq, heads, headDim]
	out = graph.Reshape(out, batch, seq, heads*headDim)
	out = linear.Dense(ctx.In(OutputScope), out, cfg.ModelDim, cfg.UseBias, param)
	if out.DType() != param {
		out = graph.ConvertDType(out, param)
	}
	return out
}

// project checks x and args against cfg and returns the layer's queries
// `[batch, seq, NumHeads, HeadDim]`, keys and values `[batch, kvLen, NumKVHeads, HeadDim]` (QK-norm
// and RoPE applied) and the queries' positions, in the compute dtype.
func project(ctx *context.Context, cfg Config, x *graph.Node, args Args) (q, k, v, positions *graph.Node) {
	if err := cfg.Validate(); err != nil {
		panic(err.Error())
	}
	if x.Rank() != 3 || x.Shape().Dimensions[2] != cfg.ModelDim {
		panic(fmt.Sprintf("attention.MultiHead: x must be [batch, seq, ModelDim=%d], got %s", cfg.ModelDim, x.Shape()))
	}
	g := x.Graph()
	batch, seq := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	heads, kvHeads, headDim := cfg.NumHeads, cfg.KVHeads(), cfg.HeadSize()
	kvIn, kvLen := x, seq
	if m := args.Memory; m != nil {
		if m.Rank() != 3 || m.Shape().Dimensions[0] != batch || m.Shape().Dimensions[2] != cfg.ModelDim {
			panic(fmt.Sprintf("attention.MultiHead: Memory must be [batch=%d, kvLen, ModelDim=%d], got %s", batch, cfg.ModelDim, m.Shape()))
		}
		if args.Causal || args.Cache != nil || cfg.RoPE {
			panic("attention.MultiHead: cross-attention (Args.Memory) takes no Causal, Cache or RoPE")
		}
		kvIn, kvLen = m, m.Shape().Dimensions[1]
	}
	param := x.DType() // Weights are stored in the input's dtype.
	if cfg.ComputeDType != dtypes.InvalidDType && cfg.ComputeDType != param {
		x = graph.ConvertDType(x, cfg.ComputeDType)
		kvIn = graph.ConvertDType(kvIn, cfg.ComputeDType)
	}

	q = graph.Reshape(linear.Dense(ctx.In(QueryScope), x, heads*headDim, cfg.UseBias, param), batch, seq, heads, headDim)
	k = graph.Reshape(linear.Dense(ctx.In(KeyScope), kvIn, kvHeads*headDim, cfg.UseBias, param), batch, kvLen, kvHeads, headDim)
	v = graph.Reshape(linear.Dense(ctx.In(ValueScope), kvIn, kvHeads*headDim, cfg.UseBias, param), batch, kvLen, kvHeads, headDim)

	if cfg.QKNorm {
		q = headRMSNorm(ctx.In(QueryNormScope), q, cfg.normEpsilon(), param)
		k = headRMSNorm(ctx.In(KeyNormScope), k, cfg.normEpsilon(), param)
	}

	positions = args.Positions
	if positions == nil {
		positions = graph.Iota(g, shapes.Make(dtypes.Int32, seq), 0)
		if args.Cache != nil {
			positions = graph.Add(positions, graph.ConvertDType(args.Cache.Position, dtypes.Int32))
		}
	}
	if cfg.RoPE {
		q = positional.RoPE(q, positions, cfg.ropeBase())
		k = positional.RoPE(k, positions, cfg.ropeBase())
	}

	return q, k, v, positions
}

// Weights returns the attention probabilities `[batch, NumHeads, seq, kvLen]` that the layer whose
// variables are in ctx (built by [MultiHead] or loaded) computes for x and args: the alignment a
// cross-attention layer draws between target and source, for instance. Rows sum to 1 over the keys
// that are not masked (a fully masked row is all zeros); no dropout. Not with Args.Cache.
func Weights(ctx *context.Context, cfg Config, x *graph.Node, args Args) *graph.Node {
	if args.Cache != nil {
		panic("attention.Weights: takes no Cache")
	}
	ctx = ctx.Reuse()
	q, k, _, _ := project(ctx, cfg, x, args)
	g := x.Graph()
	batch, seq, heads, headDim := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[2], q.Shape().Dimensions[3]
	kvLen, kvHeads := k.Shape().Dimensions[1], k.Shape().Dimensions[2]
	acc := dtypes.Float32
	if x.DType() == dtypes.Float64 {
		acc = dtypes.Float64
	}
	q, k = graph.ConvertDType(q, acc), graph.ConvertDType(k, acc)
	// Each query head h reads key head h / (heads / kvHeads).
	group := heads / kvHeads
	q5 := graph.Reshape(q, batch, seq, kvHeads, group, headDim)
	scores := graph.DotGeneral(q5, []int{4}, []int{0, 2}, k, []int{3}, []int{0, 2}) // [b, kvHeads, seq, group, kvLen]
	scores = graph.Reshape(graph.TransposeAllAxes(scores, 0, 1, 3, 2, 4), batch, heads, seq, kvLen)
	scores = graph.MulScalar(scores, 1/math.Sqrt(float64(headDim)))
	dims := []int{batch, heads, seq, kvLen}
	if args.Bias != nil {
		scores = graph.Add(scores, graph.ConvertDType(broadcastTo(args.Bias, dims, "Bias"), acc))
	}
	mask := graph.BroadcastToDims(graph.Const(g, true), dims...)
	if args.Causal {
		qi := graph.Iota(g, shapes.Make(dtypes.Int32, seq, kvLen), 0)
		kj := graph.Iota(g, shapes.Make(dtypes.Int32, seq, kvLen), 1)
		mask = graph.LogicalAnd(mask, broadcastTo(graph.LessOrEqual(kj, graph.AddScalar(qi, kvLen-seq)), dims, "Causal"))
	}
	if args.Mask != nil {
		mask = graph.LogicalAnd(mask, broadcastTo(args.Mask, dims, "Mask"))
	}
	scores = graph.Where(mask, scores, graph.Scalar(g, acc, lowestFinite(acc)))
	e := graph.Exp(graph.Sub(scores, graph.ReduceAndKeep(scores, graph.ReduceMax, -1)))
	e = graph.Where(mask, e, graph.ScalarZero(g, acc))
	sum := graph.ReduceAndKeep(e, graph.ReduceSum, -1)
	sum = graph.Where(graph.Equal(sum, graph.ZerosLike(sum)), graph.OnesLike(sum), sum)
	return graph.Div(e, sum)
}

// headRMSNorm normalises the last axis of x `[batch, seq, heads, headDim]` to unit RMS and scales it
// by a learned `[headDim]` vector (stored in param): x / sqrt(mean(x²) + eps) · scale, in float32 or
// more (the scale's gradient sums over every token), the result in x's dtype.
func headRMSNorm(ctx *context.Context, x *graph.Node, eps float64, param dtypes.DType) *graph.Node {
	headDim := x.Shape().Dimensions[x.Rank()-1]
	scale := ctx.WithInitializer(initializers.One).VariableWithShape(ScaleVar, shapes.Make(param, headDim)).ValueGraph(x.Graph())
	acc := x
	if x.DType() != dtypes.Float64 && x.DType() != dtypes.Float32 {
		acc = graph.ConvertDType(x, dtypes.Float32)
	}
	ms := graph.ReduceAndKeep(graph.Square(acc), graph.ReduceMean, -1)
	// 1/Sqrt rather than Rsqrt: GoMLX v0.26 has no Rsqrt gradient of its own (bitter registers one,
	// internal/gomlxpatch/gradients, only where package backend is imported).
	normed := graph.Div(acc, graph.Sqrt(graph.AddScalar(ms, eps)))
	if scale.DType() != acc.DType() {
		scale = graph.ConvertDType(scale, acc.DType())
	}
	out := graph.Mul(normed, graph.ExpandLeftToRank(scale, x.Rank()))
	if out.DType() != x.DType() {
		out = graph.ConvertDType(out, x.DType())
	}
	return out
}

// update writes k and v `[batch, n, kvHeads, headDim]` into the cache at Position ... Position+n-1 and
// returns the whole cache and the mask `[batch|1, 1, n, Capacity]` of the slots each query may see.
// positions are the queries' absolute positions, `[n]` or `[batch, n]`.
func (c *Cache) update(ctx *context.Context, k, v, positions *graph.Node) (kAll, vAll, mask *graph.Node) {
	if c.Capacity < 1 || c.Position == nil || !c.Position.IsScalar() || !c.Position.DType().IsInt() {
		panic(fmt.Sprintf("attention.Cache: needs Capacity >= 1 (got %d) and an integer scalar Position (got %v)",
			c.Capacity, c.Position))
	}
	g := k.Graph()
	dims := k.Shape().Dimensions
	batch, n, kvHeads, headDim := dims[0], dims[1], dims[2], dims[3]
	if n > c.Capacity {
		panic(fmt.Sprintf("attention.Cache: %d new tokens (k %s) exceed the cache capacity %d", n, k.Shape(), c.Capacity))
	}
	cacheShape := shapes.Make(k.DType(), batch, c.Capacity, kvHeads, headDim)
	ctx = ctx.Checked(false).WithInitializer(initializers.Zero)
	kVar := ctx.VariableWithShape("key", cacheShape).SetTrainable(false)
	vVar := ctx.VariableWithShape("value", cacheShape).SetTrainable(false)

	// onehot[i, s] = (s == Position + i): which slot each new token goes to.
	pos := graph.ConvertDType(c.Position, dtypes.Int32)
	slots := graph.Iota(g, shapes.Make(dtypes.Int32, n, c.Capacity), 1)
	targets := graph.Add(graph.Iota(g, shapes.Make(dtypes.Int32, n, c.Capacity), 0), pos)
	onehot := graph.Equal(slots, targets)       // [n, Capacity]
	written := graph.ReduceLogicalOr(onehot, 0) // [Capacity]
	place := func(x *graph.Node) *graph.Node {  // [batch, n, kvHeads, headDim] -> [batch, Capacity, kvHeads, headDim]
		p := graph.DotGeneral(graph.ConvertDType(onehot, x.DType()), []int{0}, nil, x, []int{1}, nil) // [Capacity, batch, kvH, hd]
		return graph.TransposeAllAxes(p, 1, 0, 2, 3)
	}
	writtenB := graph.BroadcastToDims(graph.Reshape(written, 1, c.Capacity, 1, 1), cacheShape.Dimensions...)
	kAll = graph.Where(writtenB, place(k), kVar.ValueGraph(g))
	vAll = graph.Where(writtenB, place(v), vVar.ValueGraph(g))
	kVar.SetValueGraph(kAll)
	vVar.SetValueGraph(vAll)

	// Query at absolute position p sees slots s <= p.
	if positions.Rank() == 1 {
		positions = graph.InsertAxes(positions, 0) // [1, n]
	}
	qPos := graph.InsertAxes(graph.ConvertDType(positions, dtypes.Int32), -1)                         // [b|1, n, 1]
	kSlot := graph.Reshape(graph.Iota(g, shapes.Make(dtypes.Int32, c.Capacity), 0), 1, 1, c.Capacity) // [1, 1, C]
	mask = graph.LessOrEqual(graph.BroadcastToDims(kSlot, qPos.Shape().Dimensions[0], n, c.Capacity),
		graph.BroadcastToDims(qPos, qPos.Shape().Dimensions[0], n, c.Capacity))
	return kAll, vAll, graph.InsertAxes(mask, 1) // [b|1, 1, n, C]
}
