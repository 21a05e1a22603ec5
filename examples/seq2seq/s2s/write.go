package s2s

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bitterlesson/bitter/internal/chart"
	"github.com/bitterlesson/bitter/seq2seq"
)

// Result is one model's run.
type Result struct {
	Name          string
	Params        int
	StepFLOPs     float64
	Training      Training
	Accuracy      []Accuracy
	DecodeSeconds float64
	// Alignments are the model's attention over the examples AlignmentExamples picks, [target][source].
	Alignments [][][]float64
}

// AlignmentExamples returns the test pairs whose alignments are drawn: the first of length TrainMax
// (the longest trained) and the first of length TestMax (beyond training), where they exist.
func (p Params) AlignmentExamples(test [][]seq2seq.Pair) []seq2seq.Pair {
	var out []seq2seq.Pair
	for _, n := range []int{p.TrainMax, p.TestMax} {
		if n <= len(test) && len(test[n-1]) > 0 {
			out = append(out, test[n-1][0])
		}
	}
	return out
}

// WriteCSV saves accuracy.csv (one row per model and length) and training.csv (each model's loss per
// step) into dir.
func WriteCSV(dir string, results []Result) error {
	write := func(name string, header []string, rows [][]string) error {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		w := csv.NewWriter(f)
		_ = w.Write(header)
		_ = w.WriteAll(rows)
		return errors.Join(w.Error(), f.Close())
	}
	var acc, loss [][]string
	for _, r := range results {
		for _, a := range r.Accuracy {
			acc = append(acc, []string{r.Name, strconv.Itoa(a.Length), strconv.Itoa(a.Pairs), ff(a.Greedy), ff(a.Beam)})
		}
		for i, l := range r.Training.Losses {
			loss = append(loss, []string{r.Name, strconv.Itoa(i + 1), ff(l)})
		}
	}
	return errors.Join(write("accuracy.csv", []string{"model", "length", "pairs", "greedy_exact", "beam_exact"}, acc),
		write("training.csv", []string{"model", "step", "loss"}, loss))
}

// WriteCharts saves accuracy.png (exact match against source length, greedy and beam, for every
// model) and alignment-<model>-<length>.png (the attention over each of examples) into dir; title
// names the run (machine, date).
func WriteCharts(dir, title string, p Params, results []Result, examples []seq2seq.Pair) error {
	var series []chart.Series
	for i, r := range results {
		g := chart.Series{Name: r.Name + ", greedy", Color: i + 1}
		b := chart.Series{Name: fmt.Sprintf("%s, beam %d", r.Name, p.Beam), Color: i + 1, Dashed: true}
		for _, a := range r.Accuracy {
			g.X, g.Y = append(g.X, float64(a.Length)), append(g.Y, 100*a.Greedy)
			b.X, b.Y = append(b.X, float64(a.Length)), append(b.Y, 100*a.Beam)
		}
		series = append(series, g, b)
	}
	err := chart.Chart{Title: fmt.Sprintf("Reversal, trained on lengths %d-%d: %s", p.TrainMin, p.TrainMax, title),
		XLabel: "source length", YLabel: "exact match (%)", YMax: 100, Series: series}.Save(filepath.Join(dir, "accuracy.png"))
	for _, r := range results {
		for i, ex := range examples {
			if i >= len(r.Alignments) {
				break
			}
			var xt, yt []string
			for _, id := range ex.Source {
				xt = append(xt, Text([]int32{id}))
			}
			yt = append(yt, "<bos>")
			for _, id := range ex.Target {
				yt = append(yt, Text([]int32{id}))
			}
			h := chart.Heatmap{Title: fmt.Sprintf("%s, length %d", r.Name, len(ex.Source)), XLabel: "source",
				YLabel: "decoder input (predicting the next letter)", XTicks: xt, YTicks: yt, Values: r.Alignments[i]}
			err = errors.Join(err, h.Save(filepath.Join(dir, fmt.Sprintf("alignment-%s-%d.png", r.Name, len(ex.Source)))))
		}
	}
	return err
}

func ff(x float64) string { return strconv.FormatFloat(x, 'f', 4, 64) }
