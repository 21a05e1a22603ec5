package checkpoint_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/checkpoint"
)

type meta struct {
	Step  int
	State []byte
}

func newContext() *context.Context {
	ctx := context.New()
	ctx.In("model").In("layer_0").VariableWithValue("weights", [][]float32{{1.5, -2}, {3, 4.25}})
	ctx.In("model").In("layer_0").In("kv_cache").VariableWithValue("key", []float32{9, 9}).SetTrainable(false)
	ctx.VariableWithValue("global_step", int64(42)).SetTrainable(false)
	ctx.In("optimizer").VariableWithValue("lr", 0.5).SetTrainable(false)
	// GoMLX's trainer keeps its moving averages in scopes named anew (random UUID) in each process.
	ctx.In("metrics").In("Moving Average Loss_uuid_8e0d1f03").VariableWithValue("mean", float32(3)).SetTrainable(false)
	return ctx
}

func TestSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "checkpoint.bin")
	require.NoError(t, checkpoint.Save(path, newContext(), meta{Step: 42, State: []byte{1, 2, 3}}))

	ctx := context.New()
	var m meta
	require.NoError(t, checkpoint.Load(path, ctx, &m))
	require.Equal(t, meta{Step: 42, State: []byte{1, 2, 3}}, m)
	w := ctx.GetVariableByScopeAndName("/model/layer_0", "weights")
	require.NotNil(t, w)
	require.Equal(t, [][]float32{{1.5, -2}, {3, 4.25}}, w.MustValue().Value())
	require.True(t, w.Trainable)
	step := ctx.GetVariableByScopeAndName("/", "global_step")
	require.NotNil(t, step)
	require.Equal(t, int64(42), step.MustValue().Value())
	require.False(t, step.Trainable)
	require.Equal(t, 0.5, ctx.GetVariableByScopeAndName("/optimizer", "lr").MustValue().Value())
	require.Nil(t, ctx.GetVariableByScopeAndName("/model/layer_0/kv_cache", "key"), "caches are not saved")
	require.Nil(t, ctx.GetVariableByScopeAndName("/metrics/Moving Average Loss_uuid_8e0d1f03", "mean"),
		"GoMLX's per-process metric state is not saved")

	// Loading into a context that has the variables overwrites them.
	existing := newContext()
	existing.GetVariableByScopeAndName("/model/layer_0", "weights").MustSetValue(w.MustValue())
	require.NoError(t, checkpoint.Load(path, existing, nil))
}

// TestSaveIsDeterministic: the same state saves to the same bytes, however the context enumerates
// its variables (in map order), and whatever order they were created in.
func TestSaveIsDeterministic(t *testing.T) {
	dir := t.TempDir()
	build := func(order []int) *context.Context {
		ctx := context.New()
		for _, i := range order {
			ctx.In(fmt.Sprintf("layer_%d", i%5)).VariableWithValue(fmt.Sprintf("w%d", i), []float32{float32(i), -1})
		}
		return ctx
	}
	var first []byte
	for k, order := range [][]int{{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, {5, 0, 9, 3, 11, 1, 7, 2, 10, 4, 8, 6}} {
		ctx := build(order)
		for rep := range 3 {
			path := filepath.Join(dir, fmt.Sprintf("c%d_%d.bin", k, rep))
			require.NoError(t, checkpoint.Save(path, ctx, meta{Step: 7}))
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			if first == nil {
				first = b
			}
			require.Equal(t, first, b, "order %v, save %d", order, rep)
		}
	}
}

func TestCorruptCheckpoints(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.bin")
	require.NoError(t, checkpoint.Save(path, newContext(), meta{Step: 1}))
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	cases := map[string][]byte{
		"truncated": good[:len(good)-10],
		"flipped":   append(append([]byte{}, good[:60]...), append([]byte{good[60] ^ 1}, good[61:]...)...),
		"empty":     {},
		"other":     []byte("hello, this is not a checkpoint at all, not even close"),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, name)
			require.NoError(t, os.WriteFile(p, content, 0o644))
			ctx := context.New()
			err := checkpoint.Load(p, ctx, &meta{})
			require.Error(t, err)
			require.True(t, errors.Is(err, checkpoint.ErrCorrupt), "%v", err)
			require.Contains(t, err.Error(), p)
			require.Zero(t, ctx.NumVariables(), "nothing loaded from a corrupt file")
		})
	}
	_, err = os.Stat(filepath.Join(dir, "missing"))
	require.Error(t, err)
	require.ErrorContains(t, checkpoint.Load(filepath.Join(dir, "missing"), context.New(), nil), "no such file")
}

func TestShapeMismatchIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ck.bin")
	require.NoError(t, checkpoint.Save(path, newContext(), meta{}))
	ctx := context.New()
	ctx.In("model").In("layer_0").VariableWithValue("weights", []float32{1, 2, 3})
	err := checkpoint.Load(path, ctx, nil)
	require.ErrorContains(t, err, "variable /model/layer_0/weights has shape (Float32)[2 2], the model's is (Float32)[3]")
	require.Equal(t, []float32{1, 2, 3}, ctx.GetVariableByScopeAndName("/model/layer_0", "weights").MustValue().Value())
}

// TestCrashMidWriteKeepsPrevious simulates a crash after the temporary file was partly written:
// the checkpoint at the final path is still the previous, complete one.
func TestCrashMidWriteKeepsPrevious(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck.bin")
	require.NoError(t, checkpoint.Save(path, newContext(), meta{Step: 1}))
	// What a crash mid-write leaves: a partial temporary file beside the checkpoint.
	require.NoError(t, os.WriteFile(path+".tmp-123", []byte("bitter-checkpoint v1\npartial"), 0o644))
	var m meta
	require.NoError(t, checkpoint.Load(path, context.New(), &m))
	require.Equal(t, 1, m.Step)
	// The next save replaces the checkpoint in one rename.
	require.NoError(t, checkpoint.Save(path, newContext(), meta{Step: 2}))
	require.NoError(t, checkpoint.Load(path, context.New(), &m))
	require.Equal(t, 2, m.Step)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the checkpoint alone: Save removed the crashed run's leftover and leaves no temporary of its own")
}

// TestRemoveStale: the temporary files of writes cut short go, and nothing else: not another
// checkpoint's, not a folder, not a name that only looks alike.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ck[1].bin") // pattern characters in the name are taken literally
	for _, f := range []string{"ck[1].bin.tmp-1", "ck[1].bin.tmp-22", "ck1.bin.tmp-3", "other.bin.tmp-4", "ck[1].bin"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "ck[1].bin.tmp-dir"), 0o755))
	n, err := checkpoint.RemoveStale(path)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	var left []string
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	require.ElementsMatch(t, []string{"ck1.bin.tmp-3", "other.bin.tmp-4", "ck[1].bin", "ck[1].bin.tmp-dir"}, left)
}

// TestFormat pins the file layout, built here by hand: the magic line, the header's length and
// JSON, the values in scope and name order, and the CRC-32 of all that. Checkpoints written before
// Save streamed its values keep loading.
func TestFormat(t *testing.T) {
	ctx := context.New()
	ctx.In("b").VariableWithValue("w", []float32{1.5, -2})
	ctx.In("a").VariableWithValue("n", []int32{7}).SetTrainable(false)
	path := filepath.Join(t.TempDir(), "c.bin")
	require.NoError(t, checkpoint.Save(path, ctx, meta{Step: 3}))
	got, err := os.ReadFile(path)
	require.NoError(t, err)

	header := `{"meta":{"Step":3,"State":null},"variables":[` +
		`{"scope":"/a","name":"n","dtype":"Int32","shape":[1],"offset":0,"size":4,"trainable":false},` +
		`{"scope":"/b","name":"w","dtype":"Float32","shape":[2],"offset":4,"size":8,"trainable":true}]}`
	want := []byte("bitter-checkpoint v1\n")
	want = binary.LittleEndian.AppendUint64(want, uint64(len(header)))
	want = append(want, header...)
	want = binary.LittleEndian.AppendUint32(want, 7)
	want = binary.LittleEndian.AppendUint32(want, math.Float32bits(1.5))
	want = binary.LittleEndian.AppendUint32(want, math.Float32bits(-2))
	want = binary.LittleEndian.AppendUint32(want, crc32.ChecksumIEEE(want))
	require.Equal(t, string(want), string(got))
}
