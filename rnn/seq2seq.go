package rnn

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/linear"
	"github.com/bitterlesson/bitter/seq2seq"
)

// Seq2Seq describes the attention model of Bahdanau, Cho & Bengio (2014), "Neural Machine
// Translation by Jointly Learning to Align and Translate": a bidirectional recurrent encoder whose
// forward and backward states, concatenated, are the annotations h_j `[2·HiddenDim]` of the source
// tokens, and a recurrent decoder that at step i attends to them with additive attention from its
// previous state s_{i-1} ([attention.AdditiveAttend]), reads the context c_i with the previous token's
// embedding, s_i = cell([E y_{i-1}; c_i], s_{i-1}), and predicts y_i by a linear layer over
// [s_i; c_i; E y_{i-1}] (the paper's deep output without its maxout). The decoder starts at
// s_0 = tanh(W_init [h→_last; h←_first] + b) (its memory cell, for an LSTM, at zero).
// It implements [seq2seq.Model]; [Seq2Seq.Validate] names any bad value.
type Seq2Seq struct {
	// Cell is lstm or gru, for the encoder and the decoder.
	Cell Cell
	// SourceVocabSize and TargetVocabSize are the numbers of source and target token ids.
	SourceVocabSize, TargetVocabSize int
	// MaxSourceLen is the longest source; MaxTargetLen the longest decoder sequence (a target and
	// its EOS). A recurrent network has no position table: they bound what the graphs are built for.
	MaxSourceLen, MaxTargetLen int
	// EmbedDim is the width of the source and target embeddings, e.g. 64.
	EmbedDim int
	// HiddenDim is the width of each direction's state of each encoder layer, e.g. 128.
	HiddenDim int
	// EncoderLayers is the number of stacked bidirectional layers; each above the first reads both
	// directions' states of the one below (as torch.nn.LSTM with bidirectional=True).
	EncoderLayers int
	// DecoderDim is the width of the decoder's state, e.g. 256.
	DecoderDim int
	// AttentionDim is the width of the additive attention's hidden layer (units), e.g. 128.
	AttentionDim int
	// DType is Float32 (default when zero) or Float64.
	DType dtypes.DType
}

var _ seq2seq.Model = Seq2Seq{}

// Scopes of Seq2Seq's variables (the checkpoint format): EncoderScope holds TokenEmbeddingScope and,
// per layer, LayerScope(i) and ReverseLayerScope(i) (weights_ih, weights_hh, bias_ih, bias_hh, as
// [Config]'s layers); DecoderScope holds TokenEmbeddingScope, InitScope (weights
// `[2·HiddenDim, DecoderDim]`, biases), AttentionScope ([attention.Additive]'s variables) and
// CellScope (the decoder's recurrent weights); HeadScope, at the top, the output layer.
const (
	EncoderScope   = "encoder"
	DecoderScope   = "decoder"
	InitScope      = "init"
	AttentionScope = "attention"
	CellScope      = "cell"
)

// ReverseLayerScope returns the scope of the backward direction of bidirectional layer i.
func ReverseLayerScope(i int) string { return fmt.Sprintf("layer_%d_reverse", i) }

// SmallSeq2Seq is a CPU-sized attention model of the given cell: embeddings 64, one bidirectional layer of
// 2 x 128, a decoder of 256 with attention 128, sources and targets of up to 64 tokens. Set the
// vocabularies.
func SmallSeq2Seq(cell Cell, sourceVocab, targetVocab int) Seq2Seq {
	return Seq2Seq{Cell: cell, SourceVocabSize: sourceVocab, TargetVocabSize: targetVocab, MaxSourceLen: 64, MaxTargetLen: 65,
		EmbedDim: 64, HiddenDim: 128, EncoderLayers: 1, DecoderDim: 256, AttentionDim: 128, DType: dtypes.Float32}
}

// Validate returns an error naming every bad value, or nil.
func (c Seq2Seq) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Cell != LSTM && c.Cell != GRU {
		add("Cell %q is not lstm or gru", c.Cell)
	}
	if c.SourceVocabSize < 2 {
		add("SourceVocabSize %d must be at least 2", c.SourceVocabSize)
	}
	if c.TargetVocabSize < 3 {
		add("TargetVocabSize %d must be at least 3 (a token, BOS and EOS)", c.TargetVocabSize)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxSourceLen", c.MaxSourceLen}, {"MaxTargetLen", c.MaxTargetLen}, {"EmbedDim", c.EmbedDim}, {"HiddenDim", c.HiddenDim},
		{"EncoderLayers", c.EncoderLayers}, {"DecoderDim", c.DecoderDim}, {"AttentionDim", c.AttentionDim}} {
		if f.v < 1 {
			add("%s %d must be positive", f.name, f.v)
		}
	}
	switch c.DType {
	case dtypes.InvalidDType, dtypes.Float32, dtypes.Float64:
	default:
		add("DType %s is not Float32 or Float64", c.DType)
	}
	if len(errs) > 0 {
		return fmt.Errorf("rnn.Seq2Seq: %w", errors.Join(errs...))
	}
	return nil
}

func (c Seq2Seq) dtype() dtypes.DType { return Config{DType: c.DType}.dtype() }

func (c Seq2Seq) gates() int { return Config{Cell: c.Cell}.gates() }

// Vocabs returns the source and target vocabulary sizes.
func (c Seq2Seq) Vocabs() (source, target int) { return c.SourceVocabSize, c.TargetVocabSize }

// MaxLens returns MaxSourceLen and MaxTargetLen.
func (c Seq2Seq) MaxLens() (source, target int) { return c.MaxSourceLen, c.MaxTargetLen }

// decoderIn is the width of the decoder cell's input [E y; c], outIn the head's [s; c; E y].
func (c Seq2Seq) decoderIn() int { return c.EmbedDim + 2*c.HiddenDim }
func (c Seq2Seq) outIn() int     { return c.DecoderDim + 2*c.HiddenDim + c.EmbedDim }

// NumParams counts the parameters: both embedding tables, the encoder's layers (two directions,
// PyTorch's layout with both biases), the decoder's initial-state layer, attention, cell and head.
func (c Seq2Seq) NumParams() int {
	g, h, d, a := c.gates(), c.HiddenDim, c.DecoderDim, c.AttentionDim
	n := (c.SourceVocabSize + c.TargetVocabSize) * c.EmbedDim
	for l := range c.EncoderLayers {
		in := 2 * h
		if l == 0 {
			in = c.EmbedDim
		}
		n += 2 * (g*h*in + g*h*h + 2*g*h)
	}
	n += 2*h*d + d                         // init
	n += d*a + 2*h*a + a + a               // attention: W, U, b, v
	n += g*d*c.decoderIn() + g*d*d + 2*g*d // cell
	return n + c.outIn()*c.TargetVocabSize + c.TargetVocabSize
}

// TrainingFLOPs estimates the training FLOPs of one pair of srcLen source and tgtLen target
// positions: 6 per multiply-add of a weight with a token (each encoder direction and layer and the
// attention's key projection per source token; the decoder's cell, attention query and head per
// target token; the initial state per pair), and 6 per source position per target step for the
// attention's scores and context (AttentionDim + 2·HiddenDim multiply-adds).
func (c Seq2Seq) TrainingFLOPs(srcLen, tgtLen int) float64 {
	g, h, d, a := float64(c.gates()), float64(c.HiddenDim), float64(c.DecoderDim), float64(c.AttentionDim)
	s, t := float64(srcLen), float64(tgtLen)
	enc := 0.0
	for l := range c.EncoderLayers {
		in := 2 * h
		if l == 0 {
			in = float64(c.EmbedDim)
		}
		enc += 2 * (g*h*in + g*h*h)
	}
	perTarget := g*d*float64(c.decoderIn()) + g*d*d + d*a + float64(c.outIn()*c.TargetVocabSize) + s*(a+2*h)
	return 6 * (enc*s + 2*h*a*s + 2*h*d + perTarget*t)
}

// unidirectional runs one recurrent layer, its variables in ctx, over x `[batch, seq, in]` from zero
// states and returns its states at every position `[batch, seq, hidden]`.
func unidirectional(ctx *context.Context, cell Cell, hidden int, x *graph.Node) *graph.Node {
	g := x.Graph()
	batch, seq, in := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2]
	c := Config{Cell: cell, HiddenDim: hidden}
	gh := c.gates() * hidden
	wih, whh, bih, bhh := layerWeights(ctx, g, x.DType(), in, hidden, c.gates())
	xp := graph.Add(graph.DotGeneral(x, []int{2}, nil, wih, []int{0}, nil), graph.ExpandLeftToRank(bih, 3))
	sw := newStepWeight(whh, seq)
	state := sw.anchor(graph.Zeros(g, shapes.Make(x.DType(), batch, hidden)))
	mem := state
	outs := make([]*graph.Node, seq)
	for t := range seq {
		xt := graph.Reshape(graph.Slice(xp, graph.AxisRange(), graph.AxisElem(t), graph.AxisRange()), batch, gh)
		state, mem = c.cell(xt, state, mem, sw.product(t, state), bhh)
		outs[t] = graph.InsertAxes(state, 1)
	}
	return graph.Concatenate(outs, 1)
}

// Bidirectional runs a stack of layers bidirectional recurrent layers of the given cell over x
// `[batch, seq, in]`, whose rows hold lengths Int32 `[batch]` real positions (at least 1 each)
// followed by padding. The backward direction reads each row from its last real position back to
// its first, as PyTorch's packed sequences do, so padding never reaches a state. It returns the
// top layer's states `[batch, seq, 2·hidden]`, forward then backward (zero at padding positions, as
// torch.nn.utils.rnn.pad_packed_sequence), and the final states `[batch, 2·hidden]`: the
// forward direction's at the last real position and the backward direction's at the first.
// Variables: LayerScope(l) and ReverseLayerScope(l) in ctx, as [Config]'s layers. It panics with
// the shapes when they don't fit.
func Bidirectional(ctx *context.Context, cell Cell, hidden, layers int, x, lengths *graph.Node) (outputs, final *graph.Node) {
	if x.Rank() != 3 || lengths.Rank() != 1 || !lengths.DType().IsInt() || lengths.Shape().Dimensions[0] != x.Shape().Dimensions[0] ||
		hidden < 1 || layers < 1 || (cell != LSTM && cell != GRU) {
		panic(fmt.Sprintf("rnn.Bidirectional: x must be [batch, seq, in], lengths integer [batch], hidden and layers positive, cell lstm or gru; got %s, %s, %d, %d, %q",
			x.Shape(), lengths.Shape(), hidden, layers, cell))
	}
	g := x.Graph()
	batch, seq := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	lens := graph.BroadcastToDims(graph.InsertAxes(graph.ConvertDType(lengths, dtypes.Int32), -1), batch, seq)
	pos := graph.Iota(g, shapes.Make(dtypes.Int32, batch, seq), 1)
	real := graph.LessThan(pos, lens)
	// rev[b, t] = lengths[b]-1-t within the row's length, t beyond it: reversing within lengths, its own inverse.
	rev := graph.Where(real, graph.Sub(graph.AddScalar(lens, -1), pos), pos)
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, batch, seq), 0)
	revIdx := graph.Concatenate([]*graph.Node{graph.InsertAxes(rows, -1), graph.InsertAxes(rev, -1)}, -1) // [batch, seq, 2]
	realF := graph.ConvertDType(graph.InsertAxes(real, -1), x.DType())
	for l := range layers {
		fwd := unidirectional(ctx.In(LayerScope(l)), cell, hidden, x)
		bwd := graph.Gather(unidirectional(ctx.In(ReverseLayerScope(l)), cell, hidden, graph.Gather(x, revIdx)), revIdx)
		x = graph.Mul(graph.Concatenate([]*graph.Node{fwd, bwd}, -1), realF)
	}
	// The forward state at lengths-1, the backward one at 0.
	last := graph.Concatenate([]*graph.Node{graph.InsertAxes(graph.Iota(g, shapes.Make(dtypes.Int32, batch), 0), -1),
		graph.InsertAxes(graph.AddScalar(graph.ConvertDType(lengths, dtypes.Int32), -1), -1)}, -1) // [batch, 2]
	fwdLast := graph.Slice(graph.Gather(x, last), graph.AxisRange(), graph.AxisRange(0, hidden))
	bwdFirst := graph.Slice(x, graph.AxisRange(), graph.AxisElem(0), graph.AxisRange(hidden, 2*hidden))
	return x, graph.Concatenate([]*graph.Node{fwdLast, graph.Reshape(bwdFirst, batch, hidden)}, -1)
}

// checkInputs validates c and the shapes, panicking with the reason.
func (c Seq2Seq) checkInputs(source, sourceLengths, targetIn *graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err.Error())
	}
	seq2seq.CheckShapes("rnn.Seq2Seq", seq2seq.LimitsOf(c), source, sourceLengths, targetIn)
}

// embed looks tokens `[batch, ...]` up in the table of ctx's TokenEmbeddingScope (N(0, 1), as
// torch.nn.Embedding).
func (c Seq2Seq) embed(ctx *context.Context, tokens *graph.Node, vocab int) *graph.Node {
	table := ctx.In(TokenEmbeddingScope).WithInitializer(initializers.RandomNormalFn(ctx, 1)).
		VariableWithShape("embeddings", shapes.Make(c.dtype(), vocab, c.EmbedDim)).ValueGraph(tokens.Graph())
	return graph.Gather(table, graph.InsertAxes(graph.ConvertDType(tokens, dtypes.Int32), -1))
}

// dense is a linear layer with PyTorch's initialisation U(±1/√in).
func dense(ctx *context.Context, x *graph.Node, out int, bias bool) *graph.Node {
	bound := 1 / math.Sqrt(float64(x.Shape().Dimensions[x.Rank()-1]))
	return linear.Dense(ctx.WithInitializer(initializers.RandomUniformFn(ctx, -bound, bound)), x, out, bias, x.DType())
}

// Encode returns the decoding state: the annotations `[batch, srcLen, 2·HiddenDim]`, their attention
// keys `[batch, srcLen, AttentionDim]`, the source lengths `[batch]` and the decoder's initial state
// `[batch, DecoderDim]` (and, for an LSTM, its memory cell).
func (c Seq2Seq) Encode(ctx *context.Context, source, sourceLengths *graph.Node) []*graph.Node {
	c.checkInputs(source, sourceLengths, nil)
	ectx, dctx := ctx.In(EncoderScope), ctx.In(DecoderScope)
	annotations, final := Bidirectional(ectx, c.Cell, c.HiddenDim, c.EncoderLayers, c.embed(ectx, source, c.SourceVocabSize), sourceLengths)
	keys := attention.AdditiveKeys(c.attentionCtx(dctx), annotations, c.AttentionDim)
	s0 := graph.Tanh(dense(dctx.In(InitScope), final, c.DecoderDim, true))
	state := []*graph.Node{annotations, keys, graph.ConvertDType(sourceLengths, dtypes.Int32), s0}
	if c.Cell == LSTM {
		state = append(state, graph.ZerosLike(s0))
	}
	return state
}

// attentionCtx is the attention's scope, with PyTorch-like initialisation of its matrices and a
// N(0, 1/AttentionDim) score vector.
func (c Seq2Seq) attentionCtx(dctx *context.Context) *context.Context {
	bound := 1 / math.Sqrt(float64(c.AttentionDim))
	return dctx.In(AttentionScope).WithInitializer(initializers.RandomUniformFn(dctx, -bound, bound))
}

// decoderStep is one decoder step from the state after Encode or a previous step, reading emb
// `[batch, EmbedDim]` (the previous token's embedding), with mask the state's source mask
// (seq2seq.SourceMask of its lengths: built once for all the steps of a graph); dctx is the
// decoder's scope, reusing its variables after the first step. It returns the head's input
// [s; c; E y], the attention weights and the new state.
func (c Seq2Seq) decoderStep(dctx *context.Context, state []*graph.Node, mask, emb *graph.Node) (out, weights *graph.Node, next []*graph.Node) {
	annotations, keys, lengths, s := state[0], state[1], state[2], state[3]
	mem := s
	if c.Cell == LSTM {
		mem = state[4]
	}
	ctxVec, weights := attention.AdditiveAttend(c.attentionCtx(dctx), s, annotations, keys, mask)
	in := graph.Concatenate([]*graph.Node{emb, ctxVec}, -1)
	wih, whh, bih, bhh := layerWeights(dctx.In(CellScope), s.Graph(), c.dtype(), c.decoderIn(), c.DecoderDim, c.gates())
	xt := graph.Add(graph.DotGeneral(in, []int{1}, nil, wih, []int{0}, nil), graph.ExpandLeftToRank(bih, 2))
	cfg := Config{Cell: c.Cell, HiddenDim: c.DecoderDim}
	s, mem = cfg.cell(xt, s, mem, graph.DotGeneral(s, []int{1}, nil, whh, []int{0}, nil), bhh)
	next = []*graph.Node{annotations, keys, lengths, s}
	if c.Cell == LSTM {
		next = append(next, mem)
	}
	return graph.Concatenate([]*graph.Node{s, ctxVec, emb}, -1), weights, next
}

// head maps [s; c; E y] `[..., outIn]` to target logits.
func (c Seq2Seq) head(ctx *context.Context, x *graph.Node) *graph.Node {
	return dense(ctx.In(HeadScope), x, c.TargetVocabSize, true)
}

// teacherForced runs the decoder over targetIn and returns the head's inputs `[batch, tgtLen, outIn]`
// and the attention weights `[batch, tgtLen, srcLen]`.
func (c Seq2Seq) teacherForced(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) (outs, weights *graph.Node) {
	state := c.Encode(ctx, source, sourceLengths)
	dctx := ctx.In(DecoderScope)
	emb := c.embed(dctx, targetIn, c.TargetVocabSize) // [batch, tgtLen, EmbedDim]
	batch, tgtLen := targetIn.Shape().Dimensions[0], targetIn.Shape().Dimensions[1]
	mask := seq2seq.SourceMask(sourceLengths, source.Shape().Dimensions[1])
	os, ws := make([]*graph.Node, tgtLen), make([]*graph.Node, tgtLen)
	for t := range tgtLen {
		et := graph.Reshape(graph.Slice(emb, graph.AxisRange(), graph.AxisElem(t), graph.AxisRange()), batch, c.EmbedDim)
		var o, w *graph.Node
		o, w, state = c.decoderStep(dctx, state, mask, et)
		os[t], ws[t] = graph.InsertAxes(o, 1), graph.InsertAxes(w, 1)
		dctx = dctx.Reuse()
	}
	return graph.Concatenate(os, 1), graph.Concatenate(ws, 1)
}

// Logits is the teacher-forced forward pass (see [seq2seq.Model]). It panics with the reason when c
// is invalid or the inputs don't fit.
func (c Seq2Seq) Logits(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) *graph.Node {
	c.checkInputs(source, sourceLengths, targetIn)
	outs, _ := c.teacherForced(ctx, source, sourceLengths, targetIn)
	return c.head(ctx, outs)
}

// Alignment is the decoder's additive attention weights at each step, `[batch, tgtLen, srcLen]`.
func (c Seq2Seq) Alignment(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) *graph.Node {
	c.checkInputs(source, sourceLengths, targetIn)
	_, w := c.teacherForced(ctx, source, sourceLengths, targetIn)
	return w
}

// Step is one decoding step (see [seq2seq.Model]); position is unused: the state carries the past.
func (c Seq2Seq) Step(ctx *context.Context, state []*graph.Node, tokens, position *graph.Node) (*graph.Node, []*graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err.Error())
	}
	want := 4
	if c.Cell == LSTM {
		want = 5
	}
	if len(state) != want || tokens.Rank() != 1 {
		panic(fmt.Sprintf("rnn.Seq2Seq.Step: state must be Encode's %d tensors and tokens [batch]; got %d and %s", want, len(state), tokens.Shape()))
	}
	dctx := ctx.In(DecoderScope)
	mask := seq2seq.SourceMask(state[2], state[0].Shape().Dimensions[1])
	out, _, next := c.decoderStep(dctx, state, mask, c.embed(dctx, tokens, c.TargetVocabSize))
	return c.head(ctx, out), next
}
