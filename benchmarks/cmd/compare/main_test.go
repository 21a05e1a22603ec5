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
	compiled, err := json.Marshal(torchResult{Result: bench.Result{Model: "lstm", SeqLen: 64, TokensPerSec: 4000}, Impl: "torch compiled"})
	require.NoError(t, err)
	run := Run{Label: "test-cpu", Machine: "m", Backend: "go", Tokens: 4096, PeakTFLOPs: 10, Command: "compare",
		Ours: []bench.Result{
			{Model: "transformer", SeqLen: 64, Batch: 64, Params: 10, TokensPerSec: 2000, MsPerStep: 2048, CompileSec: 0.5, MFU: 0.012},
			{Model: "lstm", SeqLen: 64, Batch: 64, Params: 11, TokensPerSec: 1000, MsPerStep: 4096, CompileSec: 1},
		},
		Torch:    []json.RawMessage{torch, compiled},
		Generate: []bench.GenResult{{Model: "transformer", TTFTms: 12.5, TokensPerSec: 80}},
		Failed:   []string{"gru T=64: out of memory"},
	}
	b, err := json.Marshal(run)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(results, "test-cpu.json"), b, 0o644))
	require.NoError(t, writeResults(dir, results))
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	require.NoError(t, err)
	// One column group per PyTorch implementation; its MFU uses our FLOP count (1000 FLOP/token here).
	require.Contains(t, string(md), "| lstm | 64 | 64 | 11 | 1000 | 4096.0 | 1.00 | 0.0% | 500 | 0.0% | 2.00 | 4000 | 0.0% | 0.25 |")
	require.Contains(t, string(md), "| transformer | 64 | 64 | 10 | 2000 | 2048.0 | 0.50 | 1.2% | | | | | | |")
	require.Contains(t, string(md), "- peer (A): torch test\n- peer (B): torch compiled")
	require.Contains(t, string(md), "- did not complete: gru T=64: out of memory")
	require.Contains(t, string(md), "| transformer | 12.5 | 80 |")
	for _, png := range []string{"test-cpu-throughput.png", "test-cpu-compile.png"} {
		info, err := os.Stat(filepath.Join(results, png))
		require.NoError(t, err)
		require.NotZero(t, info.Size())
	}
	require.ErrorContains(t, writeResults(dir, t.TempDir()), "no results files")
}

func TestMerge(t *testing.T) {
	raw := func(impl, model string, seq int, tps float64) json.RawMessage {
		b, err := json.Marshal(torchResult{Result: bench.Result{Model: model, SeqLen: seq, TokensPerSec: tps}, Impl: impl})
		require.NoError(t, err)
		return b
	}
	prev := Run{Label: "gpu", Command: "first",
		Ours:   []bench.Result{{Model: "transformer", SeqLen: 64, TokensPerSec: 1}, {Model: "lstm", SeqLen: 64, TokensPerSec: 2}},
		Torch:  []json.RawMessage{raw("eager", "transformer", 64, 10), raw("eager", "lstm", 64, 20)},
		Failed: []string{"lstm T=128: compile timeout", "gru T=64: oom"}}
	cur := Run{Label: "gpu", Command: "second",
		Ours:   []bench.Result{{Model: "lstm", SeqLen: 64, TokensPerSec: 3}, {Model: "lstm", SeqLen: 128, TokensPerSec: 4}},
		Torch:  []json.RawMessage{raw("eager", "lstm", 64, 30)},
		Failed: []string{"gru T=64: oom again"}}
	got := merge(prev, cur)
	require.Equal(t, []bench.Result{{Model: "transformer", SeqLen: 64, TokensPerSec: 1},
		{Model: "lstm", SeqLen: 64, TokensPerSec: 3}, {Model: "lstm", SeqLen: 128, TokensPerSec: 4}}, got.Ours)
	require.Equal(t, []json.RawMessage{raw("eager", "transformer", 64, 10), raw("eager", "lstm", 64, 30)}, got.Torch)
	require.Equal(t, []string{"gru T=64: oom again"}, got.Failed)
	require.Equal(t, "second", got.Command)
	require.Equal(t, cur, merge(Run{}, cur))
}
