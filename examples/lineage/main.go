// Command lineage measures what each family of language model buys per unit of compute, on one
// text and one split: interpolated Kneser-Ney byte n-grams, a hidden Markov model, an LSTM, a GRU and
// a Transformer, each at several training-compute budgets, reporting validation bits per byte,
// parameters, training FLOPs (for the n-gram, its counting operations) and wall time: a CSV, a chart of
// bits per byte against training compute (the bitter-lesson picture) and a table.
//
//	go run ./examples/lineage                      # tiny Shakespeare, 2 CPU cores, about 12 minutes
//	go run ./examples/lineage -preset gpu          # budgets 100x larger, for a GPU (GOMLX_BACKEND=xla:cuda)
//	go run ./examples/lineage -families ngram,hmm -budgets 1e11
//
// Run with -h for every flag.
package main

import (
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
)

//go:embed testdata/tinyshakespeare.txt
var tinyShakespeare []byte

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		cli.PrintError(os.Stderr, "lineage", err)
		os.Exit(1)
	}
}

// options are the flags.
type options struct {
	data, out, families, budgets, orders string
	preset                               string
	seq, batch                           int
	seed                                 uint64
}

// presets: budgets in training FLOPs for the networks, and the n-gram's orders.
var presets = map[string]struct{ budgets, orders string }{
	"cpu": {"3e11,1e12,3e12,6e12", "1,2,3,4,5,6"},
	"gpu": {"3e13,1e14,3e14,1e15", "1,2,3,4,5,6,8"},
}

func run(args []string, stdout, stderr io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	o := options{out: "runs/lineage", families: strings.Join(allFamilies, ","), preset: "cpu", seq: 128, batch: 16, seed: 1}
	fs := flag.NewFlagSet("lineage", flag.ContinueOnError)
	fs.StringVar(&o.data, "data", "", "the text (default: tiny Shakespeare, 1,115,394 bytes, in the command); the first 90% trains, the rest validates")
	fs.StringVar(&o.out, "out", o.out, "folder for lineage.csv, lineage.png and each run's files")
	fs.StringVar(&o.families, "families", o.families, "comma-separated families: "+strings.Join(allFamilies, ", "))
	fs.StringVar(&o.preset, "preset", o.preset, "cpu (2 cores, about 12 minutes) or gpu (budgets 100x larger)")
	fs.StringVar(&o.budgets, "budgets", "", "comma-separated training budgets in FLOPs for the networks (default: the preset's)")
	fs.StringVar(&o.orders, "orders", "", "comma-separated n-gram orders, the n-gram's budgets (default: the preset's)")
	fs.IntVar(&o.seq, "seq", o.seq, "training sequence length of the networks")
	fs.IntVar(&o.batch, "batch", o.batch, "sequences per step of the networks")
	fs.Uint64Var(&o.seed, "seed", o.seed, "seed of every run")
	if help, err := cli.ParseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	p, ok := presets[o.preset]
	if !ok {
		return fmt.Errorf("-preset %q is not cpu or gpu", o.preset)
	}
	if o.budgets == "" {
		o.budgets = p.budgets
	}
	if o.orders == "" {
		o.orders = p.orders
	}
	plan, err := o.plan()
	if err != nil {
		return err
	}
	text := tinyShakespeare
	if o.data != "" {
		if text, err = os.ReadFile(o.data); err != nil {
			return fmt.Errorf("-data: %w", err)
		}
	}
	if err := cli.OutputDir(o.out); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	return plan.run(text, stdout, stderr)
}

// plan parses the flags into the runs to make.
func (o options) plan() (*plan, error) {
	var errs []error
	p := &plan{out: o.out, seq: o.seq, batch: o.batch, seed: o.seed}
	for _, f := range data.SplitList(o.families) {
		if !slices.Contains(allFamilies, f) {
			errs = append(errs, fmt.Errorf("-families: %q is not one of %s", f, strings.Join(allFamilies, ", ")))
		}
		p.families = append(p.families, f)
	}
	if len(p.families) == 0 {
		errs = append(errs, errors.New("-families names none"))
	}
	for _, b := range data.SplitList(o.budgets) {
		v, err := strconv.ParseFloat(b, 64)
		if err != nil || !(v > 0) || v > 1e20 {
			errs = append(errs, fmt.Errorf("-budgets: %q is not a number of FLOPs above 0", b))
			continue
		}
		p.budgets = append(p.budgets, v)
	}
	for _, s := range data.SplitList(o.orders) {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 16 {
			errs = append(errs, fmt.Errorf("-orders: %q is not an order in [1, 16]", s))
			continue
		}
		p.orders = append(p.orders, v)
	}
	if o.seq < 2 || o.batch < 1 {
		errs = append(errs, fmt.Errorf("-seq %d must be at least 2 and -batch %d positive", o.seq, o.batch))
	}
	return p, errors.Join(errs...)
}
