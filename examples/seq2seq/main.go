// Command seq2seq trains the two encoder-decoders of the history of attention on string reversal at
// one compute budget: a bidirectional GRU with Bahdanau's additive attention, and the Transformer's
// encoder-decoder. It reports exact-match accuracy by source length, on lengths trained and beyond,
// greedy and with beam search, training throughput and wall time, and draws each model's alignment.
// See README.md for a run and what it shows.
//
//	go run ./examples/seq2seq                 # CPU default: lengths 1-16 trained, 1-24 tested, about 11 min on 2 cores
//	go run ./examples/seq2seq -preset gpu     # lengths 1-32 trained, 1-48 tested, wider models, 100x the budget
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/examples/seq2seq/s2s"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/seq2seq"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		cli.PrintError(os.Stderr, "seq2seq", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	preset := cli.PresetArg(args, "cpu")
	mk, ok := s2s.Presets[preset]
	if !ok {
		return fmt.Errorf("-preset %q is not one of cpu, gpu", preset)
	}
	p := mk()
	fs := flag.NewFlagSet("seq2seq", flag.ContinueOnError)
	fs.String("preset", preset, "starting settings: cpu or gpu")
	out := fs.String("out", "runs/seq2seq", "output folder: accuracy.csv, training.csv, accuracy.png, alignment-*.png")
	cell := fs.String("cell", string(p.RNN.Cell), "the RNN's cell: gru or lstm")
	fs.Float64Var(&p.Budget, "budget", p.Budget, "training FLOPs per model")
	fs.IntVar(&p.Batch, "batch", p.Batch, "pairs per step")
	fs.Float64Var(&p.LR, "lr", p.LR, "peak learning rate (AdamW, warmup then cosine to a tenth)")
	fs.IntVar(&p.Alphabet, "alphabet", p.Alphabet, "letters in the alphabet (2-26)")
	fs.IntVar(&p.TrainMax, "train-max", p.TrainMax, "longest training source")
	fs.IntVar(&p.TestMax, "test-max", p.TestMax, "longest test source (beyond -train-max)")
	fs.IntVar(&p.TrainSize, "train-size", p.TrainSize, "training pairs")
	fs.IntVar(&p.TestPerLength, "test-per-length", p.TestPerLength, "test pairs per length")
	fs.IntVar(&p.Beam, "beam", p.Beam, "beam width")
	fs.Float64Var(&p.Alpha, "alpha", p.Alpha, "beam search length penalty ((5+n)/6)^alpha")
	fs.Uint64Var(&p.Seed, "seed", p.Seed, "seed of the data, initialisation and batches")
	if help, err := cli.ParseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	p.RNN.Cell = rnn.Cell(*cell)
	p = s2s.NewParams(p)
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
	fmt.Fprintf(stdout, "backend: %s, %d CPUs\n", backend.Config(), runtime.NumCPU())
	train, test := p.Generate(p.Seed)
	fmt.Fprintf(stdout, "task: reversal over %d letters; %d training pairs of lengths %d-%d; %d test pairs per length 1-%d, none seen in training\n",
		p.Alphabet, len(train), p.TrainMin, p.TrainMax, p.TestPerLength, p.TestMax)
	fmt.Fprintf(stdout, "budget: %.3g training FLOPs per model, batches of %d padded to %d source and %d target positions\n",
		p.Budget, p.Batch, p.TrainMax, p.TrainMax+1)
	examples := p.AlignmentExamples(test)
	var results []s2s.Result
	for _, nm := range p.Models() {
		r := s2s.Result{Name: nm.Name, Params: nm.Model.NumParams(), StepFLOPs: p.StepFLOPs(nm.Model)}
		fmt.Fprintf(stdout, "\n%s: %d parameters, %.3g FLOPs per step: %d steps\n", nm.Name, r.Params, r.StepFLOPs, p.Steps(nm.Model))
		ctx, tr, err := s2s.Train(b, p, nm.Model, train, stdout)
		if err != nil {
			return fmt.Errorf("%s: %w", nm.Name, err)
		}
		r.Training = tr
		fmt.Fprintf(stdout, "  trained in %.0f s: %.0f tokens/s, final loss %.4f\n", tr.Seconds, tr.TokensPerSec, tr.FinalLoss)
		dec, err := seq2seq.NewDecoder(b, ctx, nm.Model, s2s.Special)
		if err != nil {
			return err
		}
		if r.Accuracy, r.DecodeSeconds, err = s2s.Evaluate(dec, p, test); err != nil {
			return fmt.Errorf("%s: %w", nm.Name, err)
		}
		for _, ex := range examples {
			a, err := dec.Alignment(ex.Source, ex.Target)
			if err != nil {
				return err
			}
			r.Alignments = append(r.Alignments, a)
			got, err := dec.Greedy([][]int32{ex.Source}, 0)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "  %s -> %s (greedy; want %s)\n", s2s.Text(ex.Source), s2s.Text(got[0]), s2s.Text(ex.Target))
		}
		pairs := 0
		for _, a := range r.Accuracy {
			pairs += a.Pairs
		}
		fmt.Fprintf(stdout, "  decoded %d test pairs greedily and with beam %d in %.0f s\n", pairs, p.Beam, r.DecodeSeconds)
		results = append(results, r)
	}
	fmt.Fprintf(stdout, "\nexact match (%%), greedy / beam %d, by source length (trained: %d-%d)\n", p.Beam, p.TrainMin, p.TrainMax)
	header := fmt.Sprintf("%6s %6s", "length", "pairs")
	for _, r := range results {
		header += fmt.Sprintf(" %22s", r.Name)
	}
	fmt.Fprintln(stdout, header)
	for i := range results[0].Accuracy {
		a := results[0].Accuracy[i]
		line := fmt.Sprintf("%6d %6d", a.Length, a.Pairs)
		for _, r := range results {
			line += fmt.Sprintf(" %10.1f / %9.1f", 100*r.Accuracy[i].Greedy, 100*r.Accuracy[i].Beam)
		}
		fmt.Fprintln(stdout, line)
	}
	for _, r := range results {
		in, beyond := mean(r.Accuracy, 1, p.TrainMax), mean(r.Accuracy, p.TrainMax+1, p.TestMax)
		fmt.Fprintf(stdout, "%s: trained lengths %.1f%% / %.1f%%, beyond %.1f%% / %.1f%% (greedy / beam); %d steps in %.0f s, %.0f tokens/s\n",
			r.Name, 100*in[0], 100*in[1], 100*beyond[0], 100*beyond[1], r.Training.Steps, r.Training.Seconds, r.Training.TokensPerSec)
	}
	if err := s2s.WriteCSV(*out, results); err != nil {
		return err
	}
	machine := strings.Split(backend.Config(), ":")[0] + " backend"
	if machine == "go backend" {
		machine = fmt.Sprintf("pure-Go backend, %d CPUs", runtime.NumCPU())
	}
	title := machine + ", " + time.Now().Format("2006-01-02")
	if err := s2s.WriteCharts(*out, title, p, results, examples); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// mean returns the mean greedy and beam accuracy over lengths lo ... hi, weighting lengths equally.
func mean(acc []s2s.Accuracy, lo, hi int) [2]float64 {
	var sum [2]float64
	n := 0
	for _, a := range acc {
		if a.Length >= lo && a.Length <= hi {
			sum[0], sum[1], n = sum[0]+a.Greedy, sum[1]+a.Beam, n+1
		}
	}
	if n > 0 {
		sum[0], sum[1] = sum[0]/float64(n), sum[1]/float64(n)
	}
	return sum
}
