package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/bitterlesson/bitter/checkpoint"
	"github.com/bitterlesson/bitter/internal/chart"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/ngram"
	"github.com/bitterlesson/bitter/trainer"
)

// allFamilies, in the order they came.
var allFamilies = []string{"ngram", "hmm", "lstm", "gru", "transformer"}

// valFrac is the held-out fraction, at the end of the text (nanoGPT's split of tiny Shakespeare).
const valFrac = 0.1

// plan is the runs to make.
type plan struct {
	out        string
	families   []string
	budgets    []float64 // training FLOPs of the networks
	orders     []int     // the n-gram's
	seq, batch int
	seed       uint64
}

// result is one run: a row of lineage.csv.
type result struct {
	Family      string
	Setting     string  // "order 3", "3e+12 FLOPs"
	Params      int     // parameters (the n-gram: stored counts)
	Compute     float64 // training FLOPs (the n-gram: counting operations)
	Steps       int     // optimizer steps (0 for the n-gram)
	BitsPerByte float64 // validation cross-entropy
	Seconds     float64 // wall time of training and evaluation
}

var header = []string{"family", "setting", "params", "train_compute", "steps", "val_bits_per_byte", "wall_s"}

func (r result) row() []string {
	return []string{r.Family, r.Setting, strconv.Itoa(r.Params), strconv.FormatFloat(r.Compute, 'g', 4, 64), strconv.Itoa(r.Steps),
		strconv.FormatFloat(r.BitsPerByte, 'f', 4, 64), strconv.FormatFloat(r.Seconds, 'f', 1, 64)}
}

// network is a family trained by package trainer: its options (with the learning rate that suits
// it and the steps the budget buys), its model, and the training FLOPs of those steps.
func (p *plan) network(family, corpus string, budget float64) (trainer.Options, lm.Model, float64, error) {
	o := trainer.DefaultOptions()
	o.Data, o.Model, o.Seq, o.Batch, o.Seed = corpus, family, p.seq, p.batch, p.seed
	o.Out = filepath.Join(p.out, fmt.Sprintf("%s-%.0e", family, budget))
	o.ValFrac, o.EvalTokens, o.Sample, o.Quiet = valFrac, 0, 0, true
	o.Prompt = "ROMEO:"
	if family == "hmm" {
		o.LR = 1.0 // the tables' logits move far: see the README for the probe that chose it
	}
	model, err := o.BuildModel()
	if err != nil {
		return o, nil, 0, err
	}
	perStep := model.FLOPsPerToken(p.seq) * float64(p.batch*p.seq)
	o.Steps = max(1, int(math.Round(budget/perStep)))
	o.EvalEvery = o.Steps
	return o, model, perStep * float64(o.Steps), nil
}

// run makes every run, writing lineage.csv as each ends, then the chart and the table.
func (p *plan) run(text []byte, stdout, stderr io.Writer) error {
	cut := len(text) - int(float64(len(text))*valFrac+0.5) // data.Split's cut
	train, val := text[:cut], text[cut:]
	corpus := filepath.Join(p.out, "corpus.txt") // the trainer reads files
	if err := checkpoint.WriteFile(corpus, text); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "corpus: %d bytes, %d training, %d validation\n", len(text), len(train), len(val))
	var results []result
	for _, family := range p.families {
		if family == "ngram" {
			for _, order := range p.orders {
				start := time.Now()
				m, err := ngram.Train(train, order)
				if err != nil {
					return err
				}
				bits, err := m.CrossEntropy(train, val)
				if err != nil {
					return err
				}
				r := result{Family: family, Setting: fmt.Sprintf("order %d", order), Params: m.NumParams(),
					Compute: float64(m.CountingOps()), BitsPerByte: bits, Seconds: time.Since(start).Seconds()}
				results = append(results, r)
				if err := p.report(stdout, results, r); err != nil {
					return err
				}
			}
			continue
		}
		for _, budget := range p.budgets {
			o, model, flops, err := p.network(family, corpus, budget)
			if err != nil {
				return fmt.Errorf("%s: %w", family, err)
			}
			start := time.Now()
			res, err := trainer.Run(o, io.Discard, io.Discard)
			if err != nil {
				return fmt.Errorf("%s at %.0e FLOPs: %w", family, budget, err)
			}
			r := result{Family: family, Setting: fmt.Sprintf("%.0e FLOPs", budget), Params: model.NumParams(), Compute: flops,
				Steps: o.Steps, BitsPerByte: res.ValLoss / math.Ln2, Seconds: time.Since(start).Seconds()}
			results = append(results, r)
			if err := p.report(stdout, results, r); err != nil {
				return err
			}
		}
	}
	if err := p.plot(results); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s\n\n", filepath.Join(p.out, "lineage.csv"), filepath.Join(p.out, "lineage.png"))
	fmt.Fprintln(stdout, "| family | setting | parameters | training compute | steps | val bits/byte | wall |")
	fmt.Fprintln(stdout, "|---|---|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Fprintf(stdout, "| %s | %s | %d | %.3g | %d | %.3f | %.0f s |\n", r.Family, r.Setting, r.Params, r.Compute, r.Steps, r.BitsPerByte, r.Seconds)
	}
	return nil
}

// report prints r and rewrites lineage.csv with results.
func (p *plan) report(stdout io.Writer, results []result, r result) error {
	fmt.Fprintf(stdout, "%-11s %-12s %9d params  %9.3g compute  %6d steps  %.4f bits/byte  %6.1f s\n",
		r.Family, r.Setting, r.Params, r.Compute, r.Steps, r.BitsPerByte, r.Seconds)
	return checkpoint.WriteFileFunc(filepath.Join(p.out, "lineage.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		_ = cw.Write(header)
		for _, r := range results {
			_ = cw.Write(r.row())
		}
		cw.Flush()
		return cw.Error()
	})
}

// plot draws validation bits per byte against training compute, a line per family.
func (p *plan) plot(results []result) error {
	c := chart.Chart{
		Title:  fmt.Sprintf("The lineage on tiny Shakespeare (%s)", time.Now().UTC().Format("2006-01-02")),
		XLabel: "training compute (FLOPs; the n-gram: counting operations)", YLabel: "validation bits per byte",
		LogX: true,
	}
	for _, family := range p.families {
		s := chart.Series{Name: family}
		for _, r := range results {
			if r.Family == family {
				s.X, s.Y = append(s.X, r.Compute), append(s.Y, r.BitsPerByte)
			}
		}
		c.Series = append(c.Series, s)
	}
	return c.Save(filepath.Join(p.out, "lineage.png"))
}
