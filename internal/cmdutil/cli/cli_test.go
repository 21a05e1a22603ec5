package cli

import (
	"os"
	"path/filepath"
	"testing"

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
