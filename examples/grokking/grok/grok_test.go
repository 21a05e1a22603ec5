package grok

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
)

func TestTableHasEveryPairOnceAndIsCorrect(t *testing.T) {
	const p = 13
	for _, op := range []Op{Add, Sub, Div} {
		table, err := Table(op, p)
		require.NoError(t, err)
		want := p * p
		if op == Div {
			want = p * (p - 1)
		}
		require.Len(t, table, want, "op %s", op)
		seen := map[[2]int]bool{}
		for _, e := range table {
			key := [2]int{e.A, e.B}
			require.False(t, seen[key], "pair %v twice", key)
			seen[key] = true
			require.True(t, e.C >= 0 && e.C < p)
			switch op {
			case Add:
				require.Equal(t, (e.A+e.B)%p, e.C)
			case Sub:
				require.Equal(t, (e.C+e.B)%p, e.A) // c = a - b  <=>  c + b = a
			case Div:
				require.NotZero(t, e.B)
				require.Equal(t, e.A, e.C*e.B%p, "%d / %d = %d mod %d", e.A, e.B, e.C, p) // c = a / b  <=>  c·b = a
			}
		}
	}
	_, err := Table(Add, 15)
	require.ErrorContains(t, err, "p = 15 must be a prime")
	_, err = Table("*", 13)
	require.ErrorContains(t, err, `operation "*" is not one of +, -, /`)
}

func TestSplitDisjointAndSeeded(t *testing.T) {
	table, err := Table(Div, 11)
	require.NoError(t, err)
	train, test, err := Split(table, 0.3, 5)
	require.NoError(t, err)
	require.Len(t, train, 33) // round(110 · 0.3)
	require.Len(t, test, 77)
	inTrain := map[Example]bool{}
	for _, e := range train {
		inTrain[e] = true
	}
	for _, e := range test {
		require.False(t, inTrain[e], "%v in both", e)
	}
	again, _, err := Split(table, 0.3, 5)
	require.NoError(t, err)
	require.Equal(t, train, again, "same seed, same split")
	other, _, err := Split(table, 0.3, 6)
	require.NoError(t, err)
	require.NotEqual(t, train, other, "another seed, another split")
	_, _, err = Split(table, 0.001, 1)
	require.ErrorContains(t, err, "leaves a side empty")
}

// TestTrainingSmoke trains a few full-batch steps and a few mini-batch steps and writes the outputs.
func TestTrainingSmoke(t *testing.T) {
	p := CPUDefault()
	p.P, p.Dim, p.Steps, p.EvalEvery = 7, 16, 30, 10
	var log bytes.Buffer
	res, err := Run(backend.MustShared(), p, &log)
	require.NoError(t, err, log.String())
	require.Len(t, res.History, 4) // steps 1, 10, 20, 30
	first, last := res.History[0], res.History[3]
	require.Less(t, last.TrainLoss, first.TrainLoss, "training lowers the training loss")
	require.Positive(t, last.WeightNorm)
	p.Batch = 8
	res2, err := Run(backend.MustShared(), p, &log)
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, Write(dir, []Result{res, res2}))
	for _, f := range []string{"grokking.csv", "accuracy.png", "weight_norm.png"} {
		info, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		require.NotZero(t, info.Size())
	}
	require.Contains(t, res.Summary(), "within 30 steps")
	p.P = 9
	_, err = Run(backend.MustShared(), p, &log)
	require.ErrorContains(t, err, "-p 9 must be a prime")
}

func TestSummary(t *testing.T) {
	r := Result{Params: Params{Steps: 100}, MemorizedAt: 20, GrokkedAt: 400}
	require.Equal(t, "grokked: train_acc>=0.99 at step 20, test_acc>=0.95 at step 400", r.Summary())
}

// TestValidateNamesEachFlag: each bad value is named with its flag, on a line of its own.
func TestValidateNamesEachFlag(t *testing.T) {
	p := CPUDefault()
	p.Dim, p.Batch, p.LR, p.Beta2 = 0, -1, math.Inf(1), 1
	require.EqualError(t, p.Validate(), "-dim 0 must be positive\n-batch -1 must not be negative (0: the whole training set)\n-lr +Inf must be a positive number\n-beta2 1 must be in [0, 1)")
}

// TestValidateRefusesWhatCannotFit: a -p whose table (p² equations) and model cannot fit in memory is
// refused before anything is built; the presets fit.
func TestValidateRefusesWhatCannotFit(t *testing.T) {
	if _, ok := backend.HostMemory(); !ok {
		t.Skip("the host's available memory is not known here")
	}
	p := CPUDefault()
	p.P = 2147483647 // prime
	require.Regexp(t, `^-p 2147483647: its 4\.61e\+18 equations and a model of 2147483649 tokens need about .* GB, and .* GB is available: a smaller -p$`, p.Validate().Error())
	require.NoError(t, CPUDefault().Validate())
}
