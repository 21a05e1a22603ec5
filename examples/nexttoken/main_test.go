package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunRejectsBadFlags(t *testing.T) {
	require.EqualError(t, run([]string{"-steps", "many"}), `invalid value "many" for flag -steps: parse error (nexttoken -h lists the flags)`)
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
	bin := buildCommand(t)

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

// buildCommand builds nexttoken into a temporary folder and returns its path.
func buildCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "nexttoken")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// TestInterruptKeepsTheCheckpoint starts a long run beside a temporary file that an earlier save cut
// short, interrupts it (SIGINT, as Ctrl-C) once it has checkpointed, and checks what is left: the
// stale file removed at the start, exit status 1 with one line that names the intact checkpoint, the
// checkpoint and a loss.csv line for every step taken, and no temporary file.
func TestInterruptKeepsTheCheckpoint(t *testing.T) {
	if testing.Short() || runtime.GOOS == "windows" {
		t.Skip("builds the command and signals it")
	}
	bin := buildCommand(t)
	corpus := filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(corpus, []byte(strings.Repeat("func f(x int) int { return x * 2 }\n", 200)), 0o644))
	out := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(out, "checkpoint.bin.tmp-12345"), []byte("partial"), 0o644))
	cmd := exec.Command(bin, "-data", corpus, "-out", out, "-steps", "1000000", "-eval-every", "3", "-warmup", "1",
		"-layers", "1", "-dim", "16", "-heads", "2", "-ffn", "32", "-seq", "16", "-batch", "4", "-eval-tokens", "64",
		"-sample", "0", "-quiet")
	var stdout strings.Builder
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var lines []string
	scanner := bufio.NewScanner(stderr)
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
		if strings.Contains(scanner.Text(), "checkpoint "+filepath.Join(out, "checkpoint.bin")) && len(lines) > 1 {
			require.NoError(t, cmd.Process.Signal(os.Interrupt))
			break
		}
	}
	for scanner.Scan() {
		lines = append(lines, scanner.Text())
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "stderr: %s", strings.Join(lines, "\n"))
	require.Equal(t, 1, exitErr.ExitCode())
	last := lines[len(lines)-1]
	require.Regexp(t, `^nexttoken: interrupted before step (\d+): the checkpoint in .* \(step \d+\) is intact$`, last)
	require.Contains(t, stdout.String(), "removed 1 temporary checkpoint file(s) that an interrupted save left in "+out)
	entries, err := os.ReadDir(out)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{"checkpoint.bin", "loss.csv", "loss.png"}, names)
	var step int
	_, err = fmt.Sscanf(last[strings.Index(last, "before step "):], "before step %d", &step)
	require.NoError(t, err)
	csv, err := os.ReadFile(filepath.Join(out, "loss.csv"))
	require.NoError(t, err)
	require.Len(t, strings.Split(strings.TrimSpace(string(csv)), "\n"), step, "the header and a line for each of the %d steps taken", step-1)
}
