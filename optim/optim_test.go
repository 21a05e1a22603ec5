package optim_test

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
	"github.com/bitterlesson/bitter/optim"
)

type optimCase struct {
	Init   map[string]golden.Array
	Grads  []map[string]golden.Array
	After  []map[string]golden.Array
	LR     float64 `json:"lr"`
	Warmup int
	Total  int
	Floor  float64
	WD     float64 `json:"wd"`
	Clip   float64
	Beta2  float64
	Algo   string `json:"algorithm"`
}

func (c optimCase) config() optim.Config {
	cfg := optim.DefaultAdamW(c.LR)
	if c.Algo == "lion" {
		cfg = optim.DefaultLion(c.LR)
	}
	if c.Warmup > 0 {
		cfg.LR = optim.Schedule{Kind: optim.Cosine, Peak: c.LR, WarmupSteps: c.Warmup, TotalSteps: c.Total, Floor: c.Floor}
	}
	if c.Beta2 > 0 {
		cfg.Beta2 = c.Beta2
	}
	cfg.WeightDecay = c.WD
	cfg.ClipNorm = c.Clip
	return cfg
}

// TestOptimizerGolden runs 10 steps from PyTorch's initial parameters with PyTorch's gradients and
// compares the parameters after every step: torch.optim.AdamW (with decay groups, clipping and a
// warmup-cosine LambdaLR) and the Lion update of its paper. Within 1e-6 in float32, 1e-12 in float64.
func TestOptimizerGolden(t *testing.T) {
	var f struct{ Cases map[string]optimCase }
	require.NoError(t, golden.Load("testdata/golden.json", &f))
	require.Len(t, f.Cases, 3)
	for name, c := range f.Cases {
		for _, dtype := range []dtypes.DType{dtypes.Float32, dtypes.Float64} {
			t.Run(name+"/"+dtype.String(), func(t *testing.T) {
				tol := 1e-6
				if dtype == dtypes.Float64 {
					tol = 1e-12
				}
				opt, err := optim.New(c.config())
				require.NoError(t, err)
				ctx := context.New()
				model := ctx.In("model")
				w := model.VariableWithValue("w", c.Init["w"].Tensor(dtype))
				b := model.In("bias_scope").VariableWithValue("b", c.Init["b"].Tensor(dtype))
				require.True(t, opt.Decays(w))
				require.False(t, opt.Decays(b))
				exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, gw, gb *graph.Node) *graph.Node {
					g := gw.Graph()
					grads := map[string]*graph.Node{"w": gw, "b": gb}
					var ordered []*graph.Node
					for v := range ctx.IterVariables() {
						if v.Trainable {
							v.ValueGraph(g)
							ordered = append(ordered, grads[v.Name()])
						}
					}
					opt.UpdateGraphWithGradients(ctx, ordered, dtype)
					return graph.ScalarZero(g, dtype)
				})
				require.NoError(t, err)
				for step := range c.Grads {
					_, err := exec.Exec(c.Grads[step]["w"].Tensor(dtype), c.Grads[step]["b"].Tensor(dtype))
					require.NoError(t, err)
					for name, v := range map[string]*context.Variable{"w": w, "b": b} {
						want := c.After[step][name].Data
						got := golden.Float64s(v.MustValue())
						for i := range want {
							require.InDelta(t, want[i], got[i], tol, "step %d, %s[%d]", step+1, name, i)
						}
					}
				}
				require.InDelta(t, c.config().LR.At(len(c.Grads)), optim.LearningRate(ctx), 1e-9)
			})
		}
	}
}

func TestScheduleFormulas(t *testing.T) {
	cases := []struct {
		s    optim.Schedule
		want map[int]float64
	}{
		{optim.ConstantLR(0.5), map[int]float64{1: 0.5, 1000: 0.5}},
		{optim.Schedule{Kind: optim.Constant, Peak: 1, WarmupSteps: 4}, map[int]float64{1: 0.25, 4: 1, 5: 1}},
		{optim.Schedule{Kind: optim.Cosine, Peak: 1, WarmupSteps: 10, TotalSteps: 110, Floor: 0.1},
			map[int]float64{5: 0.5, 10: 1, 60: 0.55, 110: 0.1, 500: 0.1, 35: 0.1 + 0.9*(1+math.Cos(math.Pi/4))/2}},
		{optim.Schedule{Kind: optim.Linear, Peak: 2, WarmupSteps: 0, TotalSteps: 100, Floor: 0},
			map[int]float64{0: 2, 50: 1, 75: 0.5, 100: 0, 200: 0}},
		{optim.Schedule{Kind: optim.Noam, Peak: 1, WarmupSteps: 100},
			map[int]float64{1: 0.01, 50: 0.5, 100: 1, 400: 0.5, 10000: 0.1}},
	}
	b := backend.MustShared()
	for _, c := range cases {
		require.NoError(t, c.s.Validate())
		for step, want := range c.want {
			require.InDelta(t, want, c.s.At(step), 1e-12, "%+v at %d", c.s, step)
			got, err := graph.ExecOnce(b, func(s *graph.Node) *graph.Node { return c.s.Graph(s) }, float64(step))
			require.NoError(t, err)
			require.InDelta(t, want, got.Value().(float64), 1e-12, "graph %+v at %d", c.s, step)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	bad := optim.DefaultAdamW(1e-3)
	bad.Beta1 = 1
	bad.ClipNorm = -1
	bad.LR.Peak = 0
	err := bad.Validate()
	require.ErrorContains(t, err, "Beta1 1 must be in [0, 1)")
	require.ErrorContains(t, err, "ClipNorm -1 must be a non-negative number")
	require.ErrorContains(t, err, "schedule Peak 0 must be a positive number")
	_, err = optim.New(bad)
	require.Error(t, err)
	require.ErrorContains(t, optim.Schedule{Kind: optim.Cosine, Peak: 1, WarmupSteps: 10, TotalSteps: 10}.Validate(),
		"needs TotalSteps (10) > WarmupSteps (10)")
	require.ErrorContains(t, optim.Schedule{Kind: "step", Peak: 1}.Validate(), `schedule kind "step" is not one of`)
}

// TestGradNormLogged checks the logged learning rate and pre-clipping gradient norm, and the first
// AdamW step through UpdateGraph (the path train.Trainer takes): m̂/sqrt(v̂) = sign(g), so each
// coordinate moves by lr (a rank-1 variable is not decayed).
func TestGradNormLogged(t *testing.T) {
	cfg := optim.DefaultAdamW(0.1)
	cfg.ClipNorm = 1
	opt, err := optim.New(cfg)
	require.NoError(t, err)
	ctx := context.New()
	ctx.In("m").VariableWithValue("x", []float32{3, 4})
	exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, g *graph.Graph) *graph.Node {
		x := ctx.In("m").GetVariable("x").ValueGraph(g)
		loss := graph.ReduceAllSum(graph.Mul(graph.Const(g, []float32{3, 4}), x)) // gradient (3, 4), norm 5
		opt.UpdateGraph(ctx, g, loss)
		return loss
	})
	require.NoError(t, err)
	_, err = exec.Exec()
	require.NoError(t, err)
	require.InDelta(t, 5, optim.GradNorm(ctx), 1e-6)
	require.InDelta(t, 0.1, optim.LearningRate(ctx), 1e-7) // computed in float32
	got := tensors.MustCopyFlatData[float32](ctx.In("m").GetVariable("x").MustValue())
	require.InDelta(t, 3-0.1, got[0], 1e-5) // rank 1: not decayed
	require.InDelta(t, 4-0.1, got[1], 1e-5)
}
