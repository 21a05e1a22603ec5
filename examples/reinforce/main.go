// Command reinforce fine-tunes a small language model with reinforcement learning: it pretrains a
// byte-level Transformer on additions ("07+45=52"), keeps a frozen copy as the reference policy,
// then samples groups of answers to training prompts, scores them with a reward written in Go, and
// updates with REINFORCE (baseline, per-token discounted returns) or GRPO (group-normalised
// advantages, clipped ratio, k3 KL penalty). See README.md for a run.
//
//	go run ./examples/reinforce                                  # GRPO, reward "correct", CPU default
//	go run ./examples/reinforce -algo reinforce -gamma 0.9       # REINFORCE with discounted returns
//	go run ./examples/reinforce -reward even                     # a reward about form: even answers
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/examples/reinforce/rl"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		cli.PrintError(os.Stderr, "reinforce", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	p := rl.CPUDefault()
	fs := flag.NewFlagSet("reinforce", flag.ContinueOnError)
	out := fs.String("out", "runs/reinforce", "output folder: reinforce.csv, reinforce.png, samples.txt, pretrained.bin")
	fs.StringVar(&p.Algo, "algo", p.Algo, "reinforce or grpo")
	fs.StringVar(&p.Reward, "reward", p.Reward, "correct (the right sum) or even (a well-formed even number)")
	fs.Float64Var(&p.Gamma, "gamma", p.Gamma, "discount of REINFORCE's per-token returns")
	fs.IntVar(&p.Group, "group", p.Group, "samples per prompt (GRPO's G)")
	fs.IntVar(&p.Prompts, "prompts", p.Prompts, "prompts per step")
	fs.IntVar(&p.Steps, "steps", p.Steps, "RL steps")
	fs.Float64Var(&p.LR, "lr", p.LR, "RL learning rate (AdamW, constant, no weight decay, gradients clipped to norm 1)")
	fs.Float64Var(&p.KLCoef, "kl", p.KLCoef, "β: weight of the k3 KL penalty to the reference policy")
	fs.Float64Var(&p.ClipEps, "clip", p.ClipEps, "GRPO's ratio clip ε")
	fs.IntVar(&p.Inner, "inner", p.Inner, "GRPO's updates per batch of samples")
	fs.Float64Var(&p.Temperature, "temperature", p.Temperature, "sampling temperature")
	fs.IntVar(&p.MaxNew, "max-new", p.MaxNew, "tokens generated per answer")
	fs.IntVar(&p.EvalEvery, "eval-every", p.EvalEvery, "RL steps between held-out evaluations")
	fs.IntVar(&p.EvalPrompts, "eval-prompts", p.EvalPrompts, "held-out prompts per evaluation (rounded to whole batches)")
	fs.IntVar(&p.EvalSamples, "eval-samples", p.EvalSamples, "sampled answers per held-out prompt in each evaluation")
	fs.IntVar(&p.Layers, "layers", p.Layers, "Transformer blocks")
	fs.IntVar(&p.Dim, "dim", p.Dim, "model width")
	fs.IntVar(&p.Heads, "heads", p.Heads, "attention heads")
	fs.IntVar(&p.PretrainSteps, "pretrain-steps", p.PretrainSteps, "pretraining steps on the training additions, at most")
	fs.Float64Var(&p.PretrainUntil, "pretrain-until", p.PretrainUntil, "stop pretraining once the answer loss, averaged over the last 50 steps, is at most this many nats/byte (0: take all -pretrain-steps)")
	fs.IntVar(&p.PretrainBatch, "pretrain-batch", p.PretrainBatch, "pretraining sequences per step")
	fs.Float64Var(&p.PretrainLR, "pretrain-lr", p.PretrainLR, "pretraining peak learning rate (cosine)")
	pretrained := fs.String("pretrained", "", "checkpoint of the pretrained model: loaded when it exists, else written after pretraining (default <out>/pretrained.bin)")
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the split, initialisation, sampling")
	if help, err := cli.ParseFlags(fs, args, os.Stdout); help || err != nil {
		return err
	}
	p.Pretrained = *pretrained
	if p.Pretrained == "" {
		p.Pretrained = filepath.Join(*out, "pretrained.bin")
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := cli.OutputDir(*out); err != nil {
		return err
	}
	b, err := backend.New()
	if err != nil {
		return err
	}
	fmt.Printf("backend: %s\n", backend.Config())
	res, err := rl.Run(b, p, os.Stdout)
	if err != nil {
		return err
	}
	if err := rl.Write(*out, res); err != nil {
		return err
	}
	samples := rl.FormatSamples(res)
	if err := os.WriteFile(filepath.Join(*out, "samples.txt"), []byte(samples), 0o644); err != nil {
		return err
	}
	fmt.Print(samples)
	lastKL := 0.0
	if len(res.History) > 0 {
		lastKL = res.History[len(res.History)-1].KL
	}
	fmt.Printf("held-out mean reward (%d prompts; %d samples each, and greedy): sampled %.3f -> %.3f, greedy %.3f -> %.3f; KL at the end %.4f nats/token; RL %.1f min, pretraining %.1f min\n",
		res.After.N, p.EvalSamples, res.Before.Sampled, res.After.Sampled, res.Before.Greedy, res.After.Greedy, lastKL, res.RLSeconds/60, res.PretrainSeconds/60)
	fmt.Printf("wrote %s/reinforce.csv, reinforce.png, samples.txt\n", *out)
	return nil
}
