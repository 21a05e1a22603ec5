package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/examples/seq2seq/s2s"
	"github.com/bitterlesson/bitter/seq2seq"
)

// TestTinyRun: both models at a tiny budget write accuracy.csv (a row per model and length, accuracies
// in [0, 1]), training.csv, the accuracy chart and the alignments, and print the table.
func TestTinyRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "seq2seq")
	var stdout bytes.Buffer
	err := run([]string{"-out", out, "-budget", "1e10", "-alphabet", "4", "-train-max", "4", "-test-max", "6",
		"-train-size", "200", "-test-per-length", "3", "-batch", "8"}, &stdout)
	require.NoError(t, err, stdout.String())
	f, err := os.Open(filepath.Join(out, "accuracy.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"model", "length", "pairs", "greedy_exact", "beam_exact"}, rows[0])
	models := map[string]int{}
	for _, r := range rows[1:] {
		models[r[0]]++
		for _, col := range r[3:] {
			acc, err := strconv.ParseFloat(col, 64)
			require.NoError(t, err)
			require.True(t, acc >= 0 && acc <= 1, "%v", r)
		}
	}
	require.Equal(t, 2, len(models), "%v", models)
	for _, name := range []string{"accuracy.png", "training.csv", "alignment-transformer-4.png", "alignment-rnn-attention-6.png"} {
		info, err := os.Stat(filepath.Join(out, name))
		require.NoError(t, err, name)
		require.Greater(t, info.Size(), int64(100), name)
	}
	require.Contains(t, stdout.String(), "exact match (%), greedy / beam 4, by source length (trained: 1-4)")
}

// TestBadFlags: each setting that cannot work is an error naming its flag, before anything trains.
func TestBadFlags(t *testing.T) {
	for want, args := range map[string][]string{
		"-preset \"tpu\" is not one of cpu, gpu":                  {"-preset", "tpu"},
		"-test-max 8 must be at least -train-max 16":              {"-test-max", "8"},
		"-alphabet 27 must be 2 to 26":                            {"-alphabet", "27"},
		"-budget -1 FLOPs must be positive":                       {"-budget", "-1"},
		"-beam 0 must be positive":                                {"-beam", "0"},
		"-alpha NaN must be a finite number, not negative":        {"-alpha", "NaN"},
		`rnn.Seq2Seq: Cell "rnn" is not lstm or gru`:              {"-cell", "rnn"},
		"-train-size 0 and -test-per-length 100 must be positive": {"-train-size", "0"},
	} {
		var stdout bytes.Buffer
		err := run(append(args, "-out", t.TempDir()), &stdout)
		require.ErrorContains(t, err, want)
	}
}

// TestTrainedBeamIsGreedy trains the RNN briefly and checks, on a trained model, that beam search
// with beam 1 translates every test source as greedy decoding does, and that Train is
// deterministic: the same seed gives the same losses.
func TestTrainedBeamIsGreedy(t *testing.T) {
	p := s2s.CPU()
	p.Task = s2s.Task{Alphabet: 5, TrainMin: 1, TrainMax: 5, TestMax: 7, TrainSize: 300, TestPerLength: 4}
	p.Batch = 16
	p.RNN.EmbedDim, p.RNN.HiddenDim, p.RNN.DecoderDim, p.RNN.AttentionDim = 16, 16, 32, 16
	p = s2s.NewParams(p)
	p.Budget = 150 * p.StepFLOPs(p.RNN) // 150 steps
	require.NoError(t, p.Validate())
	train, test := p.Generate(p.Seed)
	b := backend.MustShared()
	var log bytes.Buffer
	ctx, first, err := s2s.Train(b, p, p.RNN, train, &log)
	require.NoError(t, err)
	_, again, err := s2s.Train(b, p, p.RNN, train, &log)
	require.NoError(t, err)
	require.Equal(t, 150, first.Steps)
	require.Equal(t, first.Losses, again.Losses, "same seed, same run")
	require.Less(t, first.FinalLoss, first.Losses[0], "it learned something")
	dec, err := seq2seq.NewDecoder(b, ctx, p.RNN, s2s.Special)
	require.NoError(t, err)
	var srcs [][]int32
	for _, pairs := range test {
		for _, pr := range pairs {
			srcs = append(srcs, pr.Source)
		}
	}
	greedy, err := dec.Greedy(srcs, 0)
	require.NoError(t, err)
	beam1, err := dec.Beam(srcs, 1, 0.6, 0)
	require.NoError(t, err)
	require.Equal(t, greedy, beam1)
}
