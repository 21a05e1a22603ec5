// Package rnn is the sequential baseline: LSTM and GRU language models (embedding, stacked recurrent
// layers, linear head) behind the same interface as package transformer's model, so the two train
// through one entry point and benchmark side by side.
//
// Formulation: each layer computes the input-to-hidden projections of all time steps in one matmul,
// `[batch, seq, in] x [in, gates·hidden]`; only the hidden-to-hidden product runs inside the
// sequential loop, which is unrolled (GoMLX v0.26 has no While op), so a graph holds seq steps per
// layer. On GoMLX v0.26's pure-Go backend, [Config.Stepwise] moves the input projection into the
// loop instead (see there for why). Gates follow PyTorch's order and parameterisation (LSTM: i, f, g, o; GRU: r, z, n with
// n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn))), checked against torch.nn.LSTM and torch.nn.GRU.
//
// The weights that take part in one product per time step (weights_hh, and stepwise also
// weights_ih) get their gradient as one product over all the steps rather than the one small product
// per step, and their running sum, that autodiff of the unrolled loop builds (stepWeight): the same
// gradient, summed in another order, and a training step on the pure-Go backend runs faster for it
// (benchmarks/CPU-NOTES.md).
//
// An unrolled graph grows with the sequence (about 150,000 operations for a training step of the
// benchmark baselines at T=1024), and XLA's compile time grows faster than that. [ChunkedTrainer]
// trains on graphs of a fixed number of steps instead, with the same gradients ([Config.Forward]
// carries the states from one chunk to the next).
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
)

// Cell names the recurrent cell.
type Cell string

// Cells.
const (
	LSTM Cell = "lstm" // Hochreiter & Schmidhuber 1997, with a forget gate (Gers et al. 2000)
	GRU  Cell = "gru"  // Cho et al. 2014
)

// Config describes a recurrent language model.
type Config struct {
	// Cell is lstm or gru.
	Cell Cell
	// VocabSize is the number of token ids (256 for bytes).
	VocabSize int
	// EmbedDim is the width of the token embeddings, e.g. 128.
	EmbedDim int
	// HiddenDim is the width of each recurrent layer's state, e.g. 256.
	HiddenDim int
	// NumLayers is the number of stacked recurrent layers, e.g. 2.
	NumLayers int
	// DType is Float32 (default when zero) or Float64.
	DType dtypes.DType
	// Stepwise computes each step's input projection inside the loop instead of one matmul for all
	// steps. Same weights and values; use it on GoMLX v0.26's pure-Go backend, where taking step t
	// of the fused projection is a Slice whose gradient is a full-size tensor per step, all live at
	// once (an LSTM at T=1024 with 4096 tokens per step ran out of 24 GB there). [ForBackend] sets it.
	Stepwise bool
}

// ForBackend returns c with Stepwise set for a backend by name: on for the pure-Go backend ("go"),
// off (the fused projection) for XLA.
func (c Config) ForBackend(name string) Config {
	c.Stepwise = name == "go"
	return c
}

// Baseline returns the benchmark baseline for a cell: bytes, embedding 128 and 2 recurrent layers,
// sized to match transformer.Tiny's 875,264 parameters: LSTM 2 x 240 (912,384, +4.2%) and GRU 2 x 272
// (876,224, +0.1%). With 2 x 256 for both they would be 1,020,160 (+16.6%) and 789,760 (-9.8%),
// outside the 15% the benchmarks promise.
func Baseline(cell Cell) Config {
	hidden := 240
	if cell == GRU {
		hidden = 272
	}
	return Config{Cell: cell, VocabSize: 256, EmbedDim: 128, HiddenDim: hidden, NumLayers: 2, DType: dtypes.Float32}
}

func (c Config) gates() int {
	if c.Cell == GRU {
		return 3
	}
	return 4
}

func (c Config) dtype() dtypes.DType {
	if c.DType == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return c.DType
}

// Validate returns an error naming every bad value, or nil.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Cell != LSTM && c.Cell != GRU {
		add("Cell %q is not lstm or gru", c.Cell)
	}
	if c.VocabSize < 2 {
		add("VocabSize %d must be at least 2", c.VocabSize)
	}
	if c.EmbedDim < 1 {
		add("EmbedDim %d must be positive", c.EmbedDim)
	}
	if c.HiddenDim < 1 {
		add("HiddenDim %d must be positive", c.HiddenDim)
	}
	if c.NumLayers < 1 {
		add("NumLayers %d must be positive", c.NumLayers)
	}
	switch c.DType {
	case dtypes.InvalidDType, dtypes.Float32, dtypes.Float64:
	default:
		add("DType %s is not Float32 or Float64", c.DType)
	}
	if len(errs) > 0 {
		return fmt.Errorf("rnn.Config: %w", errors.Join(errs...))
	}
	return nil
}

// TrainingMemory estimates a training step's memory, as the lm.Model interface has it: 4 copies of
// every parameter (values, gradients, AdamW's two moments) and, per token, each layer's gates and
// states (about (gates + 4)·HiddenDim values), the embedding and the logits with their softmax and
// gradient (3·VocabSize), in DType.
func (c Config) TrainingMemory(batch, seqLen int) (state, activations float64) {
	size := float64(c.dtype().Size())
	perToken := float64(c.NumLayers)*float64(c.gates()+4)*float64(c.HiddenDim) + float64(c.EmbedDim) + 3*float64(c.VocabSize)
	return 4 * size * float64(c.NumParams()), size * float64(batch) * float64(seqLen) * perToken
}

// Vocab returns VocabSize, as the lm.Model interface has it.
func (c Config) Vocab() int { return c.VocabSize }

// NumParams counts the model's parameters: embeddings, per layer W_ih, W_hh and both biases
// (PyTorch's layout), and the head with its bias.
func (c Config) NumParams() int {
	return c.VocabSize*c.EmbedDim + c.NonEmbeddingParams()
}

// NonEmbeddingParams is NumParams less the embedding table.
func (c Config) NonEmbeddingParams() int {
	g, h := c.gates(), c.HiddenDim
	n := 0
	for l := range c.NumLayers {
		in := h
		if l == 0 {
			in = c.EmbedDim
		}
		n += g*h*in + g*h*h + 2*g*h
	}
	return n + h*c.VocabSize + c.VocabSize
}

// FLOPsPerToken estimates training FLOPs per token, 6N with N = NonEmbeddingParams (every weight
// takes part in one multiply-add per token, forward, and two backward). seqLen is unused: a
// recurrent network's cost per token does not grow with the sequence.
func (c Config) FLOPsPerToken(seqLen int) float64 { return 6 * float64(c.NonEmbeddingParams()) }

// Variable scope names (the checkpoint format).
const (
	TokenEmbeddingScope = "token_embeddings"
	HeadScope           = "head"
)

// LayerScope returns the scope of recurrent layer i, holding weights_ih `[in, gates·hidden]`,
// weights_hh `[hidden, gates·hidden]`, bias_ih and bias_hh `[gates·hidden]`.
func LayerScope(i int) string { return fmt.Sprintf("layer_%d", i) }

// Logits is the forward pass: tokens Int32 `[batch, seq]` to next-token logits
// `[batch, seq, VocabSize]`, from a zero initial state. It panics with the reason when cfg is
// invalid or tokens don't fit.
func (c Config) Logits(ctx *context.Context, tokens *graph.Node) *graph.Node {
	logits, _ := c.Forward(ctx, tokens, nil)
	return logits
}

// Forward is [Config.Logits] from given initial states: tokens Int32 `[batch, seq]` and the
// states before the first token (NumStates tensors `[batch, hidden]` in [Config.Step]'s order, or
// nil for zeros) give the logits `[batch, seq, VocabSize]` and the states after the last token, so
// a long sequence can run as consecutive chunks. It panics with the reason when cfg is invalid or
// the inputs don't fit.
func (c Config) Forward(ctx *context.Context, tokens *graph.Node, states []*graph.Node) (logits *graph.Node, final []*graph.Node) {
	x, final := c.recur(ctx, tokens, states)
	h := c.HiddenDim
	bound := 1 / math.Sqrt(float64(h))
	hctx := ctx.In(HeadScope).WithInitializer(initializers.RandomUniformFn(ctx, -bound, bound))
	w := hctx.VariableWithShape("weights", shapes.Make(c.dtype(), h, c.VocabSize)).ValueGraph(x.Graph())
	b := hctx.VariableWithShape("biases", shapes.Make(c.dtype(), c.VocabSize)).ValueGraph(x.Graph())
	return graph.Add(graph.DotGeneral(x, []int{2}, nil, w, []int{0}, nil), graph.ExpandLeftToRank(b, 3)), final
}

// recur runs the embedding and the recurrent layers: it returns the last layer's states at every
// position `[batch, seq, hidden]` and the final states in Step's order.
func (c Config) recur(ctx *context.Context, tokens *graph.Node, initial []*graph.Node) (x *graph.Node, final []*graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err.Error())
	}
	if tokens.Rank() != 2 || !tokens.DType().IsInt() {
		panic(fmt.Sprintf("rnn: tokens must be integer [batch, seq], got %s", tokens.Shape()))
	}
	g := tokens.Graph()
	dtype := c.dtype()
	batch, seq := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	h := c.HiddenDim
	gh := c.gates() * h
	stateShape := shapes.Make(dtype, batch, h)
	if initial != nil {
		if len(initial) != c.NumStates() {
			panic(fmt.Sprintf("rnn: %d initial states, want %d (NumStates) or none", len(initial), c.NumStates()))
		}
		for i, s := range initial {
			if !s.Shape().Equal(stateShape) {
				panic(fmt.Sprintf("rnn: initial state %d is %s, want %s", i, s.Shape(), stateShape))
			}
		}
	}
	// states[l], cells[l]: layer l's hidden state and (LSTM) memory cell before the first token.
	states := make([]*graph.Node, c.NumLayers)
	cells := make([]*graph.Node, c.NumLayers)
	for l := range states {
		if initial == nil {
			states[l] = graph.Zeros(g, stateShape)
			cells[l] = states[l]
			continue
		}
		states[l], cells[l] = initial[l], initial[l]
		if c.Cell == LSTM {
			cells[l] = initial[c.NumLayers+l]
		}
	}
	emb := ctx.In(TokenEmbeddingScope).WithInitializer(initializers.RandomNormalFn(ctx, 1)).
		VariableWithShape("embeddings", shapes.Make(dtype, c.VocabSize, c.EmbedDim)).ValueGraph(g)
	type weights struct{ wih, whh, bih, bhh *graph.Node }
	layers := make([]weights, c.NumLayers)
	for l := range layers {
		in := h
		if l == 0 {
			in = c.EmbedDim
		}
		w := &layers[l]
		w.wih, w.whh, w.bih, w.bhh = layerWeights(ctx.In(LayerScope(l)), g, dtype, in, h, c.gates())
	}
	ids := graph.ConvertDType(tokens, dtypes.Int32)
	// The hidden-to-hidden weights (and, stepwise, the input weights) take part in one product per
	// time step; their gradients are each one product over all steps (see stepWeight).
	whh := make([]*stepWeight, len(layers))
	for l, w := range layers {
		whh[l] = newStepWeight(w.whh, seq)
		states[l] = whh[l].anchor(states[l])
	}
	if c.Stepwise {
		wih := make([]*stepWeight, len(layers))
		for l, w := range layers {
			wih[l] = newStepWeight(w.wih, seq)
			states[l] = wih[l].anchor(states[l])
		}
		outs := make([]*graph.Node, seq)
		for t := range seq {
			// Token ids are data: slicing them has no gradient. The lookup's gradient is [vocab, embed].
			idt := graph.Slice(ids, graph.AxisRange(), graph.AxisElem(t)) // [batch, 1]
			xt := graph.Gather(emb, idt)                                  // [batch, embed]
			for l, w := range layers {
				proj := graph.Add(wih[l].product(t, xt), graph.ExpandLeftToRank(w.bih, 2))
				states[l], cells[l] = c.cell(proj, states[l], cells[l], whh[l].product(t, states[l]), w.bhh)
				xt = states[l]
			}
			outs[t] = graph.InsertAxes(xt, 1)
		}
		x = graph.Concatenate(outs, 1)
	} else {
		x = graph.Gather(emb, graph.InsertAxes(ids, -1)) // [batch, seq, embed]
		for l, w := range layers {
			// All time steps' input projections in one matmul: [batch, seq, gates·hidden].
			xp := graph.Add(graph.DotGeneral(x, []int{2}, nil, w.wih, []int{0}, nil), graph.ExpandLeftToRank(w.bih, 3))
			outs := make([]*graph.Node, seq)
			for t := range seq {
				xt := graph.Reshape(graph.Slice(xp, graph.AxisRange(), graph.AxisElem(t), graph.AxisRange()), batch, gh)
				states[l], cells[l] = c.cell(xt, states[l], cells[l], whh[l].product(t, states[l]), w.bhh)
				outs[t] = graph.InsertAxes(states[l], 1)
			}
			x = graph.Concatenate(outs, 1) // [batch, seq, hidden]
		}
	}
	final = states
	if c.Cell == LSTM {
		final = append(final, cells...) // Memory cells after all hidden states, as Step.
	}
	return x, final
}

// layerWeights creates or reads one recurrent layer's variables in ctx: weights_ih `[in, gates·hidden]`,
// weights_hh `[hidden, gates·hidden]`, bias_ih and bias_hh `[gates·hidden]`, PyTorch's
// U(-1/√hidden, 1/√hidden) initialisation.
func layerWeights(ctx *context.Context, g *graph.Graph, dtype dtypes.DType, in, hidden, gates int) (wih, whh, bih, bhh *graph.Node) {
	bound := 1 / math.Sqrt(float64(hidden))
	ctx = ctx.WithInitializer(initializers.RandomUniformFn(ctx, -bound, bound))
	gh := gates * hidden
	return ctx.VariableWithShape("weights_ih", shapes.Make(dtype, in, gh)).ValueGraph(g),
		ctx.VariableWithShape("weights_hh", shapes.Make(dtype, hidden, gh)).ValueGraph(g),
		ctx.VariableWithShape("bias_ih", shapes.Make(dtype, gh)).ValueGraph(g),
		ctx.VariableWithShape("bias_hh", shapes.Make(dtype, gh)).ValueGraph(g)
}

// stepWeight is a weight that takes part in one product per time step of an unrolled loop. Autodiff
// of the loop would give it one small gradient product per step (contracting over the batch alone)
// and a running sum of them; instead the steps use the weight without a gradient, and the weight's
// gradient is one product over all steps, Σ_t in_tᵀ·d(in_t·w) = [in_1; …; in_T]ᵀ·[d_1; …; d_T],
// from the steps' operands and the gradients autodiff brings to each step's product.
//
// GoMLX v0.26 differentiates nodes in reverse order of creation, so the gradient function of a
// node made before the loop runs after those of all the steps: it is the weight's identity with a
// custom gradient, joined to the loss by anchor as a zero (an element times 0) added to a state
// before the first step. The steps' gradient functions record their gradients on the way.
type stepWeight struct {
	w     *graph.Node   // the weight without a gradient, for the steps' products
	ins   []*graph.Node // each step's left operand [batch, in]
	grads []*graph.Node // the gradient of each step's product [batch, out], recorded by autodiff
	zero  *graph.Node   // a scalar 0 whose gradient path carries the weight's gradient
}

func newStepWeight(w *graph.Node, steps int) *stepWeight {
	s := &stepWeight{w: graph.StopGradient(w), ins: make([]*graph.Node, steps), grads: make([]*graph.Node, steps)}
	y := graph.IdentityWithCustomGradient(w, func(x, _ *graph.Node) *graph.Node {
		var ins, grads []*graph.Node
		for t, g := range s.grads {
			if g != nil { // a step whose product no gradient reached adds nothing
				ins, grads = append(ins, s.ins[t]), append(grads, g)
			}
		}
		if len(ins) == 0 {
			return graph.ZerosLike(x)
		}
		return graph.DotGeneral(graph.Concatenate(ins, 0), []int{0}, nil, graph.Concatenate(grads, 0), []int{0}, nil)
	})
	// One element times 0: exactly 0 for any finite weight (a sum of them could overflow to Inf).
	s.zero = graph.Reshape(graph.MulScalar(graph.Slice(y, graph.AxisElem(0), graph.AxisElem(0)), 0))
	return s
}

// anchor returns x plus the weight's zero, which puts the weight's gradient function on the loss's path.
func (s *stepWeight) anchor(x *graph.Node) *graph.Node { return graph.Add(x, s.zero) }

// product returns in·w for step t `[batch, out]`, recording in and, during autodiff, its gradient.
func (s *stepWeight) product(t int, in *graph.Node) *graph.Node {
	s.ins[t] = in
	p := graph.DotGeneral(in, []int{1}, nil, s.w, []int{0}, nil)
	return graph.IdentityWithCustomGradient(p, func(_, v *graph.Node) *graph.Node {
		s.grads[t] = v
		return v
	})
}

// cell advances one time step: xt is the input projection (with bias_ih) `[batch, gates·hidden]`,
// state and cell `[batch, hidden]` (cell is the LSTM's memory; unused by the GRU), statew the
// hidden-to-hidden product state·weights_hh.
func (c Config) cell(xt, state, cell, statew, bhh *graph.Node) (newState, newCell *graph.Node) {
	h := c.HiddenDim
	hp := graph.Add(statew, graph.ExpandLeftToRank(bhh, 2))
	gate := func(n *graph.Node, k int) *graph.Node {
		return graph.Slice(n, graph.AxisRange(), graph.AxisRange(k*h, (k+1)*h))
	}
	if c.Cell == GRU {
		r := graph.Sigmoid(graph.Add(gate(xt, 0), gate(hp, 0)))
		z := graph.Sigmoid(graph.Add(gate(xt, 1), gate(hp, 1)))
		n := graph.Tanh(graph.Add(gate(xt, 2), graph.Mul(r, gate(hp, 2))))
		return graph.Add(graph.Mul(graph.OneMinus(z), n), graph.Mul(z, state)), cell
	}
	zs := graph.Add(xt, hp)
	i, f := graph.Sigmoid(gate(zs, 0)), graph.Sigmoid(gate(zs, 1))
	g, o := graph.Tanh(gate(zs, 2)), graph.Sigmoid(gate(zs, 3))
	cell = graph.Add(graph.Mul(f, cell), graph.Mul(i, g))
	return graph.Mul(o, graph.Tanh(cell)), cell
}

// NumStates is the number of state tensors [Config.Step] carries: per layer the hidden state, and
// for the LSTM also the memory cell.
func (c Config) NumStates() int {
	if c.Cell == LSTM {
		return 2 * c.NumLayers
	}
	return c.NumLayers
}

// Step is one step of incremental decoding: tokens Int32 `[batch]` and the states from the
// previous step (NumStates tensors `[batch, hidden]`, zeros at the start) give the next-token
// logits `[batch, VocabSize]` and the new states. The variables must exist (built by Logits or
// loaded); Step runs the same weights as Logits, one time step at a time.
func (c Config) Step(ctx *context.Context, tokens *graph.Node, states []*graph.Node) (logits *graph.Node, newStates []*graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err.Error())
	}
	if tokens.Rank() != 1 || len(states) != c.NumStates() {
		panic(fmt.Sprintf("rnn.Step: tokens must be [batch] and states %d tensors, got %s and %d", c.NumStates(), tokens.Shape(), len(states)))
	}
	g := tokens.Graph()
	ctx = ctx.Reuse()
	emb := ctx.In(TokenEmbeddingScope).GetVariable("embeddings").ValueGraph(g)
	x := graph.Gather(emb, graph.InsertAxes(graph.ConvertDType(tokens, dtypes.Int32), -1)) // [batch, embed]
	var cells []*graph.Node
	for l := range c.NumLayers {
		lctx := ctx.In(LayerScope(l))
		v := func(name string) *graph.Node { return lctx.GetVariable(name).ValueGraph(g) }
		xt := graph.Add(graph.DotGeneral(x, []int{1}, nil, v("weights_ih"), []int{0}, nil), graph.ExpandLeftToRank(v("bias_ih"), 2))
		state, cell := states[l], states[l]
		if c.Cell == LSTM {
			cell = states[c.NumLayers+l]
		}
		state, cell = c.cell(xt, state, cell, graph.DotGeneral(state, []int{1}, nil, v("weights_hh"), []int{0}, nil), v("bias_hh"))
		newStates = append(newStates, state)
		cells = append(cells, cell)
		x = state
	}
	if c.Cell == LSTM {
		newStates = append(newStates, cells...) // Memory cells after all hidden states.
	}
	hctx := ctx.In(HeadScope)
	logits = graph.Add(graph.DotGeneral(x, []int{1}, nil, hctx.GetVariable("weights").ValueGraph(g), []int{0}, nil),
		graph.ExpandLeftToRank(hctx.GetVariable("biases").ValueGraph(g), 2))
	return logits, newStates
}
