package rnn

import (
	"errors"
	"fmt"

	"github.com/bitterlesson/bitter/lm"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train"
)

// ChunkScope is the scope, under the trainer's context, of [ChunkedTrainer]'s gradient and loss
// accumulators (zero between steps).
const ChunkScope = "rnn_chunked"

// ChunkedTrainer trains a recurrent model with exact backpropagation through time over sequences
// cut into chunks of Chunk steps, so that its compiled graphs hold Chunk steps, not the whole
// sequence.
//
// GoMLX v0.26 has no While op: [Config.Logits] unrolls every time step into the graph, so a
// training graph at T=1024 holds about 150,000 operations for the 0.9M-parameter baselines, and
// XLA's compile time grows faster than linearly in that (jax-ml/jax#2777; JAX's answer is scan). The
// chunked trainer is the scan done from Go: a forward pass runs chunk after chunk, keeping only the
// states at chunk boundaries; the backward pass goes through the chunks in reverse, each one
// recomputing its forward from its first state (gradient checkpointing, Chen et al. 2016) and
// taking the gradient of the state it hands on from the chunk after it. The gradients are those of
// the unrolled graph (tested against it), for one more forward pass of the recurrent layers.
type ChunkedTrainer struct {
	cfg   Config
	chunk int
	ctx   *context.Context
	opt   train.OptimizeWithGradients

	fwd, bwd, apply, eval *context.Exec
	vars                  []*context.Variable // the model's trainable variables, in the context's order
	pending               int                 // Backward calls since the last Apply
}

// NewChunkedTrainer returns a trainer for cfg's model in ctx with chunks of chunk time steps and the
// given optimizer (optim.Optimizer is one). It reuses the model's variables found in ctx (a loaded
// checkpoint, say) and creates the others as [Config.Logits] would, in the same order from ctx's
// random state, so a seeded run starts where train.Trainer's would.
func NewChunkedTrainer(b backends.Backend, ctx *context.Context, cfg Config, opt train.OptimizeWithGradients, chunk int) (*ChunkedTrainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if chunk < 1 {
		return nil, fmt.Errorf("rnn.NewChunkedTrainer: chunk %d must be positive", chunk)
	}
	if opt == nil || b == nil || ctx == nil {
		return nil, errors.New("rnn.NewChunkedTrainer: backend, context and optimizer are required")
	}
	t := &ChunkedTrainer{cfg: cfg, chunk: chunk, ctx: ctx, opt: opt}
	// Create and initialise every variable, as Logits does, before any chunk runs; record the
	// trainable ones the model uses.
	initExec, err := context.NewExec(b, ctx.Checked(false), func(ctx *context.Context, tokens *graph.Node) *graph.Node {
		g := tokens.Graph()
		out := graph.ReduceAllSum(cfg.Logits(ctx, tokens))
		t.vars = t.vars[:0]
		for v := range ctx.IterVariables() {
			if v.Trainable && v.InUseByGraph(g) {
				t.vars = append(t.vars, v)
			}
		}
		return out
	})
	if err != nil {
		return nil, err
	}
	if err := catch(func() error {
		_, err := initExec.Exec(tensors.FromValue([][]int32{{0}}))
		return err
	}); err != nil {
		return nil, fmt.Errorf("rnn.NewChunkedTrainer: creating the model's variables: %w", err)
	}
	if t.fwd, err = context.NewExec(b, ctx.Reuse(), t.forwardGraph); err != nil {
		return nil, err
	}
	if t.bwd, err = context.NewExec(b, ctx.Reuse(), t.backwardGraph); err != nil {
		return nil, err
	}
	if t.apply, err = context.NewExec(b, ctx.Reuse(), t.applyGraph); err != nil {
		return nil, err
	}
	if t.eval, err = context.NewExec(b, ctx.Reuse(), t.evalGraph); err != nil {
		return nil, err
	}
	return t, nil
}

// Chunk is the number of time steps per chunk.
func (t *ChunkedTrainer) Chunk() int { return t.chunk }

// forwardGraph: inputs tokens `[batch, chunk]` then the states; outputs the states after the chunk.
func (t *ChunkedTrainer) forwardGraph(ctx *context.Context, in []*graph.Node) []*graph.Node {
	_, final := t.cfg.recur(ctx, in[0], in[1:])
	return final
}

// backwardGraph: inputs tokens and labels `[batch, chunk]`, weight (the chunk's share of the
// sequence, chunk/seq, as a scalar of the model's dtype), the states before the chunk and the
// gradient of the loss with respect to the states after it; outputs the gradient with respect to
// the states before it. The gradients of the variables and the loss are added to accumulators.
func (t *ChunkedTrainer) backwardGraph(ctx *context.Context, in []*graph.Node) []*graph.Node {
	n := t.cfg.NumStates()
	tokens, labels, weight := in[0], in[1], in[2]
	states, dFinal := in[3:3+n], in[3+n:3+2*n]
	g := tokens.Graph()
	ctx.SetTraining(g, true)
	logits, final := t.cfg.Forward(ctx, tokens, states)
	loss := graph.Mul(lm.Loss(logits, labels), graph.ConvertDType(weight, logits.DType()))
	// The objective whose gradient is the chunk's share of dLoss: its own loss, plus the later
	// chunks' loss through the states it hands on (dFinal is a constant here).
	objective := loss
	for i, s := range final {
		objective = graph.Add(objective, graph.ReduceAllSum(graph.Mul(s, dFinal[i])))
	}
	vars, accs := t.trainable(ctx)
	wrt := make([]*graph.Node, 0, len(vars)+n)
	for _, v := range vars {
		wrt = append(wrt, v.ValueGraph(g))
	}
	wrt = append(wrt, states...)
	grads := graph.Gradient(objective, wrt...)
	for i, acc := range accs {
		acc.SetValueGraph(graph.Add(acc.ValueGraph(g), grads[i]))
	}
	lossAcc := t.lossAccumulator(ctx)
	lossAcc.SetValueGraph(graph.Add(lossAcc.ValueGraph(g), graph.ConvertDType(loss, lossAcc.DType())))
	return grads[len(vars):]
}

// evalGraph: inputs tokens and labels `[batch, chunk]` then the states before the chunk; outputs the
// chunk's summed cross-entropy (float32 or float64) then the states after it.
func (t *ChunkedTrainer) evalGraph(ctx *context.Context, in []*graph.Node) []*graph.Node {
	logits, final := t.cfg.Forward(ctx, in[0], in[2:])
	return append([]*graph.Node{graph.ReduceAllSum(lm.TokenLosses(logits, in[1]))}, final...)
}

// applyGraph applies the mean of the accumulated gradients (scale is 1 / the number of Backward
// calls) with the optimizer, zeroes the accumulators and returns the mean accumulated loss.
func (t *ChunkedTrainer) applyGraph(ctx *context.Context, scale *graph.Node) *graph.Node {
	g := scale.Graph()
	ctx.SetTraining(g, true)
	vars, accs := t.trainable(ctx)
	grads := make([]*graph.Node, len(vars))
	for i, v := range vars {
		v.ValueGraph(g) // In use by this graph: the optimizer updates the variables g uses.
		acc := accs[i].ValueGraph(g)
		grads[i] = graph.Mul(acc, graph.ConvertDType(scale, acc.DType()))
		accs[i].SetValueGraph(graph.ZerosLike(acc))
	}
	lossAcc := t.lossAccumulator(ctx)
	loss := lossAcc.ValueGraph(g)
	lossAcc.SetValueGraph(graph.ZerosLike(loss))
	t.opt.UpdateGraphWithGradients(ctx, grads, loss.DType())
	return graph.Mul(loss, graph.ConvertDType(scale, loss.DType()))
}

// trainable returns the model's trainable variables, in the context's order (the optimizer's), and
// their gradient accumulators.
func (t *ChunkedTrainer) trainable(ctx *context.Context) (vars, accs []*context.Variable) {
	actx := ctx.InAbsPath(context.ScopeSeparator + ChunkScope + "/grads").Checked(false).WithInitializer(initializers.Zero)
	for _, v := range t.vars {
		accs = append(accs, actx.InAbsPath(actx.Scope()+v.Scope()).VariableWithShape(v.Name(), v.Shape()).SetTrainable(false))
	}
	return t.vars, accs
}

func (t *ChunkedTrainer) lossAccumulator(ctx *context.Context) *context.Variable {
	dtype := t.cfg.dtype()
	return ctx.InAbsPath(context.ScopeSeparator+ChunkScope).Checked(false).WithInitializer(initializers.Zero).
		VariableWithShape("loss", shapes.Make(dtype)).SetTrainable(false)
}

// Step runs one training step on a batch: [ChunkedTrainer.Backward] then [ChunkedTrainer.Apply].
// It returns the mean cross-entropy of the batch before the update.
func (t *ChunkedTrainer) Step(tokens, labels [][]int32) (loss float64, err error) {
	if err := t.Backward(tokens, labels); err != nil {
		return 0, err
	}
	return t.Apply()
}

// Backward adds the gradient of the batch's mean cross-entropy (tokens and labels `[batch, seq]`,
// ids below VocabSize) to the accumulators, chunk by chunk; the variables do not change. Call it
// once per micro-batch of equal size, then [ChunkedTrainer.Apply]. A batch that does not fit is an
// error before anything runs; an error while the chunks run (the device's, say) leaves the
// accumulators with part of the batch: Apply would apply it, so stop or start a new trainer.
func (t *ChunkedTrainer) Backward(tokens, labels [][]int32) error {
	batch, seq, err := t.checkBatch(tokens, labels)
	if err != nil {
		return err
	}
	return catch(func() error {
		n := t.cfg.NumStates()
		var bounds [][2]int
		for s := 0; s < seq; s += t.chunk {
			bounds = append(bounds, [2]int{s, min(seq, s+t.chunk)})
		}
		cut := func(rows [][]int32, k int) *tensors.Tensor { return columns(rows, bounds[k][0], bounds[k][1]) }
		// Forward: the states at each chunk's start.
		starts := make([][]any, len(bounds))
		starts[0] = t.zeros(batch)
		for k := 0; k+1 < len(bounds); k++ {
			out, err := t.fwd.Exec(append([]any{cut(tokens, k)}, starts[k]...)...)
			if err != nil {
				return err
			}
			starts[k+1] = make([]any, n)
			for i, o := range out {
				starts[k+1][i] = o
			}
		}
		// Backward, last chunk first, handing the states' gradient on to the chunk before.
		dStates := t.zeros(batch)
		for k := len(bounds) - 1; k >= 0; k-- {
			weight := t.scalar(float64(bounds[k][1]-bounds[k][0]) / float64(seq))
			args := append([]any{cut(tokens, k), cut(labels, k), weight}, starts[k]...)
			out, err := t.bwd.Exec(append(args, dStates...)...)
			if err != nil {
				return err
			}
			for i, o := range out {
				dStates[i] = o
			}
		}
		t.pending++
		return nil
	})
}

// Loss returns the mean cross-entropy of the model on a batch (tokens and labels `[batch, seq]`),
// computed chunk by chunk like training, without changing anything.
func (t *ChunkedTrainer) Loss(tokens, labels [][]int32) (mean float64, err error) {
	batch, seq, err := t.checkBatch(tokens, labels)
	if err != nil {
		return 0, err
	}
	err = catch(func() error {
		states := t.zeros(batch)
		var sums []*tensors.Tensor // Read at the end: the chunks run without waiting for the host.
		for s := 0; s < seq; s += t.chunk {
			e := min(seq, s+t.chunk)
			out, err := t.eval.Exec(append([]any{columns(tokens, s, e), columns(labels, s, e)}, states...)...)
			if err != nil {
				return err
			}
			sums = append(sums, out[0])
			for i, o := range out[1:] {
				states[i] = o
			}
		}
		for _, sum := range sums {
			mean += lm.LossValue(sum)
		}
		mean /= float64(batch * seq)
		return nil
	})
	return mean, err
}

// scalar returns x as a scalar tensor of the model's dtype.
func (t *ChunkedTrainer) scalar(x float64) *tensors.Tensor {
	if t.cfg.dtype() == dtypes.Float64 {
		return tensors.FromValue(x)
	}
	return tensors.FromValue(float32(x))
}

// zeros returns the zero states of a batch, as Exec arguments.
func (t *ChunkedTrainer) zeros(batch int) []any {
	z := make([]any, t.cfg.NumStates())
	for i := range z {
		z[i] = tensors.FromShape(shapes.Make(t.cfg.dtype(), batch, t.cfg.HiddenDim))
	}
	return z
}

// columns returns positions [s, e) of every row as a tensor.
func columns(rows [][]int32, s, e int) *tensors.Tensor {
	part := make([][]int32, len(rows))
	for i, r := range rows {
		part[i] = r[s:e]
	}
	return tensors.FromValue(part)
}

// Apply updates the variables with the optimizer from the mean of the gradients accumulated since
// the last Apply, clears the accumulators and returns the mean loss they came from.
func (t *ChunkedTrainer) Apply() (loss float64, err error) {
	if t.pending == 0 {
		return 0, errors.New("rnn.ChunkedTrainer.Apply: no gradients: call Backward first")
	}
	err = catch(func() error {
		out, err := t.apply.Exec(t.scalar(1 / float64(t.pending)))
		if err != nil {
			return err
		}
		loss = lm.LossValue(out[0])
		return nil
	})
	t.pending = 0
	return loss, err
}

// Gradients returns the accumulated gradients (the sum over Backward calls since the last Apply)
// by variable, keyed by scope and name ("/layer_0/weights_ih").
func (t *ChunkedTrainer) Gradients() (map[string]*tensors.Tensor, error) {
	grads := make(map[string]*tensors.Tensor)
	vars, accs := t.trainable(t.ctx)
	for i, v := range vars {
		value, err := accs[i].Value()
		if err != nil {
			return nil, err
		}
		grads[v.ScopeAndName()] = value
	}
	return grads, nil
}

func (t *ChunkedTrainer) checkBatch(tokens, labels [][]int32) (batch, seq int, err error) {
	if len(tokens) == 0 || len(tokens[0]) == 0 {
		return 0, 0, errors.New("rnn.ChunkedTrainer: empty batch")
	}
	batch, seq = len(tokens), len(tokens[0])
	if len(labels) != batch {
		return 0, 0, fmt.Errorf("rnn.ChunkedTrainer: %d rows of labels for %d rows of tokens", len(labels), batch)
	}
	for i := range tokens {
		if len(tokens[i]) != seq || len(labels[i]) != seq {
			return 0, 0, fmt.Errorf("rnn.ChunkedTrainer: row %d has %d tokens and %d labels, want %d of each",
				i, len(tokens[i]), len(labels[i]), seq)
		}
		for j := range seq {
			if tokens[i][j] < 0 || int(tokens[i][j]) >= t.cfg.VocabSize || labels[i][j] < 0 || int(labels[i][j]) >= t.cfg.VocabSize {
				return 0, 0, fmt.Errorf("rnn.ChunkedTrainer: row %d position %d: token %d, label %d: ids must be in [0, %d)",
					i, j, tokens[i][j], labels[i][j], t.cfg.VocabSize)
			}
		}
	}
	return batch, seq, nil
}

// catch runs f and turns a panic (GoMLX reports graph errors by panicking) into an error.
func catch(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return f()
}
