package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/benchmarks/bench"
)

func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	torch, err := json.Marshal(torchResult{Result: bench.Result{Model: "lstm", SeqLen: 64, TokensPerSec: 500}, Impl: "torch test"})
	require.NoError(t, err)
	run := Run{Label: "test-cpu", Machine: "m", Backend: "go", Tokens: 4096, PeakTFLOPs: 10, Command: "compare",
		Ours: []bench.Result{
			{Model: "transformer", SeqLen: 64, Batch: 64, Params: 10, TokensPerSec: 2000, MsPerStep: 2048, CompileSec: 0.5, MFU: 0.012},
			{Model: "lstm", SeqLen: 64, Batch: 64, Params: 11, TokensPerSec: 1000, MsPerStep: 4096, CompileSec: 1},
		},
		Torch:    []json.RawMessage{torch},
		Generate: []bench.GenResult{{Model: "transformer", TTFTms: 12.5, TokensPerSec: 80}},
	}
	b, err := json.Marshal(run)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(results, "test-cpu.json"), b, 0o644))
	require.NoError(t, writeResults(dir, results))
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "| lstm | 64 | 64 | 11 | 1000 | 4096.0 | 1.00 | 0.0% | 500 | 2.00 |")
	require.Contains(t, string(md), "| transformer | 64 | 64 | 10 | 2000 | 2048.0 | 0.50 | 1.2% | | |")
	require.Contains(t, string(md), "- peer: torch test")
	require.Contains(t, string(md), "| transformer | 12.5 | 80 |")
	for _, png := range []string{"test-cpu-throughput.png", "test-cpu-compile.png"} {
		info, err := os.Stat(filepath.Join(results, png))
		require.NoError(t, err)
		require.NotZero(t, info.Size())
	}
	require.ErrorContains(t, writeResults(dir, t.TempDir()), "no results files")
}
