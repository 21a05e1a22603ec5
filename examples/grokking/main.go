// Command grokking reproduces delayed generalisation on modular arithmetic: a small Transformer
// memorises part of the table of a ∘ b mod p, then, long after, generalises to the rest. See
// README.md for a run and what it shows.
//
//	go run ./examples/grokking                     # CPU default: a / b mod 31, 70% of pairs, with the weight-decay-0 control
//	go run ./examples/grokking -preset nanda       # Nanda et al. 2023 (p = 113), for a GPU
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/examples/grokking/grok"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		cli.PrintError(os.Stderr, "grokking", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	// The preset gives the other flags their defaults, so find it before defining them.
	preset := cli.PresetArg(args, "cpu")
	mk, ok := grok.Presets[preset]
	if !ok {
		return fmt.Errorf("-preset %q is not one of cpu, nanda, power", preset)
	}
	p := mk()
	fs := flag.NewFlagSet("grokking", flag.ContinueOnError)
	fs.String("preset", preset, "starting settings: cpu, nanda (p=113, 1 layer) or power (p=97, 2 layers)")
	out := fs.String("out", "runs/grokking", "output folder: grokking.csv, accuracy.png, weight_norm.png")
	control := fs.Bool("control", true, "also train the same setting with weight decay 0, same budget")
	op := string(p.Op)
	fs.StringVar(&op, "op", op, "operation: +, -, / (a·b⁻¹ mod p)")
	fs.IntVar(&p.P, "p", p.P, "prime modulus")
	fs.Float64Var(&p.TrainFrac, "frac", p.TrainFrac, "fraction of the table to train on")
	fs.IntVar(&p.Layers, "layers", p.Layers, "Transformer blocks")
	fs.IntVar(&p.Dim, "dim", p.Dim, "model width")
	fs.IntVar(&p.Heads, "heads", p.Heads, "attention heads")
	fs.Float64Var(&p.LR, "lr", p.LR, "learning rate (constant after 10 warmup steps)")
	fs.Float64Var(&p.WeightDecay, "weight-decay", p.WeightDecay, "AdamW decoupled weight decay")
	fs.Float64Var(&p.Beta2, "beta2", p.Beta2, "AdamW beta2")
	fs.IntVar(&p.Steps, "steps", p.Steps, "optimizer steps")
	fs.IntVar(&p.Batch, "batch", p.Batch, "equations per step (0 = the whole training set)")
	fs.IntVar(&p.EvalEvery, "eval-every", p.EvalEvery, "steps between measurements")
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the split, initialisation and batches")
	if help, err := cli.ParseFlags(fs, args, os.Stdout); help || err != nil {
		return err
	}
	p.Op = grok.Op(op)
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
	res, err := grok.Run(b, p, os.Stdout)
	if err != nil {
		return err
	}
	fmt.Printf("weight decay %g: %s (%.0f s)\n", p.WeightDecay, res.Summary(), res.Seconds)
	results := []grok.Result{res}
	if *control {
		c := p
		c.WeightDecay = 0
		ctrl, err := grok.Run(b, c, os.Stdout)
		if err != nil {
			return err
		}
		fmt.Printf("control, weight decay 0: %s (%.0f s)\n", ctrl.Summary(), ctrl.Seconds)
		results = append(results, ctrl)
	}
	if err := grok.Write(*out, results); err != nil {
		return err
	}
	fmt.Printf("wrote %s/grokking.csv, accuracy.png, weight_norm.png\n", *out)
	fmt.Println(res.Summary())
	return nil
}
