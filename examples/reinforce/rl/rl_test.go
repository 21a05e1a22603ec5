package rl

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/checkpoint"
)

func TestDiscountedReturns(t *testing.T) {
	// Reward 1 at the end of 4 tokens, γ = 0.5: 0.125, 0.25, 0.5, 1.
	require.InDeltaSlice(t, []float64{0.125, 0.25, 0.5, 1}, DiscountedReturns(1, 4, 0.5), 1e-15)
	require.InDeltaSlice(t, []float64{-2, -2, -2}, DiscountedReturns(-2, 3, 1), 1e-15)
	require.Empty(t, DiscountedReturns(1, 0, 0.9))
}

func TestReinforceAdvantages(t *testing.T) {
	// Rewards 1, 0, 0, 1: baseline 0.5. Episode 0 (3 tokens, γ=0.9): 0.5·(0.81, 0.9, 1).
	adv := ReinforceAdvantages([]float64{1, 0, 0, 1}, []int{3, 2, 1, 2}, 0.9)
	require.InDeltaSlice(t, []float64{0.405, 0.45, 0.5}, adv[0], 1e-12)
	require.InDeltaSlice(t, []float64{-0.45, -0.5}, adv[1], 1e-12)
	require.InDeltaSlice(t, []float64{-0.5}, adv[2], 1e-12)
	require.InDeltaSlice(t, []float64{0.45, 0.5}, adv[3], 1e-12)
	// All rewards equal: nothing to learn.
	for _, a := range ReinforceAdvantages([]float64{1, 1}, []int{2, 3}, 0.5) {
		for _, x := range a {
			require.Zero(t, x)
		}
	}
}

func TestGroupAdvantages(t *testing.T) {
	// Group (1, 0, 0, 0): mean 0.25, sample std sqrt(0.75/3) = 0.5 -> (1.5, -0.5, -0.5, -0.5)/(1+2e-4).
	// Group (1, 1, 0, 0): mean 0.5, std sqrt(1/3) -> ±0.5·sqrt(3).
	adv := GroupAdvantages([]float64{1, 0, 0, 0, 1, 1, 0, 0}, 4)
	d := 0.5 + 1e-4
	require.InDeltaSlice(t, []float64{0.75 / d, -0.25 / d, -0.25 / d, -0.25 / d}, adv[:4], 1e-12)
	s := math.Sqrt(1.0/3) + 1e-4
	require.InDeltaSlice(t, []float64{0.5 / s, 0.5 / s, -0.5 / s, -0.5 / s}, adv[4:], 1e-12)
	// A group with one reward for all: zeros (no division by zero).
	require.InDeltaSlice(t, []float64{0, 0, 0}, GroupAdvantages([]float64{0.7, 0.7, 0.7}, 3), 1e-9)
	require.Equal(t, []float64{0, 0}, GroupAdvantages([]float64{1, 1}, 2))
}

func TestKL3(t *testing.T) {
	// d = log π_ref - log π = log(0.2) - log(0.5): k3 = 0.4 - log(0.4) - 1.
	require.InDelta(t, 0.4-math.Log(0.4)-1, KL3(math.Log(0.5), math.Log(0.2)), 1e-12)
	require.Zero(t, KL3(-1.3, -1.3), "same policy: zero")
	require.Greater(t, KL3(-0.1, -3), 0.0)
	require.Greater(t, KL3(-3, -0.1), 0.0, "k3 is never negative")
	// Unbiased: over x ~ π, E[k3] = KL(π‖π_ref). π = (0.5, 0.3, 0.2), π_ref = (0.2, 0.3, 0.5).
	pi, ref := []float64{0.5, 0.3, 0.2}, []float64{0.2, 0.3, 0.5}
	var kl, ek3 float64
	for i := range pi {
		kl += pi[i] * math.Log(pi[i]/ref[i])
		ek3 += pi[i] * KL3(math.Log(pi[i]), math.Log(ref[i]))
	}
	require.InDelta(t, kl, ek3, 1e-12)
}

func TestGraphFormulas(t *testing.T) {
	b := backend.MustShared()
	logp := []float32{-0.7, -1.2, -0.1, -2.0}
	ref := []float32{-0.9, -1.2, -0.5, -0.3}
	got := graph.MustExecOnce(b, func(l, r *graph.Node) *graph.Node { return KL3Graph(l, r) }, logp, ref).Value().([]float32)
	for i := range logp {
		require.InDelta(t, KL3(float64(logp[i]), float64(ref[i])), float64(got[i]), 1e-6)
	}
	// Clipped surrogate, ε = 0.2, by hand: ρ=1.5,A=1 -> 1.2; ρ=1.5,A=-1 -> -1.5; ρ=0.5,A=1 -> 0.5;
	// ρ=0.5,A=-2 -> -1.6; ρ=1,A=3 -> 3.
	ratio := []float32{1.5, 1.5, 0.5, 0.5, 1}
	adv := []float32{1, -1, 1, -2, 3}
	s := graph.MustExecOnce(b, func(r, a *graph.Node) *graph.Node { return ClippedSurrogate(r, a, 0.2) }, ratio, adv).Value().([]float32)
	require.InDeltaSlice(t, []float32{1.2, -1.5, 0.5, -1.6, 3}, s, 1e-6)
}

func TestRewards(t *testing.T) {
	p := Problem{A: 7, B: 45}
	require.Equal(t, "07+45=", p.Prompt())
	require.Equal(t, "07+45=52\n", p.Line())
	for c, want := range map[string]float64{"52\n": 1, "52": 0, "53\n": 0, "052\n": 0, "5\n": 0, "\n": 0} {
		require.Equal(t, want, Correct(p, []byte(c)), "correct %q", c)
	}
	for c, want := range map[string]float64{"52\n": 1, "0\n": 1, "14\n": 1, "53\n": 0, "52": 0, "052\n": 0,
		"\n": 0, "5a\n": 0, "+2\n": 0, "100\n": 1} {
		require.Equal(t, want, Even(p, []byte(c)), "even %q", c)
	}
	require.Equal(t, "52\n", string(Completion([]byte("52\n7\n"))))
	require.Equal(t, "5237", string(Completion([]byte("5237"))))
	require.Len(t, Rewards, 2)
}

func TestProblems(t *testing.T) {
	train, held, err := Problems(0.2, 1)
	require.NoError(t, err)
	require.Len(t, train, 8000)
	require.Len(t, held, 2000)
	seen := map[Problem]bool{}
	for _, p := range append(append([]Problem{}, train...), held...) {
		require.False(t, seen[p])
		seen[p] = true
	}
	require.Len(t, seen, 10000)
	_, _, err = Problems(0, 1)
	require.Error(t, err)

	x, y, m := lineExample(Problem{A: 7, B: 45}, 10)
	require.Equal(t, []int32{'0', '7', '+', '4', '5', '=', '5', '2', '\n'}, x)
	require.Equal(t, []int32{'7', '+', '4', '5', '=', '5', '2', '\n', '\n'}, y)
	require.Equal(t, []float32{0, 0, 0, 0, 0, 1, 1, 1, 0}, m, "loss on the answer bytes and the first newline")
}

func TestValidate(t *testing.T) {
	require.NoError(t, CPUDefault().Validate())
	p := CPUDefault()
	p.Algo, p.Reward, p.Gamma, p.MaxNew = "ppo", "style", 0, 1
	err := p.Validate()
	for _, s := range []string{`-algo "ppo"`, `-reward "style"`, "-gamma 0", "-max-new 1"} {
		require.ErrorContains(t, err, s)
	}
	p = CPUDefault()
	p.Group = 1
	require.ErrorContains(t, p.Validate(), "GRPO needs at least 2 samples")
	p = CPUDefault()
	p.Prompts = 300
	require.ErrorContains(t, p.Validate(), "2400 answers per batch")
	for _, until := range []float64{-0.1, math.NaN(), math.Inf(1)} {
		p = CPUDefault()
		p.PretrainUntil = until
		require.ErrorContains(t, p.Validate(), fmt.Sprintf("-pretrain-until %g must be a non-negative number", until))
	}
	// Each bad value is named with its flag, on a line of its own.
	p = CPUDefault()
	p.Inner, p.EvalSamples, p.LR, p.KLCoef = 0, -2, math.NaN(), -1
	err = p.Validate()
	require.EqualError(t, err, "-inner 0 must be positive\n-eval-samples -2 must be positive\n-lr NaN must be a positive number\n-kl -1 must be a non-negative number")
}

// TestPretrainUntil: pretraining stops at the first step where the mean answer loss of the last 50
// steps is at most -pretrain-until, takes all steps (and says so) when it never gets there, and
// takes all without a word for 0.
func TestPretrainUntil(t *testing.T) {
	b := backend.MustShared()
	train, _, err := Problems(0.2, 1)
	require.NoError(t, err)
	for _, c := range []struct {
		until float64
		steps int
		log   string
	}{
		{1e9, 50, "pretraining stops at step 50"}, // any loss: the first full window
		{1e-9, 55, "took all 55 steps without reaching -pretrain-until 1e-09"},
		{0, 55, ""},
	} {
		p := CPUDefault()
		p.PretrainSteps, p.PretrainBatch, p.Layers, p.Dim, p.PretrainUntil = 55, 8, 1, 16, c.until
		ctx := context.New()
		require.NoError(t, ctx.SetRNGStateFromSeed(1))
		var log strings.Builder
		steps, err := Pretrain(b, p, ctx, train, &log)
		require.NoError(t, err)
		require.Equal(t, c.steps, steps, "-pretrain-until %g", c.until)
		if c.log != "" {
			require.Contains(t, log.String(), c.log)
		} else {
			require.NotContains(t, log.String(), "-pretrain-until")
		}
	}
}

// A few steps of each algorithm end to end: pretraining, sampling, updates, evaluation, outputs;
// then the pretrained checkpoint is reused, and the same seed gives the same run.
func TestSmokeRun(t *testing.T) {
	b := backend.MustShared()
	dir := t.TempDir()
	for _, algo := range []string{GRPO, Reinforce} {
		p := CPUDefault()
		p.Algo, p.Gamma, p.Steps, p.EvalEvery, p.Prompts, p.Group, p.EvalPrompts = algo, 0.9, 3, 2, 2, 4, 8
		p.PretrainSteps, p.PretrainBatch, p.Layers, p.Dim = 20, 16, 1, 16
		p.Pretrained = filepath.Join(dir, "pretrained.bin")
		var log strings.Builder
		res, err := Run(b, p, &log)
		require.NoError(t, err, log.String())
		require.Len(t, res.History, 3)
		for _, r := range res.History {
			require.True(t, r.Reward >= 0 && r.Reward <= 1)
			require.GreaterOrEqual(t, r.KL, 0.0)
			require.Greater(t, r.Entropy, 0.0)
			require.True(t, r.Length >= 1 && r.Length <= float64(p.MaxNew), "%+v", r)
		}
		require.False(t, math.IsNaN(res.History[1].HeldOutReward), "evaluated at step 2")
		require.True(t, math.IsNaN(res.History[0].HeldOutReward), "not at step 1")
		require.Len(t, res.SamplesBefore, 6)
		require.Equal(t, res.SamplesBefore[0].Prompt, res.SamplesAfter[0].Prompt, "the same held-out prompts")
		require.Equal(t, 8, res.After.N)
		require.NoError(t, Write(dir, res))
		if algo == Reinforce {
			require.Contains(t, log.String(), "loaded the pretrained model", "the second run reuses the checkpoint")
			again, err := Run(b, p, &strings.Builder{})
			require.NoError(t, err)
			again.RLSeconds, again.PretrainSeconds = res.RLSeconds, res.PretrainSeconds
			noNaN := func(r Result) Result { // NaN (not evaluated) is not equal to itself
				h := append([]Record(nil), r.History...)
				for i := range h {
					if math.IsNaN(h[i].HeldOutReward) {
						h[i].HeldOutReward, h[i].HeldOutGreedy, h[i].HeldOutN = -1, -1, -1
					}
				}
				r.History = h
				return r
			}
			require.Equal(t, noNaN(res), noNaN(again), "deterministic")
		}
	}
	// Another command's checkpoint (its metadata has none of Params' fields) is named as such.
	other := filepath.Join(dir, "other.bin")
	require.NoError(t, checkpoint.Save(other, context.New(), map[string]any{"step": 100, "model": "transformer"}))
	q := CPUDefault()
	q.Pretrained = other
	_, err := Run(b, q, &strings.Builder{})
	require.EqualError(t, err, "-pretrained "+other+" is not a checkpoint of this command's pretraining (a nexttoken checkpoint, say): "+
		"name a new file to pretrain into, or one an earlier run of reinforce wrote")
	csv, err := os.ReadFile(filepath.Join(dir, "reinforce.csv"))
	require.NoError(t, err)
	require.Equal(t, 4, strings.Count(string(csv), "\n"))
	require.True(t, strings.HasPrefix(string(csv), "step,reward,kl,entropy,length,heldout_reward_sampled,heldout_reward_greedy\n"))
	require.Contains(t, FormatSamples(Result{SamplesBefore: []Sample{{"01+02=", "3\n", "3\n"}}}), `01+02=  sampled "3\n"`)

	p := CPUDefault()
	p.Layers = 3
	p.Pretrained = filepath.Join(dir, "pretrained.bin")
	_, err = Run(b, p, &strings.Builder{})
	require.ErrorContains(t, err, "pick another -pretrained")
}
