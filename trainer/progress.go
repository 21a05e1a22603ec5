package trainer

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/bitterlesson/bitter/internal/chart"
)

// historyLog keeps a run's history on disk as it goes: loss.csv gains a line a step (flushed, so a
// killed run keeps every step it took), and loss.png is redrawn when asked (at each evaluation).
type historyLog struct {
	dir string
	f   *os.File
	w   *csv.Writer
}

// openHistory starts loss.csv in dir afresh with the steps of past (a resumed run's, from its
// checkpoint: steps taken after it are gone with it).
func openHistory(dir string, past []Record) (*historyLog, error) {
	f, err := os.Create(filepath.Join(dir, "loss.csv"))
	if err != nil {
		return nil, fmt.Errorf("writing loss.csv: %w", err)
	}
	h := &historyLog{dir: dir, f: f, w: csv.NewWriter(f)}
	_ = h.w.Write([]string{"step", "train_loss", "val_loss", "lr", "tokens_per_sec", "grad_norm"})
	for _, r := range past {
		h.write(r)
	}
	if err := h.flush(); err != nil {
		_ = f.Close()
		return nil, err
	}
	return h, nil
}

func (h *historyLog) write(r Record) {
	val := ""
	if r.ValLoss != nil {
		val = strconv.FormatFloat(*r.ValLoss, 'f', 6, 64)
	}
	_ = h.w.Write([]string{strconv.Itoa(r.Step), strconv.FormatFloat(r.TrainLoss, 'f', 6, 64), val,
		strconv.FormatFloat(r.LR, 'g', 6, 64), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64), strconv.FormatFloat(r.GradNorm, 'g', 6, 64)})
}

func (h *historyLog) flush() error {
	h.w.Flush()
	if err := h.w.Error(); err != nil {
		return fmt.Errorf("writing loss.csv: %w", err)
	}
	return nil
}

// add appends r to loss.csv.
func (h *historyLog) add(r Record) error {
	h.write(r)
	return h.flush()
}

// plot draws history into loss.png.
func (h *historyLog) plot(history []Record) error {
	var steps, trainLoss, valSteps, valLoss []float64
	for _, r := range history {
		steps = append(steps, float64(r.Step))
		trainLoss = append(trainLoss, r.TrainLoss)
		if r.ValLoss != nil {
			valSteps = append(valSteps, float64(r.Step))
			valLoss = append(valLoss, *r.ValLoss)
		}
	}
	return chart.Chart{Title: "next-token loss", XLabel: "step", YLabel: "cross-entropy (nats/token)",
		Series: []chart.Series{{Name: "train (batch)", X: steps, Y: trainLoss}, {Name: "validation", X: valSteps, Y: valLoss}},
	}.Save(filepath.Join(h.dir, "loss.png"))
}

// close closes loss.csv.
func (h *historyLog) close() error {
	if err := h.f.Close(); err != nil {
		return fmt.Errorf("writing loss.csv: %w", err)
	}
	return nil
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
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(25), progressbar.OptionFullWidth())
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
		// Describe draws the bar with the count so far, Add then with the step counted: unthrottled
		// (see newProgress), the second drawing always shows, and the bar never lags a step behind.
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
