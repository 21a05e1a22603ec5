package optim

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/gomlx/gomlx/pkg/ml/train/optimizers"
)

// Algorithm names an optimizer.
type Algorithm string

// Algorithms.
const (
	// AdamW is Adam with decoupled weight decay (Loshchilov & Hutter 2019), as torch.optim.AdamW.
	AdamW Algorithm = "adamw"
	// Lion is the sign-momentum optimizer of Chen et al. 2023, "Symbolic Discovery of Optimization
	// Algorithms": c = β1·m + (1-β1)·g; p -= lr·(sign(c) + wd·p); m = β2·m + (1-β2)·g.
	Lion Algorithm = "lion"
)

// Scope is the root scope of the optimizer's variables: its moments (under "m" and "v", mirroring
// each trained variable's scope), and the logged "learning_rate" and "grad_norm".
const Scope = "optimizer"

// Config configures an optimizer. Start from [DefaultAdamW] or [DefaultLion].
type Config struct {
	// Algorithm is adamw or lion.
	Algorithm Algorithm
	// LR is the learning-rate schedule.
	LR Schedule
	// Beta1 and Beta2 are the moment decay rates (AdamW: 0.9, 0.999; Lion: 0.9, 0.99).
	Beta1, Beta2 float64
	// Epsilon is AdamW's denominator term (1e-8); unused by Lion.
	Epsilon float64
	// WeightDecay is the decoupled weight decay coefficient, applied as p -= lr·WeightDecay·p
	// (e.g. 0.1; 0 = off).
	WeightDecay float64
	// ClipNorm clips gradients to this global L2 norm before the update, as
	// torch.nn.utils.clip_grad_norm_ (0 = off).
	ClipNorm float64
	// DecayEmbeddings also decays embedding tables. By default norms, biases (any variable of rank
	// <= 1) and embeddings (a variable named "embeddings") are not decayed.
	DecayEmbeddings bool
	// NoDecay, when set, replaces the default rule: it returns true for variables not to decay.
	NoDecay func(v *context.Variable) bool
}

// DefaultAdamW returns torch.optim.AdamW's defaults (betas 0.9, 0.999, eps 1e-8, weight decay 0.01)
// with a constant learning rate lr.
func DefaultAdamW(lr float64) Config {
	return Config{Algorithm: AdamW, LR: ConstantLR(lr), Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0.01}
}

// DefaultLion returns Lion's defaults from its paper (betas 0.9, 0.99) with a constant learning rate
// lr (typically 3-10x smaller than AdamW's) and no weight decay.
func DefaultLion(lr float64) Config {
	return Config{Algorithm: Lion, LR: ConstantLR(lr), Beta1: 0.9, Beta2: 0.99}
}

// Validate returns an error naming every bad value, or nil.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Algorithm != AdamW && c.Algorithm != Lion {
		add("Algorithm %q is not one of adamw, lion", c.Algorithm)
	}
	if err := c.LR.Validate(); err != nil {
		errs = append(errs, err)
	}
	if !(c.Beta1 >= 0 && c.Beta1 < 1) {
		add("Beta1 %g must be in [0, 1)", c.Beta1)
	}
	if !(c.Beta2 >= 0 && c.Beta2 < 1) {
		add("Beta2 %g must be in [0, 1)", c.Beta2)
	}
	if c.Algorithm == AdamW && !(c.Epsilon > 0) {
		add("Epsilon %g must be positive", c.Epsilon)
	}
	if !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0) {
		add("WeightDecay %g must be a non-negative number", c.WeightDecay)
	}
	if !(c.ClipNorm >= 0) || math.IsInf(c.ClipNorm, 0) {
		add("ClipNorm %g must be a non-negative number (0 = off)", c.ClipNorm)
	}
	if len(errs) > 0 {
		return fmt.Errorf("optim.Config: %w", errors.Join(errs...))
	}
	return nil
}

// Optimizer implements GoMLX's optimizers.Interface (so it plugs into train.Trainer) and
// train.OptimizeWithGradients (so train.Trainer.AccumulateGradients accumulates micro-batches).
type Optimizer struct {
	cfg Config
}

var (
	_ optimizers.Interface        = (*Optimizer)(nil)
	_ train.OptimizeWithGradients = (*Optimizer)(nil)
)

// New returns an optimizer for a valid config.
func New(cfg Config) (*Optimizer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Optimizer{cfg: cfg}, nil
}

// Config returns the optimizer's configuration.
func (o *Optimizer) Config() Config { return o.cfg }

// Decays reports whether weight decay applies to v.
func (o *Optimizer) Decays(v *context.Variable) bool {
	if o.cfg.NoDecay != nil {
		return !o.cfg.NoDecay(v)
	}
	if v.Shape().Rank() <= 1 {
		return false
	}
	if !o.cfg.DecayEmbeddings && (v.Name() == "embeddings" || strings.HasSuffix(v.Scope(), "_embeddings")) {
		return false
	}
	return true
}

// UpdateGraph builds the gradients of loss with respect to the trainable variables used by g and
// applies one optimizer step to them.
func (o *Optimizer) UpdateGraph(ctx *context.Context, g *graph.Graph, loss *graph.Node) {
	grads := ctx.BuildTrainableVariablesGradientsGraph(loss)
	o.UpdateGraphWithGradients(ctx, grads, loss.DType())
}

// UpdateGraphWithGradients applies one step given the gradients, in the order of the trainable
// variables used by their graph (the order of ctx.BuildTrainableVariablesGradientsGraph).
func (o *Optimizer) UpdateGraphWithGradients(ctx *context.Context, grads []*graph.Node, lossDType dtypes.DType) {
	if len(grads) == 0 {
		panic("optim: no gradients: are there trainable variables?")
	}
	g := grads[0].Graph()
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if v.Trainable && v.InUseByGraph(g) {
			vars = append(vars, v)
		}
	}
	if len(vars) != len(grads) {
		panic(fmt.Sprintf("optim: %d gradients for %d trainable variables in use", len(grads), len(vars)))
	}
	dtype := dtypes.Float32
	if lossDType == dtypes.Float64 {
		dtype = dtypes.Float64
	}
	step := optimizers.IncrementGlobalStepGraph(ctx, g, dtype) // 1-based step being taken.
	lr := o.cfg.LR.Graph(step)
	octx := ctx.InAbsPath("/" + Scope).Checked(false)
	octx.VariableWithValue("learning_rate", 0.0).SetTrainable(false).SetValueGraph(graph.ConvertDType(lr, dtypes.Float64))

	// Global norm (before clipping), logged, and clipping as torch's clip_grad_norm_. The variables'
	// sums of squares add up in scope-and-name order, not in the order the context made the variables
	// (a model builds them in its own order, a checkpoint loads them sorted), so that a resumed run
	// computes the norm, and clips, exactly as the uninterrupted one.
	order := make([]int, len(vars))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(vars[a].ScopeAndName(), vars[b].ScopeAndName()) })
	var sumSq *graph.Node
	for _, i := range order {
		s := graph.ReduceAllSum(graph.Square(graph.ConvertDType(grads[i], dtype)))
		if sumSq == nil {
			sumSq = s
		} else {
			sumSq = graph.Add(sumSq, s)
		}
	}
	norm := graph.Sqrt(sumSq)
	octx.VariableWithValue("grad_norm", 0.0).SetTrainable(false).SetValueGraph(graph.ConvertDType(norm, dtypes.Float64))
	if o.cfg.ClipNorm > 0 {
		coef := graph.Min(graph.ScalarOne(g, dtype), graph.Div(graph.Scalar(g, dtype, o.cfg.ClipNorm), graph.AddScalar(norm, 1e-6)))
		for i := range grads {
			grads[i] = graph.Mul(grads[i], graph.ConvertDType(coef, grads[i].DType()))
		}
	}

	for i, v := range vars {
		o.apply(octx, v, grads[i], step, lr)
	}
}

// apply updates one variable.
func (o *Optimizer) apply(octx *context.Context, v *context.Variable, grad, step, lr *graph.Node) {
	g := grad.Graph()
	dt := v.DType()
	c := func(x float64) *graph.Node { return graph.Scalar(g, dt, x) }
	p := v.ValueGraph(g)
	lrV := graph.ConvertDType(lr, dt)
	grad = graph.ConvertDType(grad, dt)
	moment := func(name string) *context.Variable {
		return octx.InAbsPath("/"+Scope+"/"+name+v.Scope()).WithInitializer(initializers.Zero).
			VariableWithShape(v.Name(), v.Shape()).SetTrainable(false)
	}
	b1, b2 := o.cfg.Beta1, o.cfg.Beta2
	decay := o.cfg.WeightDecay > 0 && o.Decays(v)
	switch o.cfg.Algorithm {
	case AdamW:
		mVar, vVar := moment("m"), moment("v")
		if decay {
			p = graph.Sub(p, graph.Mul(graph.MulScalar(lrV, o.cfg.WeightDecay), p))
		}
		m := graph.Add(graph.MulScalar(mVar.ValueGraph(g), b1), graph.MulScalar(grad, 1-b1))
		s := graph.Add(graph.MulScalar(vVar.ValueGraph(g), b2), graph.MulScalar(graph.Square(grad), 1-b2))
		stepDT := graph.ConvertDType(step, dt)
		bc1 := graph.OneMinus(graph.Pow(c(b1), stepDT))
		bc2 := graph.OneMinus(graph.Pow(c(b2), stepDT))
		// torch: p -= (lr / bc1) · m / (sqrt(s) / sqrt(bc2) + eps)
		denom := graph.AddScalar(graph.Div(graph.Sqrt(s), graph.Sqrt(bc2)), o.cfg.Epsilon)
		p = graph.Sub(p, graph.Mul(graph.Div(lrV, bc1), graph.Div(m, denom)))
		mVar.SetValueGraph(m)
		vVar.SetValueGraph(s)
	case Lion:
		mVar := moment("m")
		m := mVar.ValueGraph(g)
		update := graph.Sign(graph.Add(graph.MulScalar(m, b1), graph.MulScalar(grad, 1-b1)))
		if decay {
			update = graph.Add(update, graph.MulScalar(p, o.cfg.WeightDecay))
		}
		p = graph.Sub(p, graph.Mul(lrV, update))
		mVar.SetValueGraph(graph.Add(graph.MulScalar(m, b2), graph.MulScalar(grad, 1-b2)))
	}
	v.SetValueGraph(p)
}

// Clear deletes the optimizer's state (moments and logged values).
func (o *Optimizer) Clear(ctx *context.Context) error {
	return ctx.InAbsPath("/" + Scope).DeleteVariablesInScope()
}

// LearningRate returns the learning rate of the last step (0 before the first).
func LearningRate(ctx *context.Context) float64 { return loggedValue(ctx, "learning_rate") }

// GradNorm returns the global gradient norm of the last step, before clipping (0 before the first).
func GradNorm(ctx *context.Context) float64 { return loggedValue(ctx, "grad_norm") }

func loggedValue(ctx *context.Context, name string) float64 {
	v := ctx.GetVariableByScopeAndName("/"+Scope, name)
	if v == nil {
		return 0
	}
	t, err := v.Value()
	if err != nil {
		return math.NaN()
	}
	f, ok := t.Value().(float64)
	if !ok {
		return math.NaN()
	}
	return f
}
