package safetensors_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/safetensors"
)

const pyFile = "../pretrained/testdata/gpt2-tiny/model.safetensors" // written in Python by pretrained/testdata/generate.py
const pyBF16 = "../pretrained/testdata/gpt2-tiny-bf16.safetensors"  // the same weights in bfloat16

// TestReadPythonFile reads a file written in Python from the format's description, and its
// bfloat16 copy: names, order, shapes, metadata, and values that agree.
func TestReadPythonFile(t *testing.T) {
	f, err := safetensors.Read(pyFile)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"format": "pt"}, f.Metadata)
	require.Len(t, f.Names, 2+2*13+2) // wte, wpe, per layer 12 weights and the mask buffer, ln_f
	require.Equal(t, []string{"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias", "h.0.attn.bias"}, f.Names[:5])
	require.Equal(t, []int{407, 16}, f.Tensors["wte.weight"].Shape)
	require.Equal(t, []int{16, 48}, f.Tensors["h.1.attn.c_attn.weight"].Shape)
	require.Equal(t, []int{1, 1, 32, 32}, f.Tensors["h.0.attn.bias"].Shape)
	mask, err := f.Tensors["h.0.attn.bias"].Float32s()
	require.NoError(t, err)
	require.Equal(t, float32(1), mask[32+1]) // row 1, column 1
	require.Equal(t, float32(0), mask[32+2]) // row 1, column 2: causal
	bf, err := safetensors.Read(pyBF16)
	require.NoError(t, err)
	require.Equal(t, "BF16", bf.Tensors["lm_head.weight"].DType)
	for _, name := range f.Names {
		if strings.HasSuffix(name, "attn.bias") {
			continue
		}
		want, err := f.Tensors[name].Float32s()
		require.NoError(t, err)
		got, err := bf.Tensors["transformer."+name].Float32s()
		require.NoError(t, err)
		require.Len(t, got, len(want))
		for i := range want {
			// bfloat16 keeps 8 bits of mantissa: rounded to nearest, within half a step (2^-8).
			require.InDelta(t, want[i], got[i], math.Abs(float64(want[i]))/256+1e-30, "%s[%d]", name, i)
			require.Zero(t, math.Float32bits(got[i])&0xFFFF, "%s[%d] is a bfloat16", name, i)
		}
	}
}

// TestOpen reads the header alone and each tensor on demand: the same tensors as Read.
func TestOpen(t *testing.T) {
	f, err := safetensors.Read(pyFile)
	require.NoError(t, err)
	o, err := safetensors.Open(pyFile)
	require.NoError(t, err)
	require.Equal(t, f.Names, o.Names)
	require.Equal(t, f.Metadata, o.Metadata)
	for _, name := range f.Names {
		require.Nil(t, o.Tensors[name].Data, "not read before Load")
		got, err := o.Load(name)
		require.NoError(t, err)
		require.Equal(t, f.Tensors[name], got, name)
	}
	_, err = o.Load("nope")
	require.ErrorContains(t, err, `no tensor "nope"`)
	require.NoError(t, o.Close())
	_, err = o.Load(f.Names[0])
	require.ErrorContains(t, err, "the file is closed")
	require.NoError(t, o.Close(), "closing twice does nothing")
}

// TestRoundTrip writes what it read and reads it back, and writes a new file.
func TestRoundTrip(t *testing.T) {
	f, err := safetensors.Read(pyFile)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "out", "model.safetensors")
	require.NoError(t, safetensors.Write(path, f.Names, f.Tensors, f.Metadata))
	g, err := safetensors.Read(path)
	require.NoError(t, err)
	require.Equal(t, f.Names, g.Names)
	require.Equal(t, f.Tensors, g.Tensors)
	require.Equal(t, f.Metadata, g.Metadata)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Zero(t, binary.LittleEndian.Uint64(raw)%8, "header padded to 8 bytes")

	x, err := safetensors.FromFloat32s([]float32{1, -2.5, float32(math.Inf(1)), 3e-40, 0, 7}, 2, 3)
	require.NoError(t, err)
	s, err := safetensors.FromFloat32s([]float32{42})
	require.NoError(t, err)
	content, err := safetensors.Marshal([]string{"x", "s"}, map[string]safetensors.Tensor{"x": x, "s": s}, nil)
	require.NoError(t, err)
	back, err := safetensors.Parse(content)
	require.NoError(t, err)
	require.Nil(t, back.Metadata)
	v, err := back.Tensors["x"].Float32s()
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2.5, float32(math.Inf(1)), 3e-40, 0, 7}, v)
	require.Equal(t, []int{}, back.Tensors["s"].Shape)
	_, err = safetensors.FromFloat32s([]float32{1, 2}, 3)
	require.ErrorContains(t, err, "2 values do not make shape [3]")
	_, err = safetensors.FromFloat32s([]float32{1, 2}, -1, -2) // a product of 2 all the same
	require.EqualError(t, err, "safetensors: shape [-1 -2] has a negative dimension")
	_, err = safetensors.Marshal([]string{"y"}, map[string]safetensors.Tensor{"x": x}, nil)
	require.ErrorContains(t, err, `no tensor "y" to write`)
	_, err = safetensors.Marshal([]string{"x", "x"}, map[string]safetensors.Tensor{"x": x}, nil)
	require.ErrorContains(t, err, `tensor "x" twice`)
	_, err = safetensors.Marshal([]string{"x"}, map[string]safetensors.Tensor{"x": {DType: "F32", Shape: []int{3}, Data: make([]byte, 8)}}, nil)
	require.ErrorContains(t, err, "8 bytes are not a F32 tensor of shape [3]")
}

// TestHalfPrecision reads F16, BF16 and F64 elements of known values.
func TestHalfPrecision(t *testing.T) {
	le16 := func(v ...uint16) []byte {
		b := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(b[2*i:], x)
		}
		return b
	}
	f16, err := safetensors.Tensor{DType: "F16", Shape: []int{5}, Data: le16(0x3C00, 0xC000, 0x7BFF, 0x0001, 0xFC00)}.Float32s()
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2, 65504, float32(math.Ldexp(1, -24)), float32(math.Inf(-1))}, f16)
	bf16, err := safetensors.Tensor{DType: "BF16", Shape: []int{3}, Data: le16(0x3F80, 0xC020, 0x0001)}.Float32s()
	require.NoError(t, err)
	require.Equal(t, []float32{1, -2.5, math.Float32frombits(0x10000)}, bf16)
	f64 := make([]byte, 8)
	binary.LittleEndian.PutUint64(f64, math.Float64bits(0.1))
	v, err := safetensors.Tensor{DType: "F64", Shape: []int{1}, Data: f64}.Float32s()
	require.NoError(t, err)
	require.Equal(t, []float32{0.1}, v)
	_, err = safetensors.Tensor{DType: "I32", Shape: []int{1}, Data: make([]byte, 4)}.Float32s()
	require.ErrorContains(t, err, "cannot read I32 elements as float32")
	_, err = safetensors.Tensor{DType: "F32", Shape: []int{2}, Data: make([]byte, 4)}.Float32s()
	require.ErrorContains(t, err, "a F32 tensor of shape [2] has 4 bytes")
}

// file builds a safetensors file from a header and a data length, without checks.
func file(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), make([]byte, data)...)
}

// TestBadFiles: each damaged file is an ErrFormat error naming the problem.
func TestBadFiles(t *testing.T) {
	huge := binary.LittleEndian.AppendUint64(nil, 1<<62)
	dir := t.TempDir()
	for i, c := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty", nil, "0 bytes, fewer than the 8"},
		{"header past the end", append(huge, "{}"...), "header length 4611686018427387904 is beyond"},
		{"not json", file(`{"a":`, 0), "the header is not a JSON object"},
		{"a list", file(`[1]`, 0), "the header is not a JSON object"},
		{"null", file(`null`, 0), "the header is not a JSON object"},
		{"bad metadata", file(`{"__metadata__":{"a":1}}`, 0), "__metadata__ is not an object of strings"},
		{"unknown dtype", file(`{"w":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, 4), `tensor "w": unknown dtype "F33"`},
		{"no shape", file(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, 4), `tensor "w" has no shape`},
		{"one offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, 4), "is not [start, end]"},
		{"offset past data", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, 4), "data offset 8 is outside the 4 data bytes"},
		{"fractional offset", file(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,3.5]}}`, 4), "data offset 3.5 is outside"},
		{"backwards", file(`{"w":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4), "end before they start"},
		{"negative dim", file(`{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "dimension 0 is -1"},
		{"overflowing shape", file(`{"w":{"dtype":"F64","shape":[4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4,4],"data_offsets":[0,8]}}`, 8), "holds more elements than the file"},
		{"size mismatch", file(`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 8), "needs 8 bytes, data_offsets [0, 4] hold 4"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlaps the one before"},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "leaves a gap"},
		{"trailing bytes", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), "the tensors hold 4 bytes of the 8"},
		{"not UTF-8", file("{\"w\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "the header is not valid UTF-8"},
		// Keys are matched exactly: "SHAPE" is not "shape" (the reference ignores unknown keys).
		{"SHAPE is not shape", file(`{"w":{"dtype":"F32","SHAPE":[1],"data_offsets":[0,4]}}`, 4), `tensor "w" has no shape`},
		{"header past the limit", append(binary.LittleEndian.AppendUint64(nil, safetensors.MaxHeader+1), "{}"...), "header length 100000001 is beyond"},
	} {
		_, err := safetensors.Parse(c.content)
		require.ErrorContains(t, err, c.want, c.name)
		require.True(t, errors.Is(err, safetensors.ErrFormat), c.name)
		path := filepath.Join(dir, fmt.Sprintf("%d.safetensors", i))
		require.NoError(t, os.WriteFile(path, c.content, 0o644))
		_, err = safetensors.Open(path)
		require.ErrorContains(t, err, c.want, "Open: "+c.name)
		require.True(t, errors.Is(err, safetensors.ErrFormat), c.name)
	}
	_, err := safetensors.Read(filepath.Join(t.TempDir(), "missing.safetensors"))
	require.ErrorContains(t, err, "no such file")
	// Every truncation of a real file is an error, never a panic.
	raw, err := os.ReadFile(pyFile)
	require.NoError(t, err)
	for n := 0; n < len(raw); n += 97 {
		_, err := safetensors.Parse(raw[:n])
		require.Error(t, err, "truncated to %d bytes", n)
		path := filepath.Join(dir, "cut.safetensors")
		require.NoError(t, os.WriteFile(path, raw[:n], 0o644))
		_, err = safetensors.Open(path)
		require.Error(t, err, "Open: truncated to %d bytes", n)
	}
}

// TestReferenceReadings: files the reference implementation (Hugging Face's Rust crate) reads, read
// the same: an empty tensor (a dimension of 0) at offsets [0, 0], even in a file with no data, and
// beside other tensors; a key that differs from "shape" only in case ignored, as the reference
// ignores unknown keys; our own writer's empty tensors read back.
func TestReferenceReadings(t *testing.T) {
	f, err := safetensors.Parse(file(`{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}`, 0))
	require.NoError(t, err)
	require.Equal(t, []int{0, 3}, f.Tensors["e"].Shape)
	require.Empty(t, f.Tensors["e"].Data)
	f, err = safetensors.Parse(file(`{"e":{"dtype":"F32","shape":[3,0],"data_offsets":[0,0]},"w":{"dtype":"F32","shape":[1],"SHAPE":[7],"data_offsets":[0,4]}}`, 4))
	require.NoError(t, err)
	require.Equal(t, []int{1}, f.Tensors["w"].Shape)
	require.Equal(t, []string{"e", "w"}, f.Names)
	empty, err := safetensors.FromFloat32s(nil, 0, 3)
	require.NoError(t, err)
	one, err := safetensors.FromFloat32s([]float32{1.5}, 1)
	require.NoError(t, err)
	for _, names := range [][]string{{"e"}, {"e", "one"}, {"one", "e"}} {
		content, err := safetensors.Marshal(names, map[string]safetensors.Tensor{"e": empty, "one": one}, nil)
		require.NoError(t, err)
		back, err := safetensors.Parse(content)
		require.NoError(t, err, "%v", names)
		require.Equal(t, []int{0, 3}, back.Tensors["e"].Shape, "%v", names)
	}
}

// FuzzParse: no input panics; whatever parses writes back to the same tensors.
func FuzzParse(f *testing.F) {
	f.Add(file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(file(`{"__metadata__":{"k":"v"},"a":{"dtype":"BF16","shape":[2,0],"data_offsets":[0,0]},"b":{"dtype":"I8","shape":[],"data_offsets":[0,1]}}`, 1))
	f.Fuzz(func(t *testing.T, content []byte) {
		p, err := safetensors.Parse(content)
		if err != nil {
			return
		}
		out, err := safetensors.Marshal(p.Names, p.Tensors, p.Metadata)
		if err != nil {
			t.Fatalf("a parsed file does not write: %v", err)
		}
		q, err := safetensors.Parse(out)
		if err != nil {
			t.Fatalf("a written file does not parse: %v", err)
		}
		require.Equal(t, p.Names, q.Names)
	})
}

// FuzzOpenIndex: no index file panics OpenIndex or leaves a shard open; what opens holds exactly the
// two shards' tensors, each of which loads with its bytes, or is an ErrFormat error naming the file.
func FuzzOpenIndex(f *testing.F) {
	dir := f.TempDir()
	a, err := safetensors.FromFloat32s([]float32{1, 2, 3, 4}, 2, 2)
	require.NoError(f, err)
	b, err := safetensors.FromFloat32s([]float32{5}, 1)
	require.NoError(f, err)
	c, err := safetensors.FromFloat32s(nil, 0, 3)
	require.NoError(f, err)
	tensors := map[string]safetensors.Tensor{"a": a, "b": b, "c": c}
	require.NoError(f, safetensors.Write(filepath.Join(dir, "s1.safetensors"), []string{"a"}, tensors, map[string]string{"format": "pt"}))
	require.NoError(f, safetensors.Write(filepath.Join(dir, "s2.safetensors"), []string{"b", "c"}, tensors, nil))
	f.Add([]byte(`{"metadata":{"total_size":20},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"s1.safetensors","b":"s1.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"../s1.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{}}`))
	index := filepath.Join(dir, "model.safetensors.index.json")
	f.Fuzz(func(t *testing.T, content []byte) {
		require.NoError(t, os.WriteFile(index, content, 0o644))
		sharded, err := safetensors.OpenIndex(index)
		if err != nil {
			if !errors.Is(err, safetensors.ErrFormat) && !strings.Contains(err.Error(), "safetensors: ") {
				t.Fatalf("error without the package's prefix: %v", err)
			}
			return
		}
		defer func() { require.NoError(t, sharded.Close()) }()
		require.ElementsMatch(t, []string{"a", "b", "c"}, sharded.Names)
		for name, want := range tensors {
			got, err := sharded.Load(name)
			require.NoError(t, err)
			require.Equal(t, want.Shape, got.Shape, name)
			require.Equal(t, len(want.Data), len(got.Data), name)
		}
	})
}
