package dd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
)

func TestCountLabel(t *testing.T) {
	task := CountTask{Vocab: 4, SeqLen: 6}
	require.Equal(t, 7, task.Classes())
	require.Equal(t, int32(0), task.Label([]int32{1, 2, 3, 1, 2, 3}))
	require.Equal(t, int32(2), task.Label([]int32{0, 2, 3, 0, 2, 3}))
	require.Equal(t, int32(6), task.Label([]int32{0, 0, 0, 0, 0, 0}))
}

func TestSplit(t *testing.T) {
	task := CountTask{Vocab: 4, SeqLen: 8}
	train, test, err := Split(task, 300, 500, 3)
	require.NoError(t, err)
	require.Equal(t, 300, train.Len())
	require.Equal(t, 500, test.Len())
	seen := map[string]bool{}
	for _, d := range []Dataset{train, test} {
		for i, x := range d.X {
			require.Len(t, x, 8)
			require.Equal(t, task.Label(x), d.Y[i], "labels are clean")
			key := string(toBytes(x))
			require.False(t, seen[key], "every sequence once: train and test are disjoint")
			seen[key] = true
		}
	}
	again, _, err := Split(task, 300, 500, 3)
	require.NoError(t, err)
	require.Equal(t, train, again, "seeded")
	other, _, err := Split(task, 300, 500, 4)
	require.NoError(t, err)
	require.NotEqual(t, train.X, other.X)

	_, _, err = Split(CountTask{Vocab: 2, SeqLen: 4}, 10, 10, 1)
	require.ErrorContains(t, err, "only 16 distinct sequences")
	_, _, err = Split(task, 0, 10, 1)
	require.ErrorContains(t, err, "must be positive")
}

func toBytes(x []int32) []byte {
	b := make([]byte, len(x))
	for i, v := range x {
		b[i] = byte(v)
	}
	return b
}

func TestAddLabelNoise(t *testing.T) {
	task := CountTask{Vocab: 3, SeqLen: 10}
	train, _, err := Split(task, 1000, 10, 1)
	require.NoError(t, err)
	orig := append([]int32(nil), train.Y...)
	noisy, isNoisy, err := AddLabelNoise(train, 0.2, task.Classes(), 5)
	require.NoError(t, err)
	require.Equal(t, orig, train.Y, "the clean set is not changed")
	changed, flagged := 0, 0
	hist := make([]int, task.Classes()) // shift (noisy - clean) mod classes
	for i := range orig {
		if isNoisy[i] {
			flagged++
			require.NotEqual(t, orig[i], noisy.Y[i], "a noisy label is another class")
			require.True(t, noisy.Y[i] >= 0 && int(noisy.Y[i]) < task.Classes())
			hist[(int(noisy.Y[i])-int(orig[i])+task.Classes())%task.Classes()]++
		} else {
			require.Equal(t, orig[i], noisy.Y[i])
		}
		if orig[i] != noisy.Y[i] {
			changed++
		}
	}
	require.Equal(t, 200, flagged, "exactly round(0.2·1000) labels")
	require.Equal(t, 200, changed)
	require.Zero(t, hist[0])
	for s := 1; s < task.Classes(); s++ {
		require.Greater(t, hist[s], 0, "every other class is drawn (shift %d)", s)
	}
	again, _, err := AddLabelNoise(train, 0.2, task.Classes(), 5)
	require.NoError(t, err)
	require.Equal(t, noisy.Y, again.Y, "seeded")

	none, isNoisy, err := AddLabelNoise(train, 0, task.Classes(), 5)
	require.NoError(t, err)
	require.Equal(t, orig, none.Y)
	require.NotContains(t, isNoisy, true)
	_, _, err = AddLabelNoise(train, 1.5, task.Classes(), 5)
	require.ErrorContains(t, err, "must be in [0, 1]")
}

func TestJudge(t *testing.T) {
	curve := func(train, test []float64) []Point {
		var pts []Point
		for i := range train {
			pts = append(pts, Point{Width: 2 << i, Params: 100 << i, TrainErr: train[i], TestErr: test[i]})
		}
		return pts
	}
	c := curve([]float64{0.5, 0.2, 0.05, 0.0, 0.0, 0.0}, []float64{0.4, 0.1, 0.2, 0.3, 0.22, 0.15})
	v := Judge(c)
	require.Equal(t, 3, v.Threshold)
	require.Equal(t, 3, v.Peak)
	require.Equal(t, 1, v.BestBefore)
	require.InDelta(t, 0.2, v.RiseOverBefore, 1e-12)
	require.InDelta(t, 0.15, v.RiseOverLast, 1e-12)
	require.True(t, v.Shows())
	require.Contains(t, v.Summary(c), "double descent: interpolation threshold: width 16")

	// Monotone: the peak is the smallest model; no double descent.
	m := curve([]float64{0.5, 0.1, 0.0}, []float64{0.5, 0.3, 0.2})
	require.False(t, Judge(m).Shows())
	require.Contains(t, Judge(m).Summary(m), "no double descent")
	// A peak that the largest model does not come down from by 3 points.
	f := curve([]float64{0.5, 0.0, 0.0}, []float64{0.1, 0.3, 0.28})
	require.False(t, Judge(f).Shows())
	// Nothing interpolates; too few models for a peak.
	n := curve([]float64{0.5, 0.3}, []float64{0.4, 0.2})
	require.Equal(t, -1, Judge(n).Threshold)
	require.False(t, Judge(n).Shows())
	require.Contains(t, Judge(n).Summary(n), "no interpolation threshold")
}

func TestMean(t *testing.T) {
	pts := []Point{{Width: 8, Params: 80, Seed: 1, TestErr: 0.2}, {Width: 4, Params: 40, Seed: 1, TestErr: 0.1},
		{Width: 8, Params: 80, Seed: 2, TestErr: 0.4}, {Width: 4, Params: 40, Seed: 2, TestErr: 0.3}}
	m := Mean(pts)
	require.Len(t, m, 2)
	require.Equal(t, 4, m[0].Width, "sorted by parameters")
	require.InDelta(t, 0.2, m[0].TestErr, 1e-12)
	require.InDelta(t, 0.3, m[1].TestErr, 1e-12)
}

func TestValidate(t *testing.T) {
	require.NoError(t, CPUDefault().Validate())
	require.NoError(t, Presets["gpu"]().Validate())
	p := CPUDefault()
	p.Noise, p.Widths, p.Steps, p.Seeds = 1, []int{0}, 0, nil
	err := p.Validate()
	require.ErrorContains(t, err, "-noise 1")
	require.ErrorContains(t, err, "-widths: 0")
	require.ErrorContains(t, err, "-steps")
	require.ErrorContains(t, err, "-seeds is empty")
}

// One small sweep of two widths, a few steps each: it runs, measures, and writes its outputs.
func TestSmokeSweep(t *testing.T) {
	b := backend.MustShared()
	p := Params{Task: CountTask{Vocab: 4, SeqLen: 6}, Train: 64, Test: 64, Noise: 0.25, Widths: []int{4, 8},
		Layers: 1, Steps: 30, LR: 1e-2, Seeds: []uint64{1, 2}}
	var log strings.Builder
	pts, err := Sweep(b, p, &log)
	require.NoError(t, err)
	require.Len(t, pts, 4)
	for _, pt := range pts {
		require.Equal(t, p.Model(pt.Width).NumParams(), pt.Params)
		for _, v := range []float64{pt.TrainErr, pt.TestErr, pt.NoisyFit, pt.CleanTrain} {
			require.True(t, v >= 0 && v <= 1, "%+v", pt)
		}
		require.Greater(t, pt.TrainLoss, 0.0)
		require.Greater(t, pt.TestLoss, 0.0)
		require.Less(t, pt.TestErr, 0.95, "a few steps already beat chance (1/7 right)")
	}
	require.Equal(t, strings.Count(log.String(), "\n"), 4)
	// Deterministic: the same seed gives the same point.
	train, test, err := Split(p.Task, p.Train, p.Test, 1)
	require.NoError(t, err)
	noisy, isNoisy, err := AddLabelNoise(train, p.Noise, p.Task.Classes(), 1)
	require.NoError(t, err)
	again, err := TrainPoint(b, p, 4, 1, train, noisy, test, isNoisy)
	require.NoError(t, err)
	again.Seconds = pts[0].Seconds
	require.Equal(t, pts[0], again)

	dir := t.TempDir()
	require.NoError(t, Write(dir, p, pts))
	csv, err := os.ReadFile(filepath.Join(dir, "doubledescent.csv"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(csv)), "\n")
	require.Len(t, lines, 1+4+2, "header, a row per point, a mean row per width")
	require.True(t, strings.HasPrefix(lines[0], "width,params,seed,train_err,test_err,train_loss,test_loss"))
	require.Contains(t, lines[5], ",mean,")
	info, err := os.Stat(filepath.Join(dir, "doubledescent.png"))
	require.NoError(t, err)
	require.NotZero(t, info.Size())
}
