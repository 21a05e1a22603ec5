package rl

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/checkpoint"
	"github.com/bitterlesson/bitter/internal/cmdutil/batcher"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/transformer"
)

// Algorithms (-algo).
const (
	Reinforce = "reinforce"
	GRPO      = "grpo"
)

// Params is one run: the flags of examples/reinforce.
type Params struct {
	Algo        string  // -algo: reinforce or grpo
	Reward      string  // -reward: correct or even
	Gamma       float64 // -gamma: REINFORCE's per-token discount
	Group       int     // -group: samples per prompt (G)
	Prompts     int     // -prompts: prompts per step
	Steps       int     // -steps: RL steps
	LR          float64 // -lr: AdamW, constant, no weight decay
	KLCoef      float64 // -kl: β, the weight of the k3 KL penalty to the reference (both algorithms)
	ClipEps     float64 // -clip: GRPO's ε
	Inner       int     // -inner: GRPO's updates per batch of samples (μ); REINFORCE takes one
	Temperature float64 // -temperature: sampling temperature during RL and held-out sampled evaluation
	MaxNew      int     // -max-new: tokens generated per episode
	EvalEvery   int     // -eval-every
	EvalPrompts int     // -eval-prompts: held-out prompts in each evaluation (rounded up to whole batches)
	EvalSamples int     // -eval-samples: sampled completions per held-out prompt (greedy is one)

	Layers, Dim, Heads int     // the model (-layers, -dim, -heads)
	PretrainSteps      int     // -pretrain-steps: language-model pretraining on the training additions, at most
	PretrainUntil      float64 // -pretrain-until: stop once the answer loss, averaged over 50 steps, is at most this (0: never)
	PretrainBatch      int     // -pretrain-batch
	PretrainLR         float64 // -pretrain-lr
	Pretrained         string  // -pretrained: checkpoint to start from, written after pretraining when absent
	Seed               uint64  // -seed
}

// CPUDefault is sized for 2 CPU cores and the pure-Go backend (README: why).
func CPUDefault() Params {
	return Params{Algo: GRPO, Reward: "correct", Gamma: 1, Group: 8, Prompts: 16, Steps: 800, LR: 1e-4, KLCoef: 0.04,
		ClipEps: 0.2, Inner: 2, Temperature: 1, MaxNew: 4, EvalEvery: 50, EvalPrompts: 512, EvalSamples: 4,
		Layers: 2, Dim: 64, Heads: 4, PretrainSteps: 2000, PretrainUntil: 0.45, PretrainBatch: 64, PretrainLR: 3e-3, Seed: 1}
}

// The held-out share of the 10,000 additions: prompts no pretraining or RL step sees.
const (
	heldOutFrac     = 0.2
	heldOutProblems = 2000
)

// Batch is the number of episodes per step.
func (p Params) Batch() int { return p.Group * p.Prompts }

// SeqLen is the tokens of a whole episode: prompt and generated tokens.
func (p Params) SeqLen() int { return PromptLen + p.MaxNew }

// Model is the policy's architecture: a byte-level pre-norm GPT.
func (p Params) Model() transformer.Config {
	cfg := transformer.Tiny()
	cfg.VocabSize, cfg.MaxSeqLen = 256, p.SeqLen()
	cfg.NumLayers, cfg.ModelDim, cfg.NumHeads, cfg.FFNDim = p.Layers, p.Dim, p.Heads, 4*p.Dim
	return cfg
}

// Validate names a bad value.
func (p Params) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.Algo != Reinforce && p.Algo != GRPO {
		add("-algo %q is not one of reinforce, grpo", p.Algo)
	}
	if Rewards[p.Reward] == nil {
		add("-reward %q is not one of correct, even", p.Reward)
	}
	if !(p.Gamma > 0 && p.Gamma <= 1) {
		add("-gamma %g must be in (0, 1]", p.Gamma)
	}
	if p.Group < 2 && p.Algo == GRPO {
		add("-group %d: GRPO needs at least 2 samples per prompt", p.Group)
	}
	for _, v := range []struct {
		flag  string
		value int
	}{{"-group", p.Group}, {"-prompts", p.Prompts}, {"-inner", p.Inner}, {"-eval-every", p.EvalEvery},
		{"-eval-prompts", p.EvalPrompts}, {"-eval-samples", p.EvalSamples}, {"-pretrain-batch", p.PretrainBatch},
		{"-layers", p.Layers}, {"-dim", p.Dim}, {"-heads", p.Heads}} {
		if v.value < 1 {
			add("%s %d must be positive", v.flag, v.value)
		}
	}
	if p.Steps < 0 {
		add("-steps %d must not be negative", p.Steps)
	}
	if p.PretrainSteps < 0 {
		add("-pretrain-steps %d must not be negative", p.PretrainSteps)
	}
	if p.Batch() > heldOutProblems {
		add("-prompts x -group = %d answers per batch: more than the %d held-out prompts an evaluation batch draws from", p.Batch(), heldOutProblems)
	}
	if p.MaxNew < 2 {
		add("-max-new %d: an answer needs at least 2 tokens (a digit and the newline)", p.MaxNew)
	}
	for _, v := range []struct {
		flag  string
		value float64
	}{{"-lr", p.LR}, {"-pretrain-lr", p.PretrainLR}, {"-temperature", p.Temperature}} {
		if !(v.value > 0) || math.IsInf(v.value, 0) {
			add("%s %g must be a positive number", v.flag, v.value)
		}
	}
	if !(p.KLCoef >= 0) || math.IsInf(p.KLCoef, 0) {
		add("-kl %g must be a non-negative number", p.KLCoef)
	}
	if !(p.ClipEps > 0 && p.ClipEps < 1) {
		add("-clip %g must be in (0, 1)", p.ClipEps)
	}
	if !(p.PretrainUntil >= 0 && p.PretrainUntil < math.Inf(1)) {
		add("-pretrain-until %g must be a non-negative number (0: never)", p.PretrainUntil)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return p.Model().Validate()
}

// seqLogits is the model's logits for predicting tokens 1 ... L-1 from tokens 0 ... L-2.
func seqLogits(cfg transformer.Config, ctx *context.Context, tokens *graph.Node) *graph.Node {
	l := tokens.Shape().Dimensions[1]
	return cfg.Logits(ctx, graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(0, l-1)))
}

func targets(tokens *graph.Node) *graph.Node {
	return graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(1, tokens.Shape().Dimensions[1]))
}

// untilWindow is the number of steps whose mean answer loss -pretrain-until compares.
const untilWindow = 50

// Pretrain trains the model in ctx as a language model on the training additions ("aa+bb=c\n"),
// the loss on the answer and its newline only, and logs its progress. It stops after
// p.PretrainSteps, or earlier, once the mean answer loss of the last 50 steps is at most
// p.PretrainUntil (when positive), and returns the steps taken.
func Pretrain(b backends.Backend, p Params, ctx *context.Context, problems []Problem, log io.Writer) (steps int, err error) {
	if p.PretrainSteps == 0 {
		return 0, nil
	}
	cfg := p.Model()
	ocfg := optim.DefaultAdamW(p.PretrainLR)
	ocfg.LR = optim.Schedule{Kind: optim.Cosine, Peak: p.PretrainLR, WarmupSteps: min(20, p.PretrainSteps/5), TotalSteps: p.PretrainSteps, Floor: p.PretrainLR / 10}
	ocfg.WeightDecay = 0.01
	opt, err := optim.New(ocfg)
	if err != nil {
		return 0, err
	}
	trainer := train.NewTrainer(b, ctx,
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{cfg.Logits(ctx, in[0])} // in[0] is already the inputs, tokens 0 ... L-2
		},
		func(labels, logits []*graph.Node) *graph.Node {
			losses := lm.TokenLosses(logits[0], labels[0])
			mask := graph.ConvertDType(labels[1], losses.DType())
			return graph.Div(graph.ReduceAllSum(graph.Mul(losses, mask)), graph.ReduceAllSum(mask))
		}, opt, nil, nil)
	draw := batcher.New(len(problems), p.PretrainBatch, p.Seed)
	start := time.Now()
	var window [untilWindow]float64 // the last steps' losses, a ring
	sum := 0.0
	for step := 1; step <= p.PretrainSteps; step++ {
		x := make([][]int32, p.PretrainBatch)
		y := make([][]int32, p.PretrainBatch)
		m := make([][]float32, p.PretrainBatch)
		for i, j := range draw.Next() {
			x[i], y[i], m[i] = lineExample(problems[j], p.SeqLen())
		}
		metrics, err := trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromValue(x)},
			[]*tensors.Tensor{tensors.FromValue(y), tensors.FromValue(m)})
		if err != nil {
			return step - 1, fmt.Errorf("pretraining step %d: %w", step, err)
		}
		loss := lm.LossValue(metrics[0])
		for _, t := range metrics {
			t.FinalizeAll()
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return step - 1, fmt.Errorf("pretraining step %d: the loss is %v; lower -pretrain-lr", step, loss)
		}
		sum += loss - window[step%untilWindow]
		window[step%untilWindow] = loss
		if step%100 == 0 || step == p.PretrainSteps {
			fmt.Fprintf(log, "pretrain step %d: answer loss %.3f nats/byte (%.0f s)\n", step, loss, time.Since(start).Seconds())
		}
		if mean := sum / untilWindow; p.PretrainUntil > 0 && step >= untilWindow && mean <= p.PretrainUntil {
			fmt.Fprintf(log, "pretraining stops at step %d: mean answer loss %.3f over the last %d steps, -pretrain-until %g (%.0f s)\n",
				step, mean, untilWindow, p.PretrainUntil, time.Since(start).Seconds())
			return step, nil
		}
	}
	if p.PretrainUntil > 0 {
		fmt.Fprintf(log, "pretraining took all %d steps without reaching -pretrain-until %g (mean answer loss %.3f over the last %d)\n",
			p.PretrainSteps, p.PretrainUntil, sum/float64(min(untilWindow, p.PretrainSteps)), min(untilWindow, p.PretrainSteps))
	}
	return p.PretrainSteps, nil
}

// lineExample is one pretraining sequence: the line padded with newlines to seqLen, and the
// targets (the sequence shifted by one) with the mask of the answer bytes and the first newline.
func lineExample(pr Problem, seqLen int) (x, y []int32, mask []float32) {
	line := []byte(pr.Line())
	tok := make([]int32, seqLen)
	for i := range tok {
		tok[i] = '\n'
		if i < len(line) {
			tok[i] = int32(line[i])
		}
	}
	mask = make([]float32, seqLen-1)
	for t := PromptLen - 1; t < len(line)-1; t++ {
		mask[t] = 1
	}
	return tok[:seqLen-1], tok[1:], mask
}

// copyModel copies the trainable variables (the model's weights, not optimizer state) of src into
// a new context.
func copyModel(src *context.Context) (*context.Context, error) {
	dst := context.New()
	for v := range src.IterVariables() {
		if !v.Trainable {
			continue
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		dst.InAbsPath(v.Scope()).Checked(false).VariableWithValue(v.Name(), tensors.FromAnyValue(t.Value()))
	}
	return dst, nil
}

// Record is one RL step's log line.
type Record struct {
	Step                                   int
	Reward, KL, Entropy, Length            float64 // over the step's sampled episodes, before its update
	HeldOutReward, HeldOutGreedy, HeldOutN float64 // NaN when not evaluated at this step
}

// Sample is a prompt and what the policy generated for it.
type Sample struct {
	Prompt, Sampled, Greedy string
}

// Result is a run.
type Result struct {
	Params                     Params
	History                    []Record
	Before, After              Eval
	SamplesBefore              []Sample
	SamplesAfter               []Sample
	PretrainSeconds, RLSeconds float64
	PretrainStepsTaken         int // 0 when the pretrained model was loaded
}

// Eval is a held-out evaluation: mean reward of sampled completions (EvalSamples per prompt) and of
// greedy ones over N prompts.
type Eval struct {
	Sampled, Greedy float64
	N               int
}

// policy bundles what an RL run needs of the model being trained.
type policy struct {
	p       Params
	reward  Reward
	gen     *transformer.Generator
	inspect *context.Exec // policy: tokens -> log-probabilities of targets, entropies
	ref     *context.Exec // reference: tokens -> log-probabilities of targets
	trainer *train.Trainer
	rng     *rand.Rand
	heldOut []Problem
}

// shownSamples is how many fixed held-out prompts an evaluation returns the answers of.
const shownSamples = 6

// logpAndEntropy are the log-probabilities of the targets and the entropy of each position's
// distribution: [batch, L-1] each.
func logpAndEntropy(cfg transformer.Config, ctx *context.Context, tokens *graph.Node) (logp, entropy *graph.Node) {
	logits := seqLogits(cfg, ctx, tokens)
	logp = graph.Neg(lm.TokenLosses(logits, targets(tokens)))
	ls := graph.LogSoftmax(graph.ConvertDType(logits, dtypes.Float32), -1)
	entropy = graph.Neg(graph.ReduceSum(graph.Mul(graph.Exp(ls), ls), -1))
	return logp, entropy
}

// objective is the loss the update minimises: minus the algorithm's objective, per episode.
// in: tokens [B, L] int32, mask, adv, oldLogp, refLogp [B, L-1] float32.
func objective(p Params, cfg transformer.Config, ctx *context.Context, in []*graph.Node) *graph.Node {
	tokens, mask, adv, oldLogp, refLogp := in[0], in[1], in[2], in[3], in[4]
	logits := seqLogits(cfg, ctx, tokens)
	logp := graph.Neg(lm.TokenLosses(logits, targets(tokens)))
	kl := KL3Graph(logp, refLogp)
	batch := float64(tokens.Shape().Dimensions[0])
	if p.Algo == Reinforce {
		// Σ_t A_t log π(a_t|s_t) per episode (the policy-gradient estimator), less β·KL per token.
		perToken := graph.Sub(graph.Mul(adv, logp), graph.MulScalar(kl, p.KLCoef))
		return graph.DivScalar(graph.Neg(graph.ReduceAllSum(graph.Mul(perToken, mask))), batch)
	}
	// GRPO: the clipped surrogate less β·KL, averaged over each episode's tokens, then over episodes.
	ratio := graph.Exp(graph.Sub(logp, oldLogp))
	perToken := graph.Sub(ClippedSurrogate(ratio, adv, p.ClipEps), graph.MulScalar(kl, p.KLCoef))
	perEpisode := graph.Div(graph.ReduceSum(graph.Mul(perToken, mask), -1), graph.ReduceSum(mask, -1))
	return graph.DivScalar(graph.Neg(graph.ReduceAllSum(perEpisode)), batch)
}

// Run pretrains (or loads) the model, evaluates it, fine-tunes it with RL and evaluates it again.
// Progress goes to log.
func Run(b backends.Backend, p Params, log io.Writer) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := p.Validate(); err != nil {
		return res, err
	}
	res.Params = p
	trainSet, heldOut, err := Problems(heldOutFrac, p.Seed)
	if err != nil {
		return res, err
	}
	cfg := p.Model()
	base := context.New()
	if err := base.SetRNGStateFromSeed(int64(p.Seed)); err != nil {
		return res, err
	}
	start := time.Now()
	if p.Pretrained != "" && fileExists(p.Pretrained) {
		var meta Params
		if err := checkpoint.Load(p.Pretrained, base, &meta); err != nil {
			return res, err
		}
		if meta.Layers == 0 || meta.Dim == 0 { // the metadata has none of Params' fields
			return res, fmt.Errorf("-pretrained %s is not a checkpoint of this command's pretraining (a nexttoken checkpoint, say): "+
				"name a new file to pretrain into, or one an earlier run of reinforce wrote", p.Pretrained)
		}
		if meta.Model() != cfg {
			return res, fmt.Errorf("%s holds a model of %d layers x %d wide, %d heads, for %d tokens; this run's is %d x %d, %d heads, %d tokens: pick another -pretrained",
				p.Pretrained, meta.Layers, meta.Dim, meta.Heads, meta.SeqLen(), p.Layers, p.Dim, p.Heads, p.SeqLen())
		}
		fmt.Fprintf(log, "loaded the pretrained model from %s\n", p.Pretrained)
	} else {
		until := ""
		if p.PretrainUntil > 0 {
			until = fmt.Sprintf(" at most, until the mean answer loss is %g nats/byte", p.PretrainUntil)
		}
		fmt.Fprintf(log, "pretraining a %d-parameter model on %d additions for %d steps%s\n", cfg.NumParams(), len(trainSet), p.PretrainSteps, until)
		if res.PretrainStepsTaken, err = Pretrain(b, p, base, trainSet, log); err != nil {
			return res, err
		}
		if p.Pretrained != "" {
			if err := checkpoint.Save(p.Pretrained, base, p); err != nil {
				return res, err
			}
		}
	}
	res.PretrainSeconds = time.Since(start).Seconds()
	pol, err := newPolicy(b, p, base, heldOut)
	if err != nil {
		return res, err
	}
	if res.Before, res.SamplesBefore, err = pol.evaluate(); err != nil {
		return res, err
	}
	fmt.Fprintf(log, "before RL: held-out mean reward %.3f sampled, %.3f greedy (%d prompts)\n", res.Before.Sampled, res.Before.Greedy, res.Before.N)
	draw := batcher.New(len(trainSet), p.Prompts, p.Seed+1)
	start = time.Now()
	for step := 1; step <= p.Steps; step++ {
		rec, err := pol.step(step, trainSet, draw.Next())
		if err != nil {
			return res, err
		}
		if step%p.EvalEvery == 0 || step == p.Steps {
			ev, samples, err := pol.evaluate()
			if err != nil {
				return res, err
			}
			res.After, res.SamplesAfter = ev, samples // the last one is the final evaluation
			rec.HeldOutReward, rec.HeldOutGreedy, rec.HeldOutN = ev.Sampled, ev.Greedy, float64(ev.N)
			fmt.Fprintf(log, "step %d: reward %.3f | KL %.4f | entropy %.3f | length %.2f | held-out %.3f sampled, %.3f greedy | %.0f s\n",
				step, rec.Reward, rec.KL, rec.Entropy, rec.Length, ev.Sampled, ev.Greedy, time.Since(start).Seconds())
		}
		res.History = append(res.History, rec)
	}
	if p.Steps == 0 {
		res.After, res.SamplesAfter = res.Before, res.SamplesBefore
	}
	res.RLSeconds = time.Since(start).Seconds()
	return res, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func newPolicy(b backends.Backend, p Params, base *context.Context, heldOut []Problem) (*policy, error) {
	cfg := p.Model()
	ctx, err := copyModel(base)
	if err != nil {
		return nil, err
	}
	refCtx, err := copyModel(base)
	if err != nil {
		return nil, err
	}
	pol := &policy{p: p, reward: Rewards[p.Reward], rng: rand.New(rand.NewPCG(p.Seed, 0x726c)), heldOut: heldOut}
	if pol.gen, err = transformer.NewGenerator(b, ctx, cfg); err != nil {
		return nil, err
	}
	if pol.inspect, err = context.NewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens *graph.Node) []*graph.Node {
		logp, ent := logpAndEntropy(cfg, ctx, tokens)
		return []*graph.Node{logp, ent}
	}); err != nil {
		return nil, err
	}
	if pol.ref, err = context.NewExec(b, refCtx.Reuse(), func(ctx *context.Context, tokens *graph.Node) *graph.Node {
		logp, _ := logpAndEntropy(cfg, ctx, tokens)
		return logp
	}); err != nil {
		return nil, err
	}
	ocfg := optim.DefaultAdamW(p.LR)
	ocfg.WeightDecay, ocfg.ClipNorm = 0, 1
	opt, err := optim.New(ocfg)
	if err != nil {
		return nil, err
	}
	// The model's variables exist (copied from the pretrained model); the optimizer's are new.
	pol.trainer = train.NewTrainer(b, ctx.Checked(false),
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{objective(p, cfg, ctx, in)}
		},
		func(_, out []*graph.Node) *graph.Node { return out[0] }, opt, nil, nil)
	return pol, nil
}

// episodes samples one batch: the prompts' completions (cut at the first newline), the whole token
// rows, each episode's length in tokens and reward.
func (pol *policy) episodes(problems []Problem, s lm.Sampling) (completions []string, rows [][]int32, lengths []int, rewards []float64, err error) {
	prompts := make([][]int32, len(problems))
	for i, pr := range problems {
		prompts[i] = bytesToTokens([]byte(pr.Prompt()))
	}
	gen, err := pol.gen.GenerateBatch(prompts, pol.p.MaxNew, s, pol.rng)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for i, pr := range problems {
		raw := make([]byte, len(gen[i]))
		for j, t := range gen[i] {
			raw[j] = byte(t)
		}
		c := Completion(raw)
		completions = append(completions, string(c))
		rows = append(rows, append(prompts[i], gen[i]...))
		lengths = append(lengths, len(c))
		rewards = append(rewards, pol.reward(pr, c))
	}
	return completions, rows, lengths, rewards, nil
}

func bytesToTokens(b []byte) []int32 {
	t := make([]int32, len(b))
	for i, c := range b {
		t[i] = int32(c)
	}
	return t
}

// step samples Group completions for each of the chosen training prompts, scores them, and
// updates the policy.
func (pol *policy) step(step int, trainSet []Problem, chosen []int) (Record, error) {
	p := pol.p
	var problems []Problem
	for _, j := range chosen {
		for range p.Group {
			problems = append(problems, trainSet[j])
		}
	}
	_, rows, lengths, rewards, err := pol.episodes(problems, lm.Sampling{Temperature: p.Temperature})
	if err != nil {
		return Record{}, err
	}
	outs, err := pol.inspect.Exec(rows)
	if err != nil {
		return Record{}, err
	}
	oldLogp, entropy := outs[0].Value().([][]float32), outs[1].Value().([][]float32)
	refOut, err := pol.ref.Exec(rows)
	if err != nil {
		return Record{}, err
	}
	refLogp := refOut[0].Value().([][]float32)
	var adv [][]float64
	if p.Algo == Reinforce {
		adv = ReinforceAdvantages(rewards, lengths, p.Gamma)
	} else {
		for i, a := range GroupAdvantages(rewards, p.Group) {
			adv = append(adv, constant(a, lengths[i]))
		}
	}
	n, l := len(rows), p.SeqLen()-1
	mask, advT := zeros(n, l), zeros(n, l)
	rec := Record{Step: step, HeldOutReward: math.NaN(), HeldOutGreedy: math.NaN(), HeldOutN: math.NaN()}
	var tokens float64
	for i := range n {
		for t := range lengths[i] {
			pos := PromptLen - 1 + t // the position that predicts generated token t
			mask[i][pos], advT[i][pos] = 1, float32(adv[i][t])
			rec.KL += KL3(float64(oldLogp[i][pos]), float64(refLogp[i][pos]))
			rec.Entropy += float64(entropy[i][pos])
			tokens++
		}
		rec.Reward += rewards[i]
		rec.Length += float64(lengths[i])
	}
	rec.KL /= tokens
	rec.Entropy /= tokens
	rec.Reward /= float64(n)
	rec.Length /= float64(n)
	inputs := []*tensors.Tensor{tensors.FromValue(rows), tensors.FromValue(mask), tensors.FromValue(advT),
		tensors.FromValue(oldLogp), tensors.FromValue(refLogp)}
	updates := 1
	if p.Algo == GRPO {
		updates = p.Inner
	}
	for range updates {
		metrics, err := pol.trainer.TrainStep(nil, inputs, nil)
		if err != nil {
			return rec, fmt.Errorf("RL step %d: %w", step, err)
		}
		loss := lm.LossValue(metrics[0])
		for _, m := range metrics {
			m.FinalizeAll()
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return rec, fmt.Errorf("RL step %d: the objective is %v; lower -lr", step, loss)
		}
	}
	return rec, nil
}

func constant(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func zeros(n, l int) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		out[i] = make([]float32, l)
	}
	return out
}

// evaluate measures the mean reward on held-out prompts, EvalSamples sampled completions and one
// greedy completion per prompt, in whole batches, and returns the completions of the first few
// prompts (the same prompts every time).
func (pol *policy) evaluate() (Eval, []Sample, error) {
	batch := pol.p.Batch()
	n := (pol.p.EvalPrompts + batch - 1) / batch * batch
	n = min(n, len(pol.heldOut)/batch*batch)
	var ev Eval
	var shown []Sample
	for s := 0; s < n; s += batch {
		problems := pol.heldOut[s : s+batch]
		greedy, _, _, rg, err := pol.episodes(problems, lm.Sampling{})
		if err != nil {
			return ev, nil, err
		}
		for k := range pol.p.EvalSamples {
			sampled, _, _, rs, err := pol.episodes(problems, lm.Sampling{Temperature: pol.p.Temperature})
			if err != nil {
				return ev, nil, err
			}
			for i := range problems {
				ev.Sampled += rs[i]
				if s == 0 && k == 0 && i < shownSamples {
					shown = append(shown, Sample{Prompt: problems[i].Prompt(), Sampled: sampled[i], Greedy: greedy[i]})
				}
			}
		}
		for i := range problems {
			ev.Greedy += rg[i]
		}
	}
	ev.N = n
	ev.Sampled /= float64(n * pol.p.EvalSamples)
	ev.Greedy /= float64(n)
	return ev, shown, nil
}
