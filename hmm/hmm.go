// Package hmm is a hidden Markov model language model (Baum and Petrie 1966; Rabiner 1989): N hidden
// states, each with a categorical emission over the tokens, the model speech recognition and
// part-of-speech tagging ran on before neural networks. Its parameters are three tables of logits
// (softmaxed row by row): initial `[N]`, transition `[N, N]` (row i: from state i) and emission
// `[N, vocab]`. It is trained on GoMLX graphs by gradient ascent on the marginal likelihood, with the
// forward algorithm in log space, batched over sequences, and implements [lm.Model]: Logits are the
// model's next-token log-probabilities, so the trainer, its loss and its sampling serve it as they
// serve a Transformer.
//
// The forward algorithm, for tokens x_0 ... x_{T-1}, keeps log α_t(j) = log p(x_0..x_t, z_t = j):
//
//	log α_0(j)   = log π_j + log B_j(x_0)
//	log α_t+1(j) = m_t + log Σ_i exp(log α_t(i) - m_t) A_ij + log B_j(x_t+1),  m_t = max_i log α_t(i)
//	logits_t(w)  = log Σ_ij exp(log α_t(i) - m_t) A_ij B_j(w) - log Σ_i exp(log α_t(i) - m_t)
//
// so logits_t is log p(x_t+1 = w | x_0..x_t), each sum a matrix product on exponents shifted to at
// most 0 (no underflow), and log p(x) = log Σ_j α_T-1(j).
package hmm

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"

	"github.com/bitterlesson/bitter/lm"
)

// Config describes an HMM language model.
type Config struct {
	// States is the number of hidden states N, e.g. 128.
	States int
	// VocabSize is the number of token ids (256 for bytes).
	VocabSize int
	// InitStddev is the standard deviation of the logits' random initialisation (1 when 0), which
	// breaks the states' symmetry: from equal logits every state would stay alike.
	InitStddev float64
	// DType is Float32 (default when zero) or Float64.
	DType dtypes.DType
}

var _ lm.Model = Config{}

// Scope is the variable scope of the three tables: "initial" `[N]`, "transition" `[N, N]`,
// "emission" `[N, vocab]` (the checkpoint format).
const Scope = "hmm"

// Validate returns an error naming every bad field, or nil.
func (c Config) Validate() error {
	var errs []error
	if c.States < 1 {
		errs = append(errs, fmt.Errorf("States %d must be positive", c.States))
	}
	if c.VocabSize < 2 {
		errs = append(errs, fmt.Errorf("VocabSize %d must be at least 2", c.VocabSize))
	}
	if !(c.InitStddev >= 0) {
		errs = append(errs, fmt.Errorf("InitStddev %g must not be negative", c.InitStddev))
	}
	if c.DType != dtypes.InvalidDType && c.DType != dtypes.Float32 && c.DType != dtypes.Float64 {
		errs = append(errs, fmt.Errorf("DType %s is not Float32 or Float64", c.DType))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("hmm.Config: %w", err)
	}
	return nil
}

func (c Config) dtype() dtypes.DType {
	if c.DType == dtypes.InvalidDType {
		return dtypes.Float32
	}
	return c.DType
}

// Vocab returns VocabSize.
func (c Config) Vocab() int { return c.VocabSize }

// NumParams counts the logits: N + N² + N·vocab.
func (c Config) NumParams() int { return c.States + c.States*c.States + c.States*c.VocabSize }

// NonEmbeddingParams is NumParams: every table takes part in each step's products.
func (c Config) NonEmbeddingParams() int { return c.NumParams() }

// FLOPsPerToken is 6·N·(N + vocab): the step's two products, [N]x[N,N] and [N]x[N,vocab], at 2
// FLOPs a multiply-add, three times over for the forward and backward passes (the 6N of the
// networks, for the tables that take part in products).
func (c Config) FLOPsPerToken(int) float64 {
	return 6 * float64(c.States) * float64(c.States+c.VocabSize)
}

// TrainingMemory estimates a training step's memory: the tables with their gradients and AdamW's
// moments, and per token the step's state vectors and logits that the backward pass keeps.
func (c Config) TrainingMemory(batch, seqLen int) (state, activations float64) {
	size := float64(c.dtype().Size())
	return 4 * size * float64(c.NumParams()), size * float64(batch) * float64(seqLen) * float64(6*c.States+3*c.VocabSize)
}

// Tables returns the log-probability tables in ctx's scope [Scope], creating the variables (random
// normal logits) when they don't exist: log π `[N]`, log A `[N, N]`, log B `[N, vocab]`.
func (c Config) Tables(ctx *context.Context, g *graph.Graph) (logInit, logTrans, logEmit *graph.Node) {
	std := c.InitStddev
	if std == 0 {
		std = 1
	}
	hctx := ctx.In(Scope).WithInitializer(initializers.RandomNormalFn(ctx, std))
	n, dt := c.States, c.dtype()
	logInit = graph.LogSoftmax(hctx.VariableWithShape("initial", shapes.Make(dt, n)).ValueGraph(g), 0)
	logTrans = graph.LogSoftmax(hctx.VariableWithShape("transition", shapes.Make(dt, n, n)).ValueGraph(g), 1)
	logEmit = graph.LogSoftmax(hctx.VariableWithShape("emission", shapes.Make(dt, n, c.VocabSize)).ValueGraph(g), 1)
	return logInit, logTrans, logEmit
}

// Forward runs the forward algorithm over tokens Int32 `[batch, seq]` and returns the next-token
// log-probabilities `[batch, seq, vocab]` (position t: log p(x_t+1 | x_0..x_t)) and log p(x_0) `[batch]`,
// the probability of each sequence's first token, which no position predicts.
func (c Config) Forward(ctx *context.Context, tokens *graph.Node) (logits, firstLogProb *graph.Node) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	if tokens.Rank() != 2 {
		panic(fmt.Sprintf("hmm: tokens must be [batch, seq], got %s", tokens.Shape()))
	}
	g := tokens.Graph()
	logInit, logTrans, logEmit := c.Tables(ctx, g)
	trans, emit := graph.Exp(logTrans), graph.Exp(logEmit)
	emitByToken := graph.Transpose(logEmit, 0, 1) // [vocab, N]: log B_j(w) by w
	seq := tokens.Shape().Dimensions[1]
	at := func(t int) *graph.Node { // log B_j(x_t), [batch, N]
		ids := graph.Slice(tokens, graph.AxisRange(), graph.AxisElem(t)) // [batch, 1]
		return graph.Gather(emitByToken, ids)
	}
	alpha := graph.Add(graph.ExpandAxes(logInit, 0), at(0)) // [batch, N]
	first := logSumExp(alpha)
	steps := make([]*graph.Node, seq)
	for t := range seq {
		m := graph.StopGradient(graph.ReduceAndKeep(alpha, graph.ReduceMax, 1)) // [batch, 1]
		u := graph.Exp(graph.Sub(alpha, m))                                     // [batch, N], at most 1
		next := graph.DotGeneral(u, []int{1}, nil, trans, []int{0}, nil)        // [batch, N]
		pred := graph.DotGeneral(next, []int{1}, nil, emit, []int{0}, nil)      // [batch, vocab]
		norm := graph.ReduceAndKeep(u, graph.ReduceSum, 1)
		steps[t] = graph.Sub(graph.Log(pred), graph.Log(norm))
		if t+1 < seq {
			alpha = graph.Add(graph.Add(m, graph.Log(next)), at(t+1))
		}
	}
	return graph.Stack(steps, 1), first
}

// Logits is Forward's next-token log-probabilities, as [lm.Model] has it.
func (c Config) Logits(ctx *context.Context, tokens *graph.Node) *graph.Node {
	logits, _ := c.Forward(ctx, tokens)
	return logits
}

// LogLikelihood returns log p(x) `[batch]` of each sequence of tokens Int32 `[batch, seq]`: the
// marginal likelihood over every path of hidden states, which training maximises.
func (c Config) LogLikelihood(ctx *context.Context, tokens *graph.Node) *graph.Node {
	logits, first := c.Forward(ctx, tokens)
	seq := tokens.Shape().Dimensions[1]
	if seq == 1 {
		return first
	}
	// The log-probabilities of the tokens each position predicts: positions 0..T-2 predict x_1..x_T-1.
	pred := graph.Slice(logits, graph.AxisRange(), graph.AxisRange(0, seq-1))
	targets := graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(1, seq))
	picked := graph.ReduceSum(graph.Mul(pred, graph.OneHot(targets, c.VocabSize, pred.DType())), 1, 2)
	return graph.Add(first, picked)
}

// logSumExp is log Σ_j exp(x_j) over axis 1 of x `[batch, N]`, `[batch]`.
func logSumExp(x *graph.Node) *graph.Node {
	m := graph.StopGradient(graph.ReduceAndKeep(x, graph.ReduceMax, 1))
	return graph.Squeeze(graph.Add(m, graph.Log(graph.ReduceAndKeep(graph.Exp(graph.Sub(x, m)), graph.ReduceSum, 1))), 1)
}
