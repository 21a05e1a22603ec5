package dd

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bitterlesson/bitter/internal/chart"
)

// Write saves doubledescent.csv (a row per width and seed, and per width the mean over seeds when
// there are several) and doubledescent.png (train and test error of the mean curve against
// parameters, log x, with the interpolation threshold marked) into dir.
func Write(dir string, p Params, pts []Point) error {
	if len(pts) == 0 {
		return errors.New("no points to write")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "doubledescent.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"width", "params", "seed", "train_err", "test_err", "train_loss", "test_loss", "noisy_fit", "clean_train_err", "seconds"})
	row := func(pt Point, seed string) {
		_ = w.Write([]string{strconv.Itoa(pt.Width), strconv.Itoa(pt.Params), seed, ff(pt.TrainErr), ff(pt.TestErr),
			ff(pt.TrainLoss), ff(pt.TestLoss), ff(pt.NoisyFit), ff(pt.CleanTrain), strconv.FormatFloat(pt.Seconds, 'f', 1, 64)})
	}
	for _, pt := range pts {
		row(pt, strconv.FormatUint(pt.Seed, 10))
	}
	curve := Mean(pts)
	if len(p.Seeds) > 1 {
		for _, pt := range curve {
			row(pt, "mean")
		}
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return err
	}
	tr := chart.Series{Name: "train error (noisy labels)", Color: 1}
	te := chart.Series{Name: "test error (clean labels)", Color: 4}
	top := 0.0
	for _, pt := range curve {
		tr.X, tr.Y = append(tr.X, float64(pt.Params)), append(tr.Y, pt.TrainErr)
		te.X, te.Y = append(te.X, float64(pt.Params)), append(te.Y, pt.TestErr)
		top = max(top, pt.TrainErr, pt.TestErr)
	}
	series := []chart.Series{tr, te}
	if v := Judge(curve); v.Threshold >= 0 {
		x := float64(curve[v.Threshold].Params)
		series = append(series, chart.Series{Name: fmt.Sprintf("interpolation threshold (width %d)", curve[v.Threshold].Width),
			X: []float64{x, x}, Y: []float64{0, top}, Color: 3, Dashed: true})
	}
	seeds := "1 seed"
	if len(p.Seeds) > 1 {
		seeds = fmt.Sprintf("mean of %d seeds", len(p.Seeds))
	}
	title := fmt.Sprintf("count task, %d train examples, %.0f%% labels noisy, %d steps, %s", p.Train, 100*p.Noise, p.Steps, seeds)
	return chart.Chart{Title: title, XLabel: "parameters (Transformer width swept)", YLabel: "error", LogX: true,
		Series: series}.Save(filepath.Join(dir, "doubledescent.png"))
}

func ff(x float64) string { return strconv.FormatFloat(x, 'f', 5, 64) }
