// Command doubledescent reproduces model-wise double descent with Transformers: a sweep over model
// width on a small training set with noisy labels. Test error falls, rises to a peak where the
// models are just big enough to fit the noisy labels (the interpolation threshold), then falls
// again. See README.md for a run and what it shows.
//
//	go run ./examples/doubledescent                  # CPU default (2 cores, pure-Go backend)
//	go run ./examples/doubledescent -preset gpu      # larger sweep, three seeds, for a GPU
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/examples/doubledescent/dd"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		cli.PrintError(os.Stderr, "doubledescent", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	preset := cli.PresetArg(args, "cpu")
	mk, ok := dd.Presets[preset]
	if !ok {
		return fmt.Errorf("-preset %q is not one of cpu, gpu", preset)
	}
	p := mk()
	fs := flag.NewFlagSet("doubledescent", flag.ContinueOnError)
	fs.String("preset", preset, "starting settings: cpu or gpu")
	out := fs.String("out", "runs/doubledescent", "output folder: doubledescent.csv, doubledescent.png")
	widths := fs.String("widths", joinInts(p.Widths), "comma-separated model widths to sweep")
	seeds := fs.String("seeds", joinUints(p.Seeds), "comma-separated seeds (split, noise, initialisation); the curve is their mean")
	fs.IntVar(&p.Task.Vocab, "vocab", p.Task.Vocab, "alphabet size of the counting task")
	fs.IntVar(&p.Task.SeqLen, "seq", p.Task.SeqLen, "sequence length (classes: 0..seq occurrences of symbol 0)")
	fs.IntVar(&p.Train, "train", p.Train, "training examples")
	fs.IntVar(&p.Test, "test", p.Test, "held-out test examples (clean labels)")
	fs.Float64Var(&p.Noise, "noise", p.Noise, "fraction of training labels replaced by a random other class")
	fs.IntVar(&p.Layers, "layers", p.Layers, "Transformer blocks")
	fs.IntVar(&p.Steps, "steps", p.Steps, "optimizer steps for every model")
	fs.IntVar(&p.Batch, "batch", p.Batch, "examples per step (0 = the whole training set)")
	fs.Float64Var(&p.LR, "lr", p.LR, "Adam learning rate (constant after 10 warmup steps; no weight decay)")
	if help, err := cli.ParseFlags(fs, args, os.Stdout); help || err != nil {
		return err
	}
	var err error
	if p.Widths, err = parseList(*widths, "-widths", strconv.Atoi); err != nil {
		return err
	}
	if p.Seeds, err = parseList(*seeds, "-seeds", func(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }); err != nil {
		return err
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
	fmt.Printf("task: count symbol 0 in %d symbols of %d (%d classes); %d train examples, %.0f%% labels noisy; %d clean test examples\n",
		p.Task.SeqLen, p.Task.Vocab, p.Task.Classes(), p.Train, 100*p.Noise, p.Test)
	start := time.Now()
	pts, err := dd.Sweep(b, p, os.Stdout)
	if err != nil {
		return err
	}
	if err := dd.Write(*out, p, pts); err != nil {
		return err
	}
	curve := dd.Mean(pts)
	fmt.Printf("wrote %s/doubledescent.csv, doubledescent.png (%.1f min)\n", *out, time.Since(start).Minutes())
	fmt.Println(dd.Judge(curve).Summary(curve))
	return nil
}

func parseList[T any](s, flagName string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", flagName, f)
		}
		out = append(out, v)
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func joinUints(xs []uint64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatUint(x, 10)
	}
	return strings.Join(s, ",")
}
