package grok

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/cmdutil/batcher"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/transformer"
)

// Params is one grokking experiment: the flags of examples/grokking.
type Params struct {
	Op          Op      // -op: +, - or /
	P           int     // -p: the prime modulus
	TrainFrac   float64 // -frac: fraction of the table trained on
	Layers      int     // -layers
	Dim         int     // -dim: model width (heads of Dim/Heads, MLP 4·Dim)
	Heads       int     // -heads
	LR          float64 // -lr (constant after a 10-step warmup)
	WeightDecay float64 // -weight-decay: AdamW's decoupled decay, on every parameter
	Beta2       float64 // -beta2 (β1 = 0.9)
	Steps       int     // -steps
	Batch       int     // -batch: 0 = the whole training set each step
	EvalEvery   int     // -eval-every: steps between measurements
	Seed        uint64  // -seed: split, initialisation, batches
}

// CPUDefault is sized for 2 CPU cores and the pure-Go backend (see the README for why).
func CPUDefault() Params {
	return Params{Op: Div, P: 31, TrainFrac: 0.7, Layers: 1, Dim: 64, Heads: 4, LR: 1e-3, WeightDecay: 1,
		Beta2: 0.98, Steps: 4000, EvalEvery: 50, Seed: 1}
}

// Presets are the papers' settings, for a GPU.
var Presets = map[string]func() Params{
	"cpu": CPUDefault,
	// Nanda et al. 2023: p = 113, addition, 30% of pairs, 1 layer, 128 wide, 4 heads, MLP 512,
	// AdamW lr 1e-3, weight decay 1, betas (0.9, 0.98), full batch.
	"nanda": func() Params {
		return Params{Op: Add, P: 113, TrainFrac: 0.3, Layers: 1, Dim: 128, Heads: 4, LR: 1e-3, WeightDecay: 1,
			Beta2: 0.98, Steps: 40000, EvalEvery: 100, Seed: 1}
	},
	// Power et al. 2022: p = 97, division, 50% of pairs, 2 layers, 128 wide, 4 heads.
	"power": func() Params {
		return Params{Op: Div, P: 97, TrainFrac: 0.5, Layers: 2, Dim: 128, Heads: 4, LR: 1e-3, WeightDecay: 1,
			Beta2: 0.98, Steps: 50000, EvalEvery: 100, Seed: 1}
	},
}

// Validate names a bad value.
func (p Params) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Op != Add && p.Op != Sub && p.Op != Div {
		add("-op %q is not one of +, -, /", p.Op)
	}
	if p.P < 3 || !isPrime(p.P) {
		add("-p %d must be a prime of at least 3", p.P)
	}
	if !(p.TrainFrac > 0 && p.TrainFrac < 1) {
		add("-frac %g must be in (0, 1)", p.TrainFrac)
	}
	for _, v := range []struct {
		flag  string
		value int
	}{{"-steps", p.Steps}, {"-eval-every", p.EvalEvery}, {"-layers", p.Layers}, {"-dim", p.Dim}, {"-heads", p.Heads}} {
		if v.value < 1 {
			add("%s %d must be positive", v.flag, v.value)
		}
	}
	if p.Batch < 0 {
		add("-batch %d must not be negative (0: the whole training set)", p.Batch)
	}
	if !(p.LR > 0) || math.IsInf(p.LR, 0) {
		add("-lr %g must be a positive number", p.LR)
	}
	if !(p.WeightDecay >= 0) || math.IsInf(p.WeightDecay, 0) {
		add("-weight-decay %g must be a non-negative number", p.WeightDecay)
	}
	if !(p.Beta2 >= 0 && p.Beta2 < 1) {
		add("-beta2 %g must be in [0, 1)", p.Beta2)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := p.model().Validate(); err != nil {
		return err
	}
	return p.checkMemory()
}

// checkMemory refuses a -p whose table and model cannot fit in the host's available memory (it
// checks nothing where that is not known): p² equations, each as an Example and as tokens and a
// target in every split, and the model's training state and activations on the whole table (-batch
// 0) or a batch of it.
func (p Params) checkMemory() error {
	available, ok := backend.HostMemory()
	if !ok {
		return nil
	}
	equations := float64(p.P) * float64(p.P)
	batch := float64(p.Batch)
	if p.Batch == 0 {
		batch = equations * p.TrainFrac
	}
	state, activations := p.model().TrainingMemory(1, 4)
	need := equations*(3*8+5*4) + state + batch*activations
	if need <= float64(available) {
		return nil
	}
	return fmt.Errorf("-p %d: its %.3g equations and a model of %d tokens need about %.3g GB, and %.3g GB is available: a smaller -p",
		p.P, equations, p.vocabSize(), need/1e9, float64(available)/1e9)
}

func (p Params) model() transformer.Config {
	return transformer.Config{VocabSize: p.vocabSize(), MaxSeqLen: 4, NumLayers: p.Layers, ModelDim: p.Dim,
		NumHeads: p.Heads, FFNDim: 4 * p.Dim, Activation: transformer.ReLU, Norm: transformer.LayerNorm,
		Positional: transformer.Learned, UseBias: true}
}

// Record is one measurement.
type Record struct {
	Step                                   int
	TrainLoss, TrainAcc, TestLoss, TestAcc float64
	WeightNorm                             float64
}

// Result is a run's history and when it memorised and generalised (-1: not within the budget).
type Result struct {
	Params      Params
	History     []Record
	MemorizedAt int // first step with train accuracy >= 0.99
	GrokkedAt   int // first step with test accuracy >= 0.95
	Seconds     float64
}

// Summary is the run's one-line verdict.
func (r Result) Summary() string {
	if r.MemorizedAt < 0 || r.GrokkedAt < 0 {
		memo := "train_acc never reached 0.99"
		if r.MemorizedAt >= 0 {
			memo = fmt.Sprintf("train_acc>=0.99 at step %d", r.MemorizedAt)
		}
		return fmt.Sprintf("not grokked within %d steps (%s; best test_acc %.3f)", r.Params.Steps, memo, r.bestTest())
	}
	return fmt.Sprintf("grokked: train_acc>=0.99 at step %d, test_acc>=0.95 at step %d", r.MemorizedAt, r.GrokkedAt)
}

func (r Result) bestTest() float64 {
	best := 0.0
	for _, h := range r.History {
		best = max(best, h.TestAcc)
	}
	return best
}

// batchOf returns the equations as inputs [n, 4] and answers [n, 1].
func (p Params) batchOf(ex []Example) (inputs, answers [][]int32) {
	for _, e := range ex {
		inputs = append(inputs, e.tokens(p))
		answers = append(answers, []int32{int32(e.C)})
	}
	return inputs, answers
}

// answerLogits are the logits at the "=" position: [batch, 1, vocab].
func answerLogits(cfg transformer.Config, ctx *context.Context, tokens *graph.Node) *graph.Node {
	logits := cfg.Logits(ctx, tokens)
	return graph.Slice(logits, graph.AxisRange(), graph.AxisElem(3), graph.AxisRange())
}

// Run trains one experiment, logging a line per measurement to log.
func Run(b backends.Backend, p Params, log io.Writer) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := p.Validate(); err != nil {
		return res, err
	}
	table, err := Table(p.Op, p.P)
	if err != nil {
		return res, err
	}
	trainSet, testSet, err := Split(table, p.TrainFrac, p.Seed)
	if err != nil {
		return res, err
	}
	cfg := p.model()
	ocfg := optim.DefaultAdamW(p.LR)
	ocfg.LR = optim.Schedule{Kind: optim.Constant, Peak: p.LR, WarmupSteps: 10}
	ocfg.Beta2, ocfg.WeightDecay = p.Beta2, p.WeightDecay
	// Decay every parameter, as torch.optim.AdamW(model.parameters()) does in both papers: with the
	// default exemption of norms' gains and biases, the final LayerNorm's gain could scale the logits
	// up at no cost, and weight decay would no longer push towards the low-norm, general solution.
	ocfg.NoDecay = func(*context.Variable) bool { return false }
	opt, err := optim.New(ocfg)
	if err != nil {
		return res, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(p.Seed)); err != nil {
		return res, err
	}
	trainer := train.NewTrainer(b, ctx,
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{answerLogits(cfg, ctx, in[0])}
		},
		func(labels, logits []*graph.Node) *graph.Node { return lm.Loss(logits[0], labels[0]) },
		opt, nil, nil)
	eval := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens, answers *graph.Node) []*graph.Node {
		logits := answerLogits(cfg, ctx, tokens)
		loss := graph.ReduceAllMean(lm.TokenLosses(logits, answers))
		pred := graph.ArgMax(logits, -1, answers.DType())
		acc := graph.ReduceAllMean(graph.ConvertDType(graph.Equal(pred, answers), loss.DType()))
		return []*graph.Node{loss, acc}
	})
	trainX, trainY := p.batchOf(trainSet)
	testX, testY := p.batchOf(testSet)
	measure := func(x, y [][]int32) (loss, acc float64, err error) {
		outs, err := eval.Exec(x, y)
		if err != nil {
			return 0, 0, err
		}
		return lm.LossValue(outs[0]), lm.LossValue(outs[1]), nil
	}
	fmt.Fprintf(log, "p=%d op=%s: %d train / %d test equations; model %d layers x %d wide: %d parameters\n",
		p.P, p.Op, len(trainSet), len(testSet), p.Layers, p.Dim, cfg.NumParams())

	res = Result{Params: p, MemorizedAt: -1, GrokkedAt: -1}
	start := time.Now()
	full := []*tensors.Tensor{tensors.FromValue(trainX)}
	fullY := []*tensors.Tensor{tensors.FromValue(trainY)}
	rng := batcher.New(len(trainX), p.Batch, p.Seed)
	for step := 1; step <= p.Steps; step++ {
		x, y := full, fullY
		if p.Batch > 0 {
			idx := rng.Next()
			bx, by := make([][]int32, len(idx)), make([][]int32, len(idx))
			for i, j := range idx {
				bx[i], by[i] = trainX[j], trainY[j]
			}
			x, y = []*tensors.Tensor{tensors.FromValue(bx)}, []*tensors.Tensor{tensors.FromValue(by)}
		}
		metrics, err := trainer.TrainStep(nil, x, y)
		if err != nil {
			return res, fmt.Errorf("step %d: %w", step, err)
		}
		if l := lm.LossValue(metrics[0]); math.IsNaN(l) || math.IsInf(l, 0) {
			return res, fmt.Errorf("step %d: the loss is %v; lower -lr", step, l)
		}
		for _, m := range metrics {
			m.FinalizeAll()
		}
		if step%p.EvalEvery != 0 && step != 1 && step != p.Steps {
			continue
		}
		rec := Record{Step: step, WeightNorm: weightNorm(ctx)}
		if rec.TrainLoss, rec.TrainAcc, err = measure(trainX, trainY); err != nil {
			return res, err
		}
		if rec.TestLoss, rec.TestAcc, err = measure(testX, testY); err != nil {
			return res, err
		}
		res.History = append(res.History, rec)
		if res.MemorizedAt < 0 && rec.TrainAcc >= 0.99 {
			res.MemorizedAt = step
		}
		if res.GrokkedAt < 0 && rec.TestAcc >= 0.95 {
			res.GrokkedAt = step
		}
		if step%(p.EvalEvery*10) == 0 || step == 1 || step == p.Steps {
			fmt.Fprintf(log, "step %d: train loss %.4f acc %.3f | test loss %.4f acc %.3f | weight norm %.1f | %.0f s\n",
				step, rec.TrainLoss, rec.TrainAcc, rec.TestLoss, rec.TestAcc, rec.WeightNorm, time.Since(start).Seconds())
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// weightNorm is the L2 norm of all trainable variables.
func weightNorm(ctx *context.Context) float64 {
	var sum float64
	for v := range ctx.IterVariables() {
		if !v.Trainable {
			continue
		}
		t, err := v.Value()
		if err != nil {
			continue
		}
		_ = t.ConstFlatData(func(flat any) {
			switch f := flat.(type) {
			case []float32:
				for _, x := range f {
					sum += float64(x) * float64(x)
				}
			case []float64:
				for _, x := range f {
					sum += x * x
				}
			}
		})
	}
	return math.Sqrt(sum)
}
