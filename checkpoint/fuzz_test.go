package checkpoint_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/checkpoint"
)

// crafted returns the body (the file less its checksum) of a valid checkpoint, and bodies whose
// header a checksum cannot vouch for (a writer's bug, a crafted file) with the error each must
// give: a byte range that overflows, negative and huge dimensions, an unknown dtype, scopes that
// are not absolute paths, an empty name, a variable named twice.
func crafted(tb testing.TB) (good []byte, bad map[string][]byte, want map[string]string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "seed.bin")
	require.NoError(tb, checkpoint.Save(path, newContext(), meta{Step: 7, State: []byte{1, 2}}))
	file, err := os.ReadFile(path)
	require.NoError(tb, err)
	good = file[:len(file)-4]
	// The layout (package doc): magic line, 8-byte header length, JSON header, values.
	const magic = "bitter-checkpoint v1\n"
	hLen := int(binary.LittleEndian.Uint64(good[len(magic):]))
	header, values := string(good[len(magic)+8:len(magic)+8+hLen]), good[len(magic)+8+hLen:]
	withHeader := func(h string) []byte {
		out := binary.LittleEndian.AppendUint64([]byte(magic), uint64(len(h)))
		return append(append(out, h...), values...)
	}
	bad, want = map[string][]byte{}, map[string]string{}
	for name, c := range map[string]struct{ from, to, want string }{
		// Variables are saved in scope and name order: the first is "/" global_step (int64).
		"offset overflow":  {`"offset":0`, `"offset":9223372036854775800`, "variable //global_step: byte range 9223372036854775800+8 is outside"},
		"negative dims":    {`"shape":[2,2]`, `"shape":[-2,-2]`, "shape [-2 -2] does not fit its 16 bytes"},
		"huge dims":        {`"shape":[2,2]`, `"shape":[4611686018427387904,4]`, "shape [4611686018427387904 4] does not fit"},
		"unknown dtype":    {`"dtype":"Float32"`, `"dtype":"Float99"`, `dtype "Float99"`},
		"relative scope":   {`"scope":"/model/layer_0"`, `"scope":"model"`, `variable "weights" in scope "model": not a scope path and a name`},
		"empty scope":      {`"scope":"/model/layer_0"`, `"scope":""`, `in scope "": not a scope path`},
		"empty name":       {`"name":"weights"`, `"name":""`, `variable "" in scope "/model/layer_0"`},
		"name with a path": {`"name":"weights"`, `"name":"a/weights"`, `variable "a/weights" in scope "/model/layer_0"`},
	} {
		require.Contains(tb, header, c.from)
		bad[name], want[name] = withHeader(strings.Replace(header, c.from, c.to, 1)), c.want
	}
	var h struct {
		Meta      json.RawMessage   `json:"meta"`
		Variables []json.RawMessage `json:"variables"`
	}
	require.NoError(tb, json.Unmarshal([]byte(header), &h))
	for _, v := range h.Variables {
		if strings.Contains(string(v), `"name":"weights"`) {
			h.Variables = append(h.Variables, v)
		}
	}
	dup, err := json.Marshal(h)
	require.NoError(tb, err)
	bad["named twice"], want["named twice"] = withHeader(string(dup)), "variable /model/layer_0/weights appears twice"
	return good, bad, want
}

// load writes body with a right checksum and loads it into a new context.
func load(tb testing.TB, body []byte) (*context.Context, error) {
	file := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.ChecksumIEEE(body))
	p := filepath.Join(tb.TempDir(), "ck.bin")
	require.NoError(tb, os.WriteFile(p, file, 0o644))
	ctx := context.New()
	var m meta
	return ctx, checkpoint.Load(p, ctx, &m)
}

func TestCraftedHeadersAreCorrupt(t *testing.T) {
	good, bad, want := crafted(t)
	ctx, err := load(t, good)
	require.NoError(t, err, "the untouched body, checksummed again, loads")
	require.NotZero(t, ctx.NumVariables())
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			ctx, err := load(t, body)
			require.ErrorIs(t, err, checkpoint.ErrCorrupt)
			require.ErrorContains(t, err, want[name])
			require.Zero(t, ctx.NumVariables(), "nothing loaded from a corrupt file")
		})
	}
}

// FuzzLoad feeds Load mutated checkpoints whose checksum is made right again, so that mutations
// reach the parser: Load must return ErrCorrupt, leaving the context empty, or succeed; never panic.
// The inputs are read from memory (LoadBytes: Load past opening its file), not written to a file each.
// `go test -run '^$' -fuzz FuzzLoad -fuzztime 30s ./checkpoint` searches; `go test` runs the seeds.
func FuzzLoad(f *testing.F) {
	good, bad, _ := crafted(f)
	f.Add(good)
	for _, body := range bad {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		file := binary.LittleEndian.AppendUint32(append([]byte(nil), body...), crc32.ChecksumIEEE(body))
		ctx := context.New()
		var m meta
		err := checkpoint.LoadBytes(file, ctx, &m)
		if err != nil {
			if !errors.Is(err, checkpoint.ErrCorrupt) {
				t.Fatalf("a malformed checkpoint's error does not wrap ErrCorrupt: %v", err)
			}
			if n := ctx.NumVariables(); n != 0 {
				t.Fatalf("a corrupt checkpoint left %d variables in the context: %v", n, err)
			}
		}
	})
}
