package grok

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bitterlesson/bitter/internal/chart"
)

// Write saves grokking.csv (one row per measurement and run) and the two charts into dir.
func Write(dir string, results []Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "grokking.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"weight_decay", "step", "train_loss", "train_acc", "test_loss", "test_acc", "weight_norm"})
	var acc, norm []chart.Series
	for i, r := range results {
		name := fmt.Sprintf("wd %g", r.Params.WeightDecay)
		tr := chart.Series{Name: "train, " + name, Color: 2*i + 1}
		te := chart.Series{Name: "test, " + name, Color: 2*i + 2}
		wn := chart.Series{Name: name, Color: 2*i + 1}
		if i > 0 {
			tr.Dashed, te.Dashed, wn.Dashed = true, true, true
		}
		for _, h := range r.History {
			_ = w.Write([]string{strconv.FormatFloat(r.Params.WeightDecay, 'g', -1, 64), strconv.Itoa(h.Step),
				ff(h.TrainLoss), ff(h.TrainAcc), ff(h.TestLoss), ff(h.TestAcc), ff(h.WeightNorm)})
			x := float64(h.Step)
			tr.X, tr.Y = append(tr.X, x), append(tr.Y, h.TrainAcc)
			te.X, te.Y = append(te.X, x), append(te.Y, h.TestAcc)
			wn.X, wn.Y = append(wn.X, x), append(wn.Y, h.WeightNorm)
		}
		acc = append(acc, tr, te)
		norm = append(norm, wn)
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return err
	}
	p := results[0].Params
	title := fmt.Sprintf("a %s b mod %d, %.0f%% of pairs trained", p.Op, p.P, 100*p.TrainFrac)
	if err := (chart.Chart{Title: title, XLabel: "step", YLabel: "accuracy", LogX: true, Series: acc}).
		Save(filepath.Join(dir, "accuracy.png")); err != nil {
		return err
	}
	return chart.Chart{Title: "total weight norm, " + title, XLabel: "step", YLabel: "L2 norm of all weights", LogX: true,
		Series: norm}.Save(filepath.Join(dir, "weight_norm.png"))
}

func ff(x float64) string { return strconv.FormatFloat(x, 'f', 5, 64) }
