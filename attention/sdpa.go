package attention

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/layers"
)

// Option configures [ScaledDotProduct].
type Option func(*options)

type options struct {
	causal      bool
	masks       []*graph.Node
	bias        *graph.Node
	scale       float64
	scaleSet    bool
	dropoutCtx  *context.Context
	dropoutRate float64
	block       int
	blockSet    bool
	cudnn       CuDNN
}

// Causal masks keys after each query: query i (of qLen) sees key j (of kvLen) when
// j <= i + kvLen - qLen, so the last query sees every key, as in a decode step against a cache.
func Causal() Option { return func(o *options) { o.causal = true } }

// Mask restricts attention with a boolean mask, true where a query may attend to a key,
// broadcastable to `[batch, heads, qLen, kvLen]`: leading axes may be missing and any axis may be 1,
// so a padding mask `[batch, 1, 1, kvLen]` and a `[qLen, kvLen]` pattern both work. It combines (AND)
// with [Causal] and with other Mask options.
func Mask(mask *graph.Node) Option { return func(o *options) { o.masks = append(o.masks, mask) } }

// Bias adds an additive bias to the scaled scores before the softmax, broadcastable to
// `[batch, heads, qLen, kvLen]` like [Mask] (ALiBi's `[heads, qLen, kvLen]`, for instance).
func Bias(bias *graph.Node) Option { return func(o *options) { o.bias = bias } }

// Scale sets the factor applied to q·k; the default is 1/sqrt(headDim).
func Scale(s float64) Option { return func(o *options) { o.scale, o.scaleSet = s, true } }

// Dropout drops attention probabilities at the given rate while ctx is training (and rescales the
// rest by 1/(1-rate)); it does nothing at inference or for rate 0.
func Dropout(ctx *context.Context, rate float64) Option {
	return func(o *options) { o.dropoutCtx, o.dropoutRate = ctx, rate }
}

// FusedCuDNN chooses cuDNN's fused attention (see [CuDNN]); the default is [CuDNNAuto]. A setting
// that is not one of the three panics.
func FusedCuDNN(setting CuDNN) Option {
	if err := (Kernels{CuDNN: setting}).Validate(); err != nil {
		panic("attention.FusedCuDNN: " + err.Error())
	}
	return func(o *options) { o.cudnn = setting }
}

// CausalBlock sets the query block of causal self-attention to n (n = 0: no blocks). When the
// attention is [Causal] with no [Mask] or [Bias] and as many queries as keys, the queries are taken n
// at a time, and block b (queries [b·n, (b+1)·n)) attends only to keys [0, (b+1)·n): it skips the
// key blocks all its queries would mask, as FlashAttention does, so the scores, the softmax and their
// gradients cost about (B+1)/2B of the full T×T for B blocks. The result is the full computation's up
// to rounding. The default is [DefaultCausalBlock] for the graph's backend.
func CausalBlock(n int) Option {
	if n < 0 {
		panic(fmt.Sprintf("attention.CausalBlock: %d must not be negative", n))
	}
	return func(o *options) { o.block, o.blockSet = n, true }
}

// DefaultCausalBlock returns the causal query block for a backend by name (its String()): 64 on
// the pure-Go backend ("go"), where skipping the masked key blocks makes a causal layer's step faster,
// and 0 (no blocks) elsewhere: on XLA each block is more kernels, and GPT-2 small's step on a GPU was
// slower with them (benchmarks/CPU-NOTES.md and GPU-NOTES.md have the measurements).
// [Kernels.CausalBlock] overrides it.
func DefaultCausalBlock(backendName string) int {
	if backendName == "go" {
		return 64
	}
	return 0
}

// ScaledDotProduct computes softmax(scale · q·kᵀ + bias, masked) · v for each head
// (Vaswani et al. 2017, §3.2.1).
//
// Shapes: q is `[batch, qLen, heads, headDim]`, k is `[batch, kvLen, kvHeads, headDim]` and v is
// `[batch, kvLen, kvHeads, valueDim]`; heads must be a multiple of kvHeads, and query head h reads
// kv head h / (heads/kvHeads), which is grouped-query attention (kvHeads = 1 is multi-query). The
// result is `[batch, qLen, heads, valueDim]` in q's dtype.
//
// Scores, softmax and the weighted sum of probabilities are accumulated in at least float32. A query
// whose keys are all masked gets zeros, never NaN. Shapes that don't fit panic with the shapes.
//
// On XLA with CUDA, in a binary built with custom calls, attention that fits cuDNN's fused kernel
// runs on it (see [CuDNN]).
func ScaledDotProduct(q, k, v *graph.Node, opts ...Option) *graph.Node {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if q.Rank() != 4 || k.Rank() != 4 || v.Rank() != 4 {
		panic(fmt.Sprintf("attention.ScaledDotProduct: q, k, v must be rank 4 [batch, seq, heads, headDim], got q %s, k %s, v %s",
			q.Shape(), k.Shape(), v.Shape()))
	}
	qd, kd, vd := q.Shape().Dimensions, k.Shape().Dimensions, v.Shape().Dimensions
	batch, qLen, heads, headDim := qd[0], qd[1], qd[2], qd[3]
	kvLen, kvHeads, valueDim := kd[1], kd[2], vd[3]
	if kd[0] != batch || vd[0] != batch || vd[1] != kvLen || vd[2] != kvHeads || kd[3] != headDim {
		panic(fmt.Sprintf("attention.ScaledDotProduct: shapes don't fit: q %s [batch, qLen, heads, headDim], "+
			"k %s [batch, kvLen, kvHeads, headDim], v %s [batch, kvLen, kvHeads, valueDim]", q.Shape(), k.Shape(), v.Shape()))
	}
	if kvHeads == 0 || heads%kvHeads != 0 {
		panic(fmt.Sprintf("attention.ScaledDotProduct: heads %d (q %s) must be a multiple of kvHeads %d (k %s)",
			heads, q.Shape(), kvHeads, k.Shape()))
	}
	if !q.DType().IsFloat() || k.DType() != q.DType() || v.DType() != q.DType() {
		panic(fmt.Sprintf("attention.ScaledDotProduct: q, k, v must share one float dtype, got q %s, k %s, v %s",
			q.Shape(), k.Shape(), v.Shape()))
	}
	g := q.Graph()
	scale := 1 / math.Sqrt(float64(headDim))
	if o.scaleSet {
		scale = o.scale
	}
	if cudnnWanted(g, o.cudnn) && cudnnMisfit(q, k, v, &o) == "" {
		out, err := cudnnAttention(q, k, v, o.causal, scale)
		if err == nil {
			cudnnBuilt.Add(1)
			return out
		}
		if o.cudnn == CuDNNAlways {
			panic(fmt.Sprintf("attention.ScaledDotProduct: CuDNN %q: %v", o.cudnn, err))
		}
	}
	block := o.block
	if !o.blockSet {
		block = DefaultCausalBlock(g.Backend().String())
	}
	if block > 0 && o.causal && len(o.masks) == 0 && o.bias == nil && qLen == kvLen && qLen > block {
		return blockCausal(q, k, v, block, opts)
	}
	group := heads / kvHeads
	dtype := q.DType()
	accDType := dtype
	if dtype != dtypes.Float64 {
		accDType = dtypes.Float32
	}
	scoresDims := []int{batch, heads, qLen, kvLen}

	// Scores: [b, qLen, kvHeads, group, d] x [b, kvLen, kvHeads, d] -> [b, kvHeads, qLen, group, kvLen].
	q5 := graph.Reshape(q, batch, qLen, kvHeads, group, headDim)
	scores := graph.DotGeneral(q5, []int{4}, []int{0, 2}, k, []int{3}, []int{0, 2})
	scores = graph.TransposeAllAxes(scores, 0, 1, 3, 2, 4) // [b, kvHeads, group, qLen, kvLen]
	scores = graph.Reshape(scores, scoresDims...)          // [b, heads, qLen, kvLen]
	if scores.DType() != accDType {
		scores = graph.ConvertDType(scores, accDType)
	}
	scores = graph.MulScalar(scores, scale)
	if o.bias != nil {
		bias := broadcastTo(o.bias, scoresDims, "Bias")
		scores = graph.Add(scores, graph.ConvertDType(bias, accDType))
	}

	// Mask: causal AND user mask.
	var mask *graph.Node
	if o.causal {
		qi := graph.Iota(g, shapes.Make(dtypes.Int32, qLen, kvLen), 0)
		kj := graph.Iota(g, shapes.Make(dtypes.Int32, qLen, kvLen), 1)
		mask = graph.LessOrEqual(kj, graph.AddScalar(qi, kvLen-qLen))
		mask = broadcastTo(mask, scoresDims, "Causal")
	}
	for _, m := range o.masks {
		if m.DType() != dtypes.Bool {
			panic(fmt.Sprintf("attention.ScaledDotProduct: Mask must be Bool, got %s", m.Shape()))
		}
		m = broadcastTo(m, scoresDims, "Mask")
		if mask == nil {
			mask = m
		} else {
			mask = graph.LogicalAnd(mask, m)
		}
	}

	// Softmax over keys; masked keys get probability 0, fully masked rows all zeros. Its values are
	// computed with the scores' gradient stopped; softmaxGradient gives the scores theirs.
	s := graph.StopGradient(scores)
	var probs *graph.Node
	if mask == nil {
		probs = graph.Softmax(s, -1)
	} else {
		// A scalar, which Where broadcasts itself (XLA's backend adds the broadcast; the pure-Go backend
		// reads the one element instead of a filled [batch, heads, qLen, kvLen] copy).
		lowest := graph.Scalar(g, accDType, lowestFinite(accDType))
		s = graph.Where(mask, s, lowest)
		if len(o.masks) == 0 && qLen <= kvLen {
			// Causal alone never masks a whole row (query i sees keys 0 ... i+kvLen-qLen), so the
			// masked keys' exp(lowest - max) is exactly 0 and no row sums to 0: the plain softmax gives
			// the general path's values, in the form JAX hands XLA (a select, then max, exp, sum,
			// divide), which XLA's GPU softmax fusion is written for.
			probs = graph.Softmax(s, -1)
		} else {
			maxScore := graph.ReduceAndKeep(s, graph.ReduceMax, -1)
			e := graph.Exp(graph.Sub(s, maxScore))
			e = graph.Where(mask, e, graph.ScalarZero(g, e.DType()))
			sum := graph.ReduceAndKeep(e, graph.ReduceSum, -1)
			// A fully masked row sums to 0: divide by 1 instead, leaving zeros.
			sum = graph.Where(graph.Equal(sum, graph.ZerosLike(sum)), graph.OnesLike(sum), sum)
			probs = graph.Div(e, sum)
		}
	}
	// Multiply probabilities in the input dtype (bf16 on the GPU) but accumulate in float32.
	probs = graph.ConvertDType(probs, dtype)
	if o.bias != nil {
		// A bias may be an additive mask holding -inf, where scores - scores is NaN: such keys have
		// P = 0 and get no gradient either way, through the max or the softmax.
		scores = graph.MaxScalar(scores, lowestFinite(accDType))
	}
	probs = softmaxGradient(scores, probs)
	if o.dropoutCtx != nil && o.dropoutRate > 0 {
		probs = layers.DropoutStatic(o.dropoutCtx, probs, o.dropoutRate)
	}

	// Output: [b, kvHeads, group, qLen, kvLen] x [b, kvLen, kvHeads, vd] -> [b, kvHeads, group, qLen, vd].
	probs = graph.Reshape(probs, batch, kvHeads, group, qLen, kvLen)
	out := graph.DotGeneral(probs, []int{4}, []int{0, 1}, v, []int{1}, []int{0, 2})
	out = graph.TransposeAllAxes(out, 0, 3, 1, 2, 4) // [b, qLen, kvHeads, group, vd]
	out = graph.Reshape(out, batch, qLen, heads, valueDim)
	if out.DType() != dtype {
		out = graph.ConvertDType(out, dtype)
	}
	return out
}

// broadcastTo broadcasts x to dims after prepending missing leading axes; it panics naming the option.
func broadcastTo(x *graph.Node, dims []int, what string) *graph.Node {
	if x.Rank() > len(dims) {
		panic(fmt.Sprintf("attention.ScaledDotProduct: %s %s has more axes than the scores [batch, heads, qLen, kvLen] %v",
			what, x.Shape(), dims))
	}
	original := x.Shape()
	if x.Rank() < len(dims) {
		newAxes := make([]int, len(dims)-x.Rank())
		x = graph.InsertAxes(x, newAxes...)
	}
	for i, d := range x.Shape().Dimensions {
		if d != 1 && d != dims[i] {
			panic(fmt.Sprintf("attention.ScaledDotProduct: %s %s does not broadcast to the scores [batch, heads, qLen, kvLen] %v",
				what, original, dims))
		}
	}
	return graph.BroadcastToDims(x, dims...)
}

// softmaxGradient returns p, the softmax of scores over the last axis computed with the scores'
// gradient stopped, given back the softmax's gradient: for the gradient dP reaching p, the scores get
// dS = P ⊙ (dP − Σ_k dP⊙P), summed over the last axis, in scores' dtype. This is the derivative
// PyTorch's softmax backward computes from its output; GoMLX's derivative of the exp, sum and divide
// that make a softmax has twice the ops and keeps exp(scores − max) in float32 for the backward
// (805 MB a layer for GPT-2 small at T=1024), where this keeps only p (403 MB in bf16), which the
// product with v keeps anyway. Masked keys have P = 0, so their scores get 0, as through the mask.
//
// The value of p is unchanged: p + (scores − scores), in which the second term is 0 for the finite
// scores attention makes and, through IdentityWithCustomGradient, carries dS to the scores.
func softmaxGradient(scores, p *graph.Node) *graph.Node {
	var out *graph.Node
	zero := graph.Sub(scores, graph.StopGradient(scores))
	zero = graph.IdentityWithCustomGradient(zero, func(_, dP *graph.Node) *graph.Node {
		probs := graph.ConvertDType(graph.StopGradient(out), dP.DType())
		dot := graph.ReduceAndKeep(graph.Mul(dP, probs), graph.ReduceSum, -1)
		return graph.Mul(probs, graph.Sub(dP, dot))
	})
	out = graph.Add(p, graph.ConvertDType(zero, p.DType()))
	return out
}

func lowestFinite(dtype dtypes.DType) float64 {
	if dtype == dtypes.Float64 {
		return -math.MaxFloat64
	}
	return -math.MaxFloat32
}

// blockCausal is causal self-attention in query blocks of n: block b, queries [b·n, (b+1)·n), against
// keys [0, (b+1)·n), where [Causal]'s alignment (the last query sees every key) is exactly the
// causal mask of those queries.
func blockCausal(q, k, v *graph.Node, n int, opts []Option) *graph.Node {
	qLen := q.Shape().Dimensions[1]
	opts = append(opts[:len(opts):len(opts)], CausalBlock(0))
	var outs []*graph.Node
	for s := 0; s < qLen; s += n {
		e := min(qLen, s+n)
		qb := graph.Slice(q, graph.AxisRange(), graph.AxisRange(s, e))
		kb := graph.Slice(k, graph.AxisRange(), graph.AxisRange(0, e))
		vb := graph.Slice(v, graph.AxisRange(), graph.AxisRange(0, e))
		outs = append(outs, ScaledDotProduct(qb, kb, vb, opts...))
	}
	return graph.Concatenate(outs, 1)
}
