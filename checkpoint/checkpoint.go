// Package checkpoint saves and restores a GoMLX context's variables, with a JSON metadata record of
// the caller's (step, data RNG state, config), in one file written atomically and checked on load.
//
// Format: the magic line "bitter-checkpoint v1\n", an 8-byte little-endian header length, the JSON
// header (metadata and each variable's scope, name, dtype, shape and byte range), the variables' raw
// little-endian bytes, and a CRC-32 (IEEE) of everything before it. [Save] writes a temporary file in
// the same folder, syncs it and renames it over the old one, so a crash mid-write leaves the previous
// checkpoint intact; [Load] rejects truncated or altered files with an error that says so.
package checkpoint

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

const magic = "bitter-checkpoint v1\n"

// crashHook, when set by tests, runs once the temporary file is written, before it is synced and
// renamed; an error stops the save there, as a crash would.
var crashHook func() error

type varEntry struct {
	Scope  string `json:"scope"`
	Name   string `json:"name"`
	DType  string `json:"dtype"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	// Trainable is false for optimizer state, counters and other non-trained variables.
	Trainable bool `json:"trainable"`
}

type header struct {
	Meta      json.RawMessage `json:"meta"`
	Variables []varEntry      `json:"variables"`
}

// Skip reports variables that are not saved: the KV caches of attention layers (scope element
// "kv_cache"), which are scratch space for generation, not state; and the state of GoMLX's trainer
// metrics (its moving averages of the loss), whose scopes GoMLX v0.26 names with a random UUID in
// every process ("/metrics/Moving Average Loss_uuid_…"): no later process could find them, so saved
// they would only make two identical runs' checkpoints differ and add a stale pair at every resume.
func Skip(v *context.Variable) bool {
	scope := v.Scope() + "/"
	return strings.Contains(scope, "/kv_cache/") || (strings.HasPrefix(scope, "/metrics/") && strings.Contains(scope, "_uuid_"))
}

// Save writes every variable of ctx (all scopes; except those [Skip] reports), in scope and name
// order, and meta (any value encoding/json can marshal) to path, atomically: the same state and meta
// give the same bytes.
func Save(path string, ctx *context.Context, meta any) error {
	metaJSON, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encoding metadata: %w", path, err)
	}
	h := header{Meta: metaJSON}
	// In scope and name order: GoMLX enumerates a context's variables in map order, which would make
	// two saves of the same state different files.
	var vars []*context.Variable
	for v := range ctx.IterVariables() {
		if !Skip(v) {
			vars = append(vars, v)
		}
	}
	slices.SortFunc(vars, func(a, b *context.Variable) int {
		return cmp.Or(strings.Compare(a.Scope(), b.Scope()), strings.Compare(a.Name(), b.Name()))
	})
	// The header first, from the shapes; then the values stream into the file, each tensor's bytes
	// written as they are (no copy of the whole state in memory), through the checksum.
	values := make([]*tensors.Tensor, len(vars))
	var offset int64
	for i, v := range vars {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("checkpoint %s: variable %s has no value: %w", path, v.ScopeAndName(), err)
		}
		size := int64(t.Shape().Memory())
		h.Variables = append(h.Variables, varEntry{Scope: v.Scope(), Name: v.Name(), DType: t.DType().String(),
			Shape: t.Shape().Dimensions, Offset: offset, Size: size, Trainable: v.Trainable})
		values[i], offset = t, offset+size
	}
	hJSON, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encoding header: %w", path, err)
	}
	return writeAtomic(path, func(w io.Writer) error {
		sum := crc32.NewIEEE()
		out := io.MultiWriter(w, sum)
		head := binary.LittleEndian.AppendUint64([]byte(magic), uint64(len(hJSON)))
		if _, err := out.Write(append(head, hJSON...)); err != nil {
			return err
		}
		for i, t := range values {
			var werr error
			if err := t.ConstBytes(func(b []byte) {
				if int64(len(b)) != h.Variables[i].Size {
					werr = fmt.Errorf("variable %s/%s holds %d bytes, its shape %d", h.Variables[i].Scope, h.Variables[i].Name, len(b), h.Variables[i].Size)
					return
				}
				_, werr = out.Write(b)
			}); err != nil {
				return fmt.Errorf("reading %s/%s: %w", h.Variables[i].Scope, h.Variables[i].Name, err)
			}
			if werr != nil {
				return werr
			}
		}
		return binary.Write(w, binary.LittleEndian, sum.Sum32())
	})
}

// WriteFile writes content to path atomically, as Save writes a checkpoint: into a temporary file in
// the same folder, synced, then renamed over path, so path holds either its old content or all of
// the new one. It creates the folder if needed; the file's mode is 0644.
func WriteFile(path string, content []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(content)
		return err
	})
}

// WriteFileFunc is WriteFile for content too large to hold in memory at once: write writes it,
// through a buffer, into the temporary file; an error from write leaves path as it was.
func WriteFileFunc(path string, write func(w io.Writer) error) error { return writeAtomic(path, write) }

// RemoveStale removes the temporary files that writes of path cut short left beside it (a process
// killed while it saved: path's name, ".tmp-", and a random suffix), and returns how many it removed.
// Save and WriteFile call it before they write, so a folder never holds more than one: the write in
// progress. One process writes a given path at a time.
func RemoveStale(path string) (int, error) {
	dir, prefix := filepath.Dir(path), filepath.Base(path)+".tmp-"
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var errs []error
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue // another file, or not one a write left (a folder, a link): not ours to remove
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("checkpoint %s: removing a stale temporary file: %w", path, err)
	}
	return n, nil
}

// writeAtomic writes what write writes, through a buffer, to a temporary file next to path, syncs
// it and renames it over path, after removing what earlier writes cut short left (RemoveStale).
func writeAtomic(path string, write func(w io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if _, err := RemoveStale(path); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // No-op after the rename.
	fail := func(what string, err error) error {
		_ = tmp.Close()
		return fmt.Errorf("checkpoint %s: %s: %w", path, what, err)
	}
	if err := tmp.Chmod(0o644); err != nil { // CreateTemp makes files only their owner can read
		return fail("chmod", err)
	}
	buf := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(buf); err != nil {
		return fail("writing", err)
	}
	if err := buf.Flush(); err != nil {
		return fail("writing", err)
	}
	if crashHook != nil { // Tests: fail once the temporary file is written, before it replaces path.
		if err := crashHook(); err != nil {
			return fail("writing", err)
		}
	}
	if err := tmp.Sync(); err != nil {
		return fail("syncing", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // Make the rename durable.
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// ErrCorrupt is wrapped by Load's errors for files that are truncated, altered or not checkpoints.
var ErrCorrupt = errors.New("corrupt checkpoint")

// Load reads the checkpoint at path: it decodes its metadata into meta (a pointer, or nil) and
// sets every saved variable in ctx, creating the ones that don't exist. It changes nothing in ctx
// unless the whole file is valid and every saved shape matches an existing variable's.
func Load(path string, ctx *context.Context, meta any) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return load(f, info.Size(), path, ctx, meta)
}

// load is Load of the size bytes of f, which errors call path.
func load(f io.ReaderAt, size int64, path string, ctx *context.Context, meta any) error {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: %w: %s", path, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	readAt := func(b []byte, off int64) error {
		if _, err := f.ReadAt(b, off); err != nil {
			return fmt.Errorf("checkpoint %s: %w", path, err)
		}
		return nil
	}
	// The file is read twice, so that the values go straight into their tensors: first through the
	// checksum, then header and values.
	start := int64(len(magic) + 8)
	if size < start+4 {
		return corrupt("not a bitter checkpoint (bad magic or too short: %d bytes)", size)
	}
	head := make([]byte, start)
	if err := readAt(head, 0); err != nil {
		return err
	}
	if string(head[:len(magic)]) != magic {
		return corrupt("not a bitter checkpoint (bad magic or too short: %d bytes)", size)
	}
	sum := crc32.NewIEEE()
	if _, err := io.CopyBuffer(sum, io.NewSectionReader(f, 0, size-4), make([]byte, 1<<20)); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	var tail [4]byte
	if err := readAt(tail[:], size-4); err != nil {
		return err
	}
	if sum.Sum32() != binary.LittleEndian.Uint32(tail[:]) {
		return corrupt("checksum mismatch (truncated or altered)")
	}
	hLen := binary.LittleEndian.Uint64(head[len(magic):])
	if hLen > uint64(size-4-start) {
		return corrupt("header length %d past the end of the file", hLen)
	}
	hJSON := make([]byte, hLen)
	if err := readAt(hJSON, start); err != nil {
		return err
	}
	var h header
	if err := json.Unmarshal(hJSON, &h); err != nil {
		return corrupt("header: %v", err)
	}
	blobStart := start + int64(hLen)
	blobLen := size - 4 - blobStart
	values := make([]*tensors.Tensor, len(h.Variables))
	seen := make(map[[2]string]bool, len(h.Variables))
	for i, e := range h.Variables {
		// Scopes are absolute paths ("/model/layer_0"), as the context writes them.
		if !strings.HasPrefix(e.Scope, context.ScopeSeparator) || e.Name == "" || strings.Contains(e.Name, context.ScopeSeparator) {
			return corrupt("variable %q in scope %q: not a scope path and a name", e.Name, e.Scope)
		}
		if seen[[2]string{e.Scope, e.Name}] {
			return corrupt("variable %s/%s appears twice", e.Scope, e.Name)
		}
		seen[[2]string{e.Scope, e.Name}] = true
		dtype, err := dtypes.DTypeString(e.DType)
		if err != nil || dtype.Size() <= 0 {
			return corrupt("variable %s/%s: dtype %q", e.Scope, e.Name, e.DType)
		}
		// The byte range must lie in the file, and the shape must need exactly that many bytes;
		// checked without overflow, before any allocation.
		if e.Offset < 0 || e.Size < 0 || e.Offset > blobLen || e.Size > blobLen-e.Offset {
			return corrupt("variable %s/%s: byte range %d+%d is outside the file's %d bytes of values", e.Scope, e.Name, e.Offset, e.Size, blobLen)
		}
		elements := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && elements > e.Size/int64(d)) {
				return corrupt("variable %s/%s: shape %v does not fit its %d bytes", e.Scope, e.Name, e.Shape, e.Size)
			}
			elements *= int64(d)
		}
		shape := shapes.Make(dtype, e.Shape...)
		if e.Size != int64(shape.Memory()) {
			return corrupt("variable %s/%s: byte range %d+%d does not fit shape %s", e.Scope, e.Name, e.Offset, e.Size, shape)
		}
		if v := ctx.GetVariableByScopeAndName(e.Scope, e.Name); v != nil && !v.Shape().Equal(shape) {
			return fmt.Errorf("checkpoint %s: variable %s/%s has shape %s, the model's is %s (a different config?)",
				path, e.Scope, e.Name, shape, v.Shape())
		}
		t := tensors.FromShape(shape)
		var rerr error
		if err := t.MutableBytes(func(b []byte) { rerr = readAt(b, blobStart+e.Offset) }); err != nil {
			return fmt.Errorf("checkpoint %s: %w", path, err)
		}
		if rerr != nil {
			return rerr
		}
		values[i] = t
	}
	if meta != nil {
		if err := json.Unmarshal(h.Meta, meta); err != nil {
			return corrupt("metadata: %v", err)
		}
	}
	for i, e := range h.Variables {
		if v := ctx.GetVariableByScopeAndName(e.Scope, e.Name); v != nil {
			v.SetTrainable(e.Trainable)
			if err := v.SetValue(values[i]); err != nil {
				return fmt.Errorf("checkpoint %s: setting %s/%s: %w", path, e.Scope, e.Name, err)
			}
			continue
		}
		ctx.InAbsPath(e.Scope).Checked(false).VariableWithValue(e.Name, values[i]).SetTrainable(e.Trainable)
	}
	return nil
}

// PrepareDir makes the folder dir (and its parents) and checks that a file can be created in it,
// leaving nothing behind: a run checks where it will save before it spends time training.
func PrepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("%s: cannot write there: %w", dir, err)
	}
	if err := errors.Join(f.Close(), os.Remove(f.Name())); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return nil
}
