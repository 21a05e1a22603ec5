package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTinyRun: every family at a tiny budget writes its rows of lineage.csv, the chart and the table.
func TestTinyRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "lineage")
	text := bytes.Repeat([]byte("To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n"), 40)
	in := filepath.Join(t.TempDir(), "text.txt")
	require.NoError(t, os.WriteFile(in, text, 0o644))
	var stdout, stderr bytes.Buffer
	err := run([]string{"-data", in, "-out", out, "-budgets", "2e8,6e8", "-orders", "1,3", "-seq", "16", "-batch", "4"}, &stdout, &stderr)
	require.NoError(t, err, stderr.String())
	f, err := os.Open(filepath.Join(out, "lineage.csv"))
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, header, rows[0])
	require.Len(t, rows, 1+2+4*2, "two orders, and two budgets for each of four networks")
	families := map[string]int{}
	for _, r := range rows[1:] {
		families[r[0]]++
		bits, err := strconv.ParseFloat(r[5], 64)
		require.NoError(t, err)
		require.True(t, bits > 0 && bits < 9, "%v", r)
	}
	require.Equal(t, map[string]int{"ngram": 2, "hmm": 2, "lstm": 2, "gru": 2, "transformer": 2}, families)
	info, err := os.Stat(filepath.Join(out, "lineage.png"))
	require.NoError(t, err)
	require.Greater(t, info.Size(), int64(1000))
	require.Contains(t, stdout.String(), "| family | setting | parameters | training compute | steps | val bits/byte | wall |")
}

func TestBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	for args, want := range map[string][]string{
		"-families ngram,rnn": {"-families", "ngram,rnn"},
		"-budgets x":          {"-budgets", "x,1e9"},
		"-orders 0":           {"-orders", "0"},
		"-preset tpu":         {"-preset", "tpu"},
	} {
		err := run(append(want, "-out", t.TempDir()), &stdout, &stderr)
		require.Error(t, err, args)
	}
	err := run([]string{"-families", "ngram,rnn", "-out", t.TempDir()}, &stdout, &stderr)
	require.EqualError(t, err, `-families: "rnn" is not one of ngram, hmm, lstm, gru, transformer`)
	err = run([]string{"-budgets", "x", "-orders", "0", "-out", t.TempDir()}, &stdout, &stderr)
	require.EqualError(t, err, "-budgets: \"x\" is not a number of FLOPs above 0\n-orders: \"0\" is not an order in [1, 16]")
}
