package rl

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bitterlesson/bitter/internal/chart"
)

// Write saves reinforce.csv (a row per RL step) and reinforce.png (rewards and KL against step)
// into dir.
func Write(dir string, res Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "reinforce.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"step", "reward", "kl", "entropy", "length", "heldout_reward_sampled", "heldout_reward_greedy"})
	num := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', 5, 64)
	}
	train := chart.Series{Name: "mean reward, training batches (mean of the last 10 steps)", Color: 1}
	held := chart.Series{Name: "mean reward, held-out prompts (sampled)", Color: 3}
	greedy := chart.Series{Name: "mean reward, held-out prompts (greedy)", Color: 3, Dashed: true}
	kl := chart.Series{Name: "KL to the reference, per token (k3; mean of the last 10 steps)", Color: 4}
	held.X, held.Y = append(held.X, 0), append(held.Y, res.Before.Sampled)
	greedy.X, greedy.Y = append(greedy.X, 0), append(greedy.Y, res.Before.Greedy)
	for i, r := range res.History {
		_ = w.Write([]string{strconv.Itoa(r.Step), num(r.Reward), num(r.KL), num(r.Entropy), num(r.Length),
			num(r.HeldOutReward), num(r.HeldOutGreedy)})
		x := float64(r.Step)
		// The per-step values are of 16 prompts each: the chart shows their trailing 10-step means.
		var reward, div float64
		window := res.History[max(0, i-9) : i+1]
		for _, h := range window {
			reward, div = reward+h.Reward, div+h.KL
		}
		train.X, train.Y = append(train.X, x), append(train.Y, reward/float64(len(window)))
		kl.X, kl.Y = append(kl.X, x), append(kl.Y, div/float64(len(window)))
		if !math.IsNaN(r.HeldOutReward) {
			held.X, held.Y = append(held.X, x), append(held.Y, r.HeldOutReward)
			greedy.X, greedy.Y = append(greedy.X, x), append(greedy.Y, r.HeldOutGreedy)
		}
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return err
	}
	p := res.Params
	title := fmt.Sprintf("%s, reward %q, %d prompts x %d samples per step, β=%g", p.Algo, p.Reward, p.Prompts, p.Group, p.KLCoef)
	return chart.Chart{Title: title, XLabel: "RL step", YLabel: "reward (0-1); KL (nats/token)", YMax: 1.35,
		Series: []chart.Series{train, held, greedy, kl}}.Save(filepath.Join(dir, "reinforce.png"))
}

// FormatSamples shows the fixed held-out prompts' completions before and after RL.
func FormatSamples(res Result) string {
	var s string
	show := func(title string, samples []Sample) {
		s += title + "\n"
		for _, x := range samples {
			s += fmt.Sprintf("  %s  sampled %-8q greedy %q\n", x.Prompt, x.Sampled, x.Greedy)
		}
	}
	show("held-out samples before RL:", res.SamplesBefore)
	show("held-out samples after RL:", res.SamplesAfter)
	return s
}
