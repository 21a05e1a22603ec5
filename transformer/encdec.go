package transformer

import (
	"errors"
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
	"github.com/bitterlesson/bitter/seq2seq"
)

// EncoderDecoder describes an encoder-decoder Transformer, the model of "Attention Is All You Need"
// (Vaswani et al. 2017) for sequence to sequence: an encoder of non-causal self-attention blocks over
// the source (padding masked), a decoder of causal self-attention, cross-attention to the encoder's
// output and MLP blocks, and a linear head over the target vocabulary. Blocks are pre-norm with a
// final norm after each stack (torch.nn.Transformer with norm_first=True). It implements
// [seq2seq.Model]; [EncoderDecoder.Validate] names any bad value.
type EncoderDecoder struct {
	// SourceVocabSize and TargetVocabSize are the numbers of source and target token ids.
	SourceVocabSize, TargetVocabSize int
	// MaxSourceLen is the longest source; MaxTargetLen the longest decoder sequence (a target and
	// its EOS), e.g. 32.
	MaxSourceLen, MaxTargetLen int
	// EncoderLayers and DecoderLayers are the numbers of blocks of each stack, e.g. 2 and 2.
	EncoderLayers, DecoderLayers int
	// ModelDim is the width of both residual streams; NumHeads the attention heads of every
	// attention layer (ModelDim must divide by it); FFNDim the MLPs' hidden width.
	ModelDim, NumHeads, FFNDim int
	// Activation is the MLPs' non-linearity: gelu, gelu_tanh, relu (the paper's), relu2 or swiglu.
	Activation Activation
	// Norm is layernorm or rmsnorm.
	Norm Norm
	// Positional is learned (a table per stack), sinusoidal (the paper's) or none.
	Positional Positional
	// ScaleEmbeddings multiplies token embeddings by √ModelDim before positions are added, as the
	// paper does.
	ScaleEmbeddings bool
	// ShareEmbeddings looks source tokens up in the target's table (the vocabularies must be equal).
	ShareEmbeddings bool
	// TieEmbeddings makes the head the transpose of the target embeddings.
	TieEmbeddings bool
	// UseBias adds biases to linear layers and LayerNorms.
	UseBias bool
	// Dropout is the rate on embeddings, attention probabilities and residual branches in training.
	Dropout float64
	// NormEpsilon is the norms' epsilon; 0 means 1e-5.
	NormEpsilon float64
	// DType is Float32 (default when zero) or Float64.
	DType dtypes.DType
}

// Scopes of the encoder-decoder's variables (the checkpoint format): EncoderScope and DecoderScope
// each hold TokenEmbeddingScope (the encoder's absent with ShareEmbeddings), PositionEmbeddingScope
// (learned positions), LayerScope(i) blocks and FinalNormScope; decoder blocks add
// CrossAttentionNormScope and CrossAttentionScope. The head is HeadScope at the top (absent when tied).
const (
	EncoderScope            = "encoder"
	DecoderScope            = "decoder"
	CrossAttentionNormScope = "cross_attention_norm"
	CrossAttentionScope     = "cross_attention"
)

var _ seq2seq.Model = EncoderDecoder{}

// SmallEncoderDecoder is a CPU-sized encoder-decoder: 2 + 2 blocks, 128 wide, 4 heads, FFN 512,
// ReLU, LayerNorm with biases, sinusoidal positions with scaled embeddings (as the paper), sources
// and targets of up to 64 tokens, no dropout. Set the vocabularies.
func SmallEncoderDecoder(sourceVocab, targetVocab int) EncoderDecoder {
	return EncoderDecoder{SourceVocabSize: sourceVocab, TargetVocabSize: targetVocab, MaxSourceLen: 64, MaxTargetLen: 65,
		EncoderLayers: 2, DecoderLayers: 2, ModelDim: 128, NumHeads: 4, FFNDim: 512, Activation: ReLU, Norm: LayerNorm,
		Positional: Sinusoidal, ScaleEmbeddings: true, UseBias: true, DType: dtypes.Float32}
}

// block is the decoder-only Config whose blocks, norms and MLPs the stacks share.
func (c EncoderDecoder) block() Config {
	return Config{VocabSize: c.TargetVocabSize, MaxSeqLen: max(c.MaxSourceLen, c.MaxTargetLen, 1), NumLayers: max(c.EncoderLayers, c.DecoderLayers, 1),
		ModelDim: c.ModelDim, NumHeads: c.NumHeads, FFNDim: c.FFNDim, Activation: c.Activation, Norm: c.Norm,
		Positional: c.Positional, Dropout: c.Dropout, UseBias: c.UseBias, NormEpsilon: c.NormEpsilon, DType: c.DType}
}

// Validate returns an error naming every bad value, or nil.
func (c EncoderDecoder) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.SourceVocabSize < 2 {
		add("SourceVocabSize %d must be at least 2", c.SourceVocabSize)
	}
	if c.TargetVocabSize < 3 {
		add("TargetVocabSize %d must be at least 3 (a token, BOS and EOS)", c.TargetVocabSize)
	}
	if c.ShareEmbeddings && c.SourceVocabSize != c.TargetVocabSize {
		add("ShareEmbeddings needs equal vocabularies, got source %d and target %d", c.SourceVocabSize, c.TargetVocabSize)
	}
	if c.MaxSourceLen < 1 {
		add("MaxSourceLen %d must be positive", c.MaxSourceLen)
	}
	if c.MaxTargetLen < 1 {
		add("MaxTargetLen %d must be positive", c.MaxTargetLen)
	}
	if c.EncoderLayers < 1 {
		add("EncoderLayers %d must be positive", c.EncoderLayers)
	}
	if c.DecoderLayers < 1 {
		add("DecoderLayers %d must be positive", c.DecoderLayers)
	}
	if c.Positional == RoPE || c.Positional == ALiBi {
		add("Positional %q: an encoder-decoder takes learned, sinusoidal or none", c.Positional)
	}
	b := c.block()
	b.VocabSize = max(b.VocabSize, 2)
	if err := b.Validate(); err != nil {
		errs = append(errs, errors.Unwrap(err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("transformer.EncoderDecoder: %w", errors.Join(errs...))
	}
	return nil
}

// Vocabs returns the source and target vocabulary sizes.
func (c EncoderDecoder) Vocabs() (source, target int) { return c.SourceVocabSize, c.TargetVocabSize }

// MaxLens returns MaxSourceLen and MaxTargetLen.
func (c EncoderDecoder) MaxLens() (source, target int) { return c.MaxSourceLen, c.MaxTargetLen }

// crossParams counts a decoder block's cross-attention and its norm.
func (c EncoderDecoder) crossParams() int {
	b := c.block()
	n := 4*c.ModelDim*c.ModelDim + b.normParams()
	if c.UseBias {
		n += 4 * c.ModelDim
	}
	return n
}

// NumParams counts the parameters: embeddings (one table when shared), learned positions, blocks,
// the two final norms and the head (none when tied).
func (c EncoderDecoder) NumParams() int {
	b := c.block()
	d := c.ModelDim
	n := c.TargetVocabSize * d
	if !c.ShareEmbeddings {
		n += c.SourceVocabSize * d
	}
	if c.Positional == Learned {
		n += (c.MaxSourceLen + c.MaxTargetLen) * d
	}
	n += c.EncoderLayers*b.blockParams() + c.DecoderLayers*(b.blockParams()+c.crossParams()) + 2*b.normParams()
	if !c.TieEmbeddings {
		n += d * c.TargetVocabSize
	}
	return n
}

// TrainingFLOPs estimates the training FLOPs of one pair of srcLen source and tgtLen target
// positions: 6 per multiply-add of a weight with a token (the encoder's blocks per source token; the
// decoder's blocks, the query and output projections of its cross-attention and the head per target
// token; the cross-attention's key and value projections per source token and decoder block) and
// 12·ModelDim per query-key pair and layer (nanoGPT's attention term, unmasked pairs and all).
func (c EncoderDecoder) TrainingFLOPs(srcLen, tgtLen int) float64 {
	b := c.block()
	d, s, t := float64(c.ModelDim), float64(srcLen), float64(tgtLen)
	enc, dec := float64(c.EncoderLayers), float64(c.DecoderLayers)
	block := float64(b.blockParams())
	matmuls := enc*block*s + dec*(block+2*d*d)*t + dec*2*d*d*s + d*float64(c.TargetVocabSize)*t
	return 6*matmuls + 12*d*(enc*s*s+dec*t*t+dec*t*s)
}

// embed looks tokens `[batch, seq]` up in table, scales them (ScaleEmbeddings), adds the positions of
// a stack of maxLen positions (its variables in ctx) and applies dropout.
func (c EncoderDecoder) embed(ctx *context.Context, table *graph.Node, tokens *graph.Node, maxLen int) *graph.Node {
	seq := tokens.Shape().Dimensions[1]
	x := graph.Gather(table, graph.InsertAxes(graph.ConvertDType(tokens, dtypes.Int32), -1)) // [batch, seq, dim]
	if c.ScaleEmbeddings {
		x = graph.MulScalar(x, math.Sqrt(float64(c.ModelDim)))
	}
	x = addPositions(ctx, c.Positional, x, graph.Iota(tokens.Graph(), shapes.Make(dtypes.Int32, seq), 0), maxLen)
	return layers.DropoutStatic(ctx, x, c.Dropout)
}

// table returns the token embedding table of a stack's scope.
func (c EncoderDecoder) table(ctx *context.Context, g *graph.Graph, vocab int) *graph.Node {
	return ctx.In(TokenEmbeddingScope).VariableWithShape(EmbeddingsVar, shapes.Make(c.block().dtype(), vocab, c.ModelDim)).ValueGraph(g)
}

// sourceTable is the table source tokens are looked up in.
func (c EncoderDecoder) sourceTable(ctx *context.Context, g *graph.Graph) *graph.Node {
	if c.ShareEmbeddings {
		return c.table(ctx.In(DecoderScope), g, c.TargetVocabSize)
	}
	return c.table(ctx.In(EncoderScope), g, c.SourceVocabSize)
}

// checkInputs validates c and the shapes, panicking with the reason.
func (c EncoderDecoder) checkInputs(source, sourceLengths, targetIn *graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err.Error())
	}
	seq2seq.CheckShapes("transformer.EncoderDecoder", seq2seq.LimitsOf(c), source, sourceLengths, targetIn)
}

// encode returns the encoder's output `[batch, srcLen, ModelDim]` and the memory mask
// `[batch, 1, 1, srcLen]`.
func (c EncoderDecoder) encode(ctx *context.Context, source, sourceLengths *graph.Node) (memory, mask *graph.Node) {
	ctx = ctx.WithInitializer(initializers.RandomNormalFn(ctx, InitStdDev))
	b := c.block()
	srcLen := source.Shape().Dimensions[1]
	mask = graph.Reshape(seq2seq.SourceMask(sourceLengths, srcLen), source.Shape().Dimensions[0], 1, 1, srcLen)
	ectx := ctx.In(EncoderScope)
	x := c.embed(ectx, c.sourceTable(ctx, source.Graph()), source, c.MaxSourceLen)
	attnCfg := b.Attention()
	for i := range c.EncoderLayers {
		lctx := ectx.In(LayerScope(i))
		h := attention.MultiHead(lctx.In(AttentionScope), attnCfg, norm(lctx.In(AttentionNormScope), b, x), attention.Args{Mask: mask})
		x = graph.Add(x, layers.DropoutStatic(ctx, h, c.Dropout))
		h = mlp(lctx.In(MLPScope), b, norm(lctx.In(MLPNormScope), b, x))
		x = graph.Add(x, layers.DropoutStatic(ctx, h, c.Dropout))
	}
	return norm(ectx.In(FinalNormScope), b, x), mask
}

// decode returns the decoder's final-normed states `[batch, tgtLen, ModelDim]` for targetIn or, with
// align, only the last block's cross-attention weights averaged over heads `[batch, tgtLen, srcLen]`.
func (c EncoderDecoder) decode(ctx *context.Context, memory, mask, targetIn *graph.Node, align bool) (x, weights *graph.Node) {
	ctx = ctx.WithInitializer(initializers.RandomNormalFn(ctx, InitStdDev))
	b := c.block()
	dctx := ctx.In(DecoderScope)
	x = c.embed(dctx, c.table(dctx, targetIn.Graph(), c.TargetVocabSize), targetIn, c.MaxTargetLen)
	attnCfg := b.Attention()
	for i := range c.DecoderLayers {
		lctx := dctx.In(LayerScope(i))
		h := attention.MultiHead(lctx.In(AttentionScope), attnCfg, norm(lctx.In(AttentionNormScope), b, x), attention.Args{Causal: true})
		x = graph.Add(x, layers.DropoutStatic(ctx, h, c.Dropout))
		q := norm(lctx.In(CrossAttentionNormScope), b, x)
		cross := attention.Args{Memory: memory, Mask: mask}
		h = attention.MultiHead(lctx.In(CrossAttentionScope), attnCfg, q, cross)
		if align && i == c.DecoderLayers-1 {
			// The weights are the graph's output: nothing that reads a variable may follow them
			// (GoMLX v0.26's pure-Go backend sizes its buffers by the last output node's index, and a
			// variable read later is an input past them).
			return nil, graph.ReduceMean(attention.Weights(lctx.In(CrossAttentionScope), attnCfg, q, cross), 1)
		}
		x = graph.Add(x, layers.DropoutStatic(ctx, h, c.Dropout))
		h = mlp(lctx.In(MLPScope), b, norm(lctx.In(MLPNormScope), b, x))
		x = graph.Add(x, layers.DropoutStatic(ctx, h, c.Dropout))
	}
	return norm(dctx.In(FinalNormScope), b, x), weights
}

// head maps decoder states `[..., ModelDim]` to target logits.
func (c EncoderDecoder) head(ctx *context.Context, x *graph.Node) *graph.Node {
	if c.TieEmbeddings {
		w := c.table(ctx.In(DecoderScope), x.Graph(), c.TargetVocabSize)
		return graph.DotGeneral(x, []int{x.Rank() - 1}, nil, w, []int{1}, nil)
	}
	return linear.Dense(ctx.In(HeadScope).WithInitializer(initializers.RandomNormalFn(ctx, InitStdDev)), x, c.TargetVocabSize, false, c.block().dtype())
}

// Logits is the teacher-forced forward pass (see [seq2seq.Model]): source `[batch, srcLen]` with
// sourceLengths `[batch]` and targetIn `[batch, tgtLen]` to logits `[batch, tgtLen, TargetVocabSize]`.
// It panics with the reason when c is invalid or the inputs don't fit.
func (c EncoderDecoder) Logits(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) *graph.Node {
	c.checkInputs(source, sourceLengths, targetIn)
	memory, mask := c.encode(ctx, source, sourceLengths)
	x, _ := c.decode(ctx, memory, mask, targetIn, false)
	return c.head(ctx, x)
}

// Alignment is the last decoder block's cross-attention, averaged over heads, `[batch, tgtLen, srcLen]`.
func (c EncoderDecoder) Alignment(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) *graph.Node {
	c.checkInputs(source, sourceLengths, targetIn)
	memory, mask := c.encode(ctx, source, sourceLengths)
	_, w := c.decode(ctx, memory, mask, targetIn, true)
	return w
}

// Encode returns the decoding state: the encoder's output `[batch, srcLen, ModelDim]`, the source
// lengths `[batch]` and the decoder input so far, Int32 `[batch, MaxTargetLen]`. Each [EncoderDecoder.Step]
// writes its token into the last and runs the decoder over it (causal: later slots do not matter),
// which costs MaxTargetLen positions per step and keeps the state a plain tensor that beam search
// can reorder.
func (c EncoderDecoder) Encode(ctx *context.Context, source, sourceLengths *graph.Node) []*graph.Node {
	c.checkInputs(source, sourceLengths, nil)
	memory, _ := c.encode(ctx, source, sourceLengths)
	prefix := graph.Zeros(source.Graph(), shapes.Make(dtypes.Int32, source.Shape().Dimensions[0], c.MaxTargetLen))
	return []*graph.Node{memory, graph.ConvertDType(sourceLengths, dtypes.Int32), prefix}
}

// Step is one decoding step (see [seq2seq.Model]): tokens `[batch]` at position (an Int32 scalar,
// below MaxTargetLen) give the logits `[batch, TargetVocabSize]`.
func (c EncoderDecoder) Step(ctx *context.Context, state []*graph.Node, tokens, position *graph.Node) (*graph.Node, []*graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err.Error())
	}
	if len(state) != 3 || tokens.Rank() != 1 || !position.IsScalar() {
		panic(fmt.Sprintf("transformer.EncoderDecoder.Step: state must be Encode's 3 tensors, tokens [batch] and position a scalar; got %d, %s, %s",
			len(state), tokens.Shape(), position.Shape()))
	}
	memory, lengths, prefix := state[0], state[1], state[2]
	g := tokens.Graph()
	batch := tokens.Shape().Dimensions[0]
	slots := graph.Iota(g, shapes.Make(dtypes.Int32, batch, c.MaxTargetLen), 1)
	here := graph.Equal(slots, graph.BroadcastToDims(graph.ConvertDType(position, dtypes.Int32), batch, c.MaxTargetLen))
	prefix = graph.Where(here, graph.BroadcastToDims(graph.InsertAxes(graph.ConvertDType(tokens, dtypes.Int32), -1), batch, c.MaxTargetLen), prefix)
	mask := graph.Reshape(seq2seq.SourceMask(lengths, memory.Shape().Dimensions[1]), batch, 1, 1, memory.Shape().Dimensions[1])
	x, _ := c.decode(ctx, memory, mask, prefix, false)
	// The row at position: [batch, tgt, dim] -> [batch, dim].
	x = graph.ReduceSum(graph.Where(graph.BroadcastToDims(graph.InsertAxes(here, -1), x.Shape().Dimensions...), x, graph.ZerosLike(x)), 1)
	return c.head(ctx, x), []*graph.Node{memory, lengths, prefix}
}
