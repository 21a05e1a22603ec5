package cli

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
	"github.com/stretchr/testify/require"
)

func TestPresetArg(t *testing.T) {
	require.Equal(t, "cpu", PresetArg(nil, "cpu"))
	require.Equal(t, "gpu", PresetArg([]string{"-steps", "3", "-preset", "gpu"}, "cpu"))
	require.Equal(t, "nanda", PresetArg([]string{"--preset=nanda"}, "cpu"))
	require.Equal(t, "x", PresetArg([]string{"-preset=x", "-preset", "y"}, "cpu"), "the first one")
	require.Equal(t, "cpu", PresetArg([]string{"-preset"}, "cpu"), "no value: the default (flag parsing reports it)")
}

func TestOutputDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	require.NoError(t, OutputDir(dir))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "the check leaves nothing behind")
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	require.ErrorContains(t, OutputDir(filepath.Join(file, "sub")), "-out: mkdir")
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(t.TempDir(), "ro")
		require.NoError(t, os.Mkdir(ro, 0o555))
		require.ErrorContains(t, OutputDir(ro), "cannot write there")
	}
}

func TestAttentionKernels(t *testing.T) {
	for _, c := range []struct {
		block, cudnn string
		want         attention.Kernels
	}{
		{"", "", attention.Kernels{}},
		{"256", "", attention.Kernels{CausalBlock: 256}},
		{"0", "0", attention.Kernels{CausalBlock: -1, CuDNN: attention.CuDNNNever}},
	} {
		t.Setenv(CausalBlockEnvVar, c.block)
		t.Setenv(CuDNNEnvVar, c.cudnn)
		k, err := AttentionKernels()
		require.NoError(t, err)
		require.Equal(t, c.want, k, "%s=%q %s=%q", CausalBlockEnvVar, c.block, CuDNNEnvVar, c.cudnn)
	}
	t.Setenv(CuDNNEnvVar, "")
	t.Setenv(CausalBlockEnvVar, "big")
	_, err := AttentionKernels()
	require.EqualError(t, err, `BITTER_CAUSAL_BLOCK="big" is not a non-negative integer (0 = no blocks)`)
	t.Setenv(CausalBlockEnvVar, "")
	t.Setenv(CuDNNEnvVar, "yes")
	_, err = AttentionKernels()
	require.EqualError(t, err, `BITTER_CUDNN_ATTENTION="yes": want 1 (cuDNN's fused attention wherever it fits, on XLA), 0 (never) or nothing (on CUDA)`)
	t.Setenv(CuDNNEnvVar, "1")
	k, err := AttentionKernels()
	if customcall.Built() {
		require.NoError(t, err)
		require.Equal(t, attention.CuDNNAlways, k.CuDNN)
	} else {
		require.ErrorContains(t, err, "BITTER_CUDNN_ATTENTION=1: CuDNN \"always\": this binary was built without custom calls")
	}
}

func TestPrintError(t *testing.T) {
	var b strings.Builder
	PrintError(&b, "nexttoken", errors.Join(errors.New("-steps 0 must be positive"), errors.New("-lr -1 must be a positive number")))
	require.Equal(t, "nexttoken: -steps 0 must be positive\nnexttoken: -lr -1 must be a positive number\n", b.String())
	b.Reset()
	PrintError(&b, "grokking", errors.New("one line"))
	require.Equal(t, "grokking: one line\n", b.String())
}

// TestParseFlags: a bad flag is one error with a hint to -h and prints no usage; -h prints it.
func TestParseFlags(t *testing.T) {
	newFS := func() *flag.FlagSet {
		fs := flag.NewFlagSet("cmd", flag.ContinueOnError)
		fs.Int("steps", 100, "optimizer steps")
		return fs
	}
	var w strings.Builder
	help, err := ParseFlags(newFS(), []string{"-steps", "x"}, &w)
	require.False(t, help)
	require.EqualError(t, err, `invalid value "x" for flag -steps: parse error (cmd -h lists the flags)`)
	require.Empty(t, w.String(), "no usage before the error")
	_, err = ParseFlags(newFS(), []string{"-stpes", "3"}, &w)
	require.EqualError(t, err, "flag provided but not defined: -stpes (cmd -h lists the flags)")
	_, err = ParseFlags(newFS(), []string{"stray"}, &w)
	require.EqualError(t, err, `unexpected argument "stray" (flags start with -; cmd -h lists them)`)
	require.Empty(t, w.String())
	help, err = ParseFlags(newFS(), []string{"-h"}, &w)
	require.True(t, help)
	require.NoError(t, err)
	require.Contains(t, w.String(), "Usage of cmd:")
	require.Contains(t, w.String(), "optimizer steps (default 100)")
}
