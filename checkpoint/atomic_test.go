package checkpoint

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"
)

// TestFailedSaveKeepsPrevious stops a save half-way through writing (as a crash or a full disk
// would): the previous checkpoint is still there, complete and loadable, and no temporary is left.
func TestFailedSaveKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.bin")
	ctx := context.New()
	ctx.In("model").VariableWithValue("w", []float32{1, 2, 3})
	require.NoError(t, Save(path, ctx, map[string]int{"step": 1}))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	crashHook = func() error { return errors.New("simulated crash") }
	defer func() { crashHook = nil }()
	err = Save(path, ctx, map[string]int{"step": 2})
	require.ErrorContains(t, err, "simulated crash")

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after)
	var meta map[string]int
	require.NoError(t, Load(path, context.New(), &meta))
	require.Equal(t, 1, meta["step"])
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

// TestWriteFileMode: files are readable by others (0644), as os.WriteFile's usual 0644 would be,
// not CreateTemp's 0600.
func TestWriteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f.txt")
	require.NoError(t, WriteFile(path, []byte("hello")))
	info, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		require.Equal(t, os.FileMode(0o644), info.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "hello", string(b))
}

// TestWriteFileFuncError: a write that fails half-way leaves the old file and no temporary.
func TestWriteFileFuncError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f.bin")
	require.NoError(t, WriteFile(path, []byte("old")))
	err := WriteFileFunc(path, func(w io.Writer) error {
		if _, err := w.Write([]byte("new, half")); err != nil {
			return err
		}
		return errors.New("disk full")
	})
	require.ErrorContains(t, err, "writing: disk full")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "old", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary left")
}
