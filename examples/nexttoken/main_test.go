package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunRejectsBadFlags(t *testing.T) {
	require.ErrorContains(t, run([]string{"-steps", "many"}), `invalid value "many" for flag -steps`)
	require.ErrorContains(t, run([]string{"-no-such-flag"}), "flag provided but not defined: -no-such-flag")
	require.ErrorContains(t, run([]string{"stray"}), `unexpected argument "stray"`)
	require.ErrorContains(t, run([]string{"-lr", "-1"}), "-lr -1 must be a positive number")
	require.NoError(t, run([]string{"-h"}))
}

// TestCommandErrorsAreOneLine builds the command and checks that a missing corpus and a corrupt
// checkpoint end with a one-line error and exit status 1, without a Go panic trace.
func TestCommandErrorsAreOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := filepath.Join(t.TempDir(), "nexttoken")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "checkpoint.bin"), []byte("not a checkpoint"), 0o644))
	for _, args := range [][]string{
		{"-data", "/no/such/file"},
		{"-data", bin, "-out", dir, "-resume"},
		{"-batch", "0"},
		{"-generate", "-out", t.TempDir()},
		{"-generate", "-out", dir},
	} {
		cmd := exec.Command(bin, args...)
		out, err := cmd.CombinedOutput()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "args %v: %s", args, out)
		require.Equal(t, 1, exitErr.ExitCode())
		text := strings.TrimSpace(string(out))
		require.NotContains(t, text, "panic")
		require.NotContains(t, text, "goroutine")
		require.Len(t, strings.Split(text, "\n"), 1, "one line: %q", text)
		require.True(t, strings.HasPrefix(text, "nexttoken: "), text)
	}
}
