package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/benchmarks/bench"
)

func TestWriteResults(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	torch, err := json.Marshal(torchResult{Result: bench.Result{Model: "lstm", SeqLen: 64, TokensPerSec: 500, PeakMemGB: 1.5}, Impl: "torch test"})
	require.NoError(t, err)
	compiled, err := json.Marshal(torchResult{Result: bench.Result{Model: "lstm", SeqLen: 64, TokensPerSec: 4000}, Impl: "torch compiled"})
	require.NoError(t, err)
	jax, err := json.Marshal(torchResult{Result: bench.Result{Model: "transformer", SeqLen: 64, TokensPerSec: 2500, PeakMemGB: 0.5},
		Impl: "jax 0.11.2 gpu bfloat16 cudnn attention"})
	require.NoError(t, err)
	run := Run{Label: "test-cpu", Machine: "m", GPU: "NVIDIA H100 80GB HBM3, driver 580.159.04, 81559 MiB",
		Note: "jax-cuda13-pjrt 0.11.2", Backend: "go", Tokens: 4096, PeakTFLOPs: 10, Command: "compare",
		Ours: []bench.Result{
			{Model: "transformer", SeqLen: 64, Batch: 64, Params: 10, TokensPerSec: 2000, MsPerStep: 2048, CompileSec: 0.5, MFU: 0.012},
			{Model: "lstm", SeqLen: 64, Batch: 64, Params: 11, TokensPerSec: 1000, MsPerStep: 4096, CompileSec: 1, Chunk: 32, PeakMemGB: 2.25},
		},
		Torch:    []json.RawMessage{torch, compiled, jax},
		Generate: []bench.GenResult{{Model: "transformer", TTFTms: 12.5, TokensPerSec: 80}},
		Failed:   []string{"gru T=64: out of memory"},
	}
	b, err := json.Marshal(run)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(results, "test-cpu.json"), b, 0o644))
	require.NoError(t, writeResults(dir, results))
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	require.NoError(t, err)
	// One column group per peer implementation, named by its framework; its MFU uses our FLOP count
	// (1000 FLOP/token here).
	require.Contains(t, string(md), "| PyTorch (A) tokens/s | PyTorch (A) MFU | ours / PyTorch (A) | PyTorch (B) tokens/s |")
	require.Contains(t, string(md), "| JAX (C) tokens/s | JAX (C) MFU | ours / JAX (C) |\n")
	require.Contains(t, string(md), "| lstm | 64 | 64 | 11 | 1000 | 4096.0 | 1.00 | 0.0% | 500 | 0.0% | 2.00 | 4000 | 0.0% | 0.25 | | | |\n")
	require.Contains(t, string(md), "| transformer | 64 | 64 | 10 | 2000 | 2048.0 | 0.50 | 1.2% | | | | | | | 2500 | 0.0% | 0.80 |\n")
	require.Contains(t, string(md), "- peer (A): torch test\n- peer (B): torch compiled\n- peer (C): jax 0.11.2 gpu bfloat16 cudnn attention\n")
	require.Contains(t, string(md), "- machine: m\n- GPU: NVIDIA H100 80GB HBM3, driver 580.159.04, 81559 MiB\n- backend: go\n")
	require.Contains(t, string(md), "- note: jax-cuda13-pjrt 0.11.2\n")
	require.Contains(t, string(md), "- did not complete: gru T=64: out of memory")
	require.Contains(t, string(md), "- RNNs trained by rnn.ChunkedTrainer (exact backpropagation through time, one graph per chunk of 32 steps")
	require.Contains(t, string(md), "| transformer | 12.5 | 80 |")
	// Device memory, where known: ours (XLA's compiled memory) beside each peer's.
	require.Contains(t, string(md), "| model | T | bitter | PyTorch (A) | PyTorch (B) | JAX (C) |\n|---|---|---|---|---|---|\n"+
		"| transformer | 64 | | | | 0.50 |\n| lstm | 64 | 2.25 | 1.50 | | |\n")
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
		Ours:   []bench.Result{{Model: "lstm", SeqLen: 128, TokensPerSec: 4}, {Model: "lstm", SeqLen: 64, TokensPerSec: 3}},
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

// TestReferenceVariantsAndTimeLimit runs a stand-in for reference.py (a shell script): each variant's
// cells are collected and reported as they finish, and a variant past its time limit is stopped with
// a note, keeping the cells it printed.
func TestReferenceVariantsAndTimeLimit(t *testing.T) {
	script := filepath.Join(t.TempDir(), "ref.sh")
	// $9 is the variant's first word (after --models m --lengths l --tokens n --steps n).
	require.NoError(t, os.WriteFile(script, []byte(`echo "{\"variant\":\"$9\"}"
echo "not a cell"
if [ "$9" = slow ]; then exec sleep 30; fi
`), 0o755))
	r := references{python: "sh", script: script, name: peerOf(script), extra: "--dim 8", models: "transformer", lengths: "64",
		tokens: 128, steps: 1, timeout: 2 * time.Second}
	var seen []int
	start := time.Now()
	cells, note := r.run("fast;slow;fast2", func(c []json.RawMessage, _ string) { seen = append(seen, len(c)) })
	require.Less(t, time.Since(start), 15*time.Second)
	require.Equal(t, []int{1, 2, 3}, seen)
	require.Len(t, cells, 3)
	for i, v := range []string{"fast", "slow", "fast2"} {
		require.JSONEq(t, `{"variant":"`+v+`"}`, string(cells[i]))
	}
	require.Equal(t, `PyTorch reference "slow" stopped at its time limit of 2s`, note)

	r.script = filepath.Join(t.TempDir(), "missing.sh")
	cells, note = r.run("x", nil)
	require.Empty(t, cells)
	require.Contains(t, note, "PyTorch reference did not complete (exit status")

	// The JAX peer's script is told by its name, and so are its notes.
	r.script, r.name = filepath.Join(t.TempDir(), "reference_jax.py"), peerOf("benchmarks/reference/reference_jax.py")
	_, note = r.run("x", nil)
	require.Contains(t, note, "JAX reference did not complete (exit status")
	require.Equal(t, "jax", r.name.module)
	require.Equal(t, "torch", peerOf("benchmarks/reference/reference.py").module)
}

// TestWriteResultsWithoutFinishedCells: a run whose every cell failed (or whose peer reported zeros)
// gets its table and notes but no charts, instead of a panic in the log-scale axis.
func TestWriteResultsWithoutFinishedCells(t *testing.T) {
	dir := t.TempDir()
	results := filepath.Join(dir, "results")
	require.NoError(t, os.MkdirAll(results, 0o755))
	zero, err := json.Marshal(torchResult{Result: bench.Result{Model: "transformer", SeqLen: 1024}, Impl: "torch test"})
	require.NoError(t, err)
	run := Run{Label: "gpu-none", Machine: "m", Backend: "xla", Tokens: 512, Command: "compare",
		Torch: []json.RawMessage{zero}, Failed: []string{"transformer T=1024: bench: 512 tokens per step hold no sequence of 1024"}}
	b, err := json.Marshal(run)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(results, "gpu-none.json"), b, 0o644))
	stale := filepath.Join(results, "gpu-none-throughput.png") // from an earlier run of the label
	require.NoError(t, os.WriteFile(stale, []byte("old"), 0o644))
	require.NoError(t, writeResults(dir, results))
	md, err := os.ReadFile(filepath.Join(dir, "RESULTS.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "- did not complete: transformer T=1024")
	require.NotContains(t, string(md), ".png")
	require.NotContains(t, string(md), "Device memory", "no cell knows its memory")
	require.NoFileExists(t, stale)
}

func TestShellJoin(t *testing.T) {
	require.Equal(t, `-reference '' -reference-args '--device cuda;--device cuda --compile' -label 'it'\''s' -steps 2`,
		shellJoin([]string{"-reference", "", "-reference-args", "--device cuda;--device cuda --compile", "-label", "it's", "-steps", "2"}))
}

func TestCheckFlags(t *testing.T) {
	require.NoError(t, checkFlags(2, 4096, 0, 0, "transformer,lstm,gru"))
	for want, err := range map[string]error{
		"-steps 0: need at least 1 timed step":                 checkFlags(0, 4096, 0, 0, "gru"),
		"-tokens -5: need at least 1 token per step":           checkFlags(2, -5, 0, 0, "gru"),
		"-peak-tflops -1: must be 0 (no MFU) or positive":      checkFlags(2, 4096, -1, 0, "gru"),
		"-reference-timeout -1s: must be 0 (none) or positive": checkFlags(2, 4096, 0, -time.Second, "gru"),
		`-models: "foo" is not one of transformer, lstm, gru`:  checkFlags(2, 4096, 0, 0, "gru,foo"),
	} {
		require.EqualError(t, err, want)
	}
}

// TestGPUInfo reads nvidia-smi's answer (a stand-in script here) and is empty without one.
func TestGPUInfo(t *testing.T) {
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'NVIDIA H200, 580.159.03, 143771 MiB'\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "nvidia-smi"), []byte(script), 0o755))
	t.Setenv("PATH", dir)
	require.Equal(t, "NVIDIA H200, driver 580.159.03, 143771 MiB", gpuInfo())
	t.Setenv("PATH", t.TempDir())
	require.Empty(t, gpuInfo())
}
