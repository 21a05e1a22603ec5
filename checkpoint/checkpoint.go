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
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
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

// crashHook, when set by tests, runs half-way through writing the temporary file; an error stops
// the save there, as a crash would.
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
	var blob bytes.Buffer
	for _, v := range vars {
		t, err := v.Value()
		if err != nil {
			return fmt.Errorf("checkpoint %s: variable %s has no value: %w", path, v.ScopeAndName(), err)
		}
		e := varEntry{Scope: v.Scope(), Name: v.Name(), DType: t.DType().String(), Shape: t.Shape().Dimensions,
			Offset: int64(blob.Len()), Trainable: v.Trainable}
		if err := t.ConstBytes(func(b []byte) { blob.Write(b) }); err != nil {
			return fmt.Errorf("checkpoint %s: reading %s: %w", path, v.ScopeAndName(), err)
		}
		e.Size = int64(blob.Len()) - e.Offset
		h.Variables = append(h.Variables, e)
	}
	hJSON, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("checkpoint %s: encoding header: %w", path, err)
	}
	var out bytes.Buffer
	out.WriteString(magic)
	_ = binary.Write(&out, binary.LittleEndian, uint64(len(hJSON)))
	out.Write(hJSON)
	out.Write(blob.Bytes())
	_ = binary.Write(&out, binary.LittleEndian, crc32.ChecksumIEEE(out.Bytes()))
	return writeAtomic(path, out.Bytes())
}

// WriteFile writes content to path atomically, as Save writes a checkpoint: into a temporary file in
// the same folder, synced, then renamed over path, so path holds either its old content or all of
// the new one. It creates the folder if needed; the file's mode is 0644.
func WriteFile(path string, content []byte) error { return writeAtomic(path, content) }

func writeAtomic(path string, content []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // No-op after the rename.
	if err := tmp.Chmod(0o644); err != nil {     // CreateTemp makes files only their owner can read
		_ = tmp.Close()
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	half := len(content) / 2
	if _, err := tmp.Write(content[:half]); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("checkpoint %s: writing: %w", path, err)
	}
	if crashHook != nil { // Tests: fail half-way through the write.
		if err := crashHook(); err != nil {
			_ = tmp.Close()
			return fmt.Errorf("checkpoint %s: writing: %w", path, err)
		}
	}
	if _, err := tmp.Write(content[half:]); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("checkpoint %s: writing: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("checkpoint %s: syncing: %w", path, err)
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
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %s: %w: %s", path, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(content) < len(magic)+8+4 || string(content[:len(magic)]) != magic {
		return corrupt("not a bitter checkpoint (bad magic or too short: %d bytes)", len(content))
	}
	body, sum := content[:len(content)-4], binary.LittleEndian.Uint32(content[len(content)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return corrupt("checksum mismatch (truncated or altered)")
	}
	hLen := binary.LittleEndian.Uint64(body[len(magic):])
	start := uint64(len(magic) + 8)
	if hLen > uint64(len(body))-start {
		return corrupt("header length %d past the end of the file", hLen)
	}
	var h header
	if err := json.Unmarshal(body[start:start+hLen], &h); err != nil {
		return corrupt("header: %v", err)
	}
	blob := body[start+hLen:]
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
		blobLen := int64(len(blob))
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
		if err := t.MutableBytes(func(b []byte) { copy(b, blob[e.Offset:e.Offset+e.Size]) }); err != nil {
			return fmt.Errorf("checkpoint %s: %w", path, err)
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
