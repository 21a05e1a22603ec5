package trainer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/bitterlesson/bitter/internal/chart"
)

// writeHistory writes loss.csv and loss.png.
func writeHistory(dir string, history []Record) error {
	f, err := os.Create(filepath.Join(dir, "loss.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"step", "train_loss", "val_loss", "lr", "tokens_per_sec", "grad_norm"})
	var steps, trainLoss, valSteps, valLoss []float64
	for _, r := range history {
		val := ""
		if r.ValLoss != nil {
			val = strconv.FormatFloat(*r.ValLoss, 'f', 6, 64)
			valSteps = append(valSteps, float64(r.Step))
			valLoss = append(valLoss, *r.ValLoss)
		}
		_ = w.Write([]string{strconv.Itoa(r.Step), strconv.FormatFloat(r.TrainLoss, 'f', 6, 64), val,
			strconv.FormatFloat(r.LR, 'g', 6, 64), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64), strconv.FormatFloat(r.GradNorm, 'g', 6, 64)})
		steps = append(steps, float64(r.Step))
		trainLoss = append(trainLoss, r.TrainLoss)
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return fmt.Errorf("writing loss.csv: %w", err)
	}
	return chart.Chart{Title: "next-token loss", XLabel: "step", YLabel: "cross-entropy (nats/token)",
		Series: []chart.Series{{Name: "train (batch)", X: steps, Y: trainLoss}, {Name: "validation", X: valSteps, Y: valLoss}},
	}.Save(filepath.Join(dir, "loss.png"))
}

// progress shows a progress bar on a terminal, or log lines elsewhere.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	every int
	total int
	mfu   func(tokensPerSec float64) float64 // 0 when not reported
}

func newProgress(o Options, w io.Writer, start int) *progress {
	p := &progress{w: w, every: max(1, o.Steps/20), total: o.Steps}
	if f, ok := w.(*os.File); ok && !o.Quiet && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(o.Steps-start+1,
			progressbar.OptionSetWriter(w), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(25), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(200*time.Millisecond))
	}
	return p
}

func (p *progress) update(r Record) {
	util := ""
	if p.mfu != nil {
		if u := p.mfu(r.TokensPerSec); u > 0 {
			util = fmt.Sprintf(" MFU %.1f%%", 100*u)
		}
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("step %d loss %.3f norm %.3g %.0f tok/s%s", r.Step, r.TrainLoss, r.GradNorm, r.TokensPerSec, util))
		_ = p.bar.Add(1)
		return
	}
	if r.Step%p.every == 0 || r.Step == p.total {
		fmt.Fprintf(p.w, "step %d/%d loss %.4f norm %.3g lr %.2e %.0f tokens/s%s\n", r.Step, p.total, r.TrainLoss, r.GradNorm, r.LR, r.TokensPerSec, util)
	}
}

func (p *progress) log(line string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
