package chart_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/internal/chart"
)

func TestSave(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "ok.png")
	require.NoError(t, chart.Chart{Title: "t", LogX: true, LogY: true, Series: []chart.Series{
		{Name: "a", X: []float64{1, 2, 4}, Y: []float64{3, math.NaN(), 5}},
		{Name: "b", X: []float64{1, 2}, Y: []float64{0, 7}}, // 0 is left out on a log axis
	}}.Save(ok))
	info, err := os.Stat(ok)
	require.NoError(t, err)
	require.NotZero(t, info.Size())

	for name, c := range map[string]chart.Chart{
		"no series":         {LogX: true, LogY: true},
		"zeros on log axes": {LogY: true, Series: []chart.Series{{Name: "z", X: []float64{1, 2}, Y: []float64{0, 0}}}},
		"all NaN":           {Series: []chart.Series{{Name: "n", X: []float64{1}, Y: []float64{math.NaN()}}}},
	} {
		path := filepath.Join(dir, "none.png")
		err := c.Save(path)
		require.True(t, errors.Is(err, chart.ErrNoData), "%s: %v", name, err)
		require.NoFileExists(t, path, name)
	}
}

// TestHeatmap: a heatmap is written as a PNG; no values, or rows of unequal lengths, are errors and
// write nothing.
func TestHeatmap(t *testing.T) {
	dir := t.TempDir()
	h := chart.Heatmap{Title: "alignment", XLabel: "source", YLabel: "target", XTicks: []string{"a", "b", "c"},
		YTicks: []string{"C", "B"}, Values: [][]float64{{0, 0.2, 0.8}, {0.1, 0.9, 0}}}
	require.NoError(t, h.Save(filepath.Join(dir, "h.png")))
	info, err := os.Stat(filepath.Join(dir, "h.png"))
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(1000))
	require.ErrorIs(t, chart.Heatmap{}.Save(filepath.Join(dir, "none.png")), chart.ErrNoData)
	require.ErrorContains(t, chart.Heatmap{Values: [][]float64{{1}, {1, 2}}}.Save(filepath.Join(dir, "bad.png")), "unequal")
	require.NoFileExists(t, filepath.Join(dir, "none.png"))
	require.NoFileExists(t, filepath.Join(dir, "bad.png"))
}
