// Package safetensors reads and writes Hugging Face's safetensors files, the format pretrained
// weights are shipped in: an 8-byte little-endian header length, a JSON header that gives each
// tensor's dtype, shape and byte range, then the tensors' raw little-endian bytes, row-major.
//
// Read, Parse, Open and OpenIndex treat files as untrusted: every number in a header is checked
// against the file (lengths, ranges, sizes against dtype and shape, ranges neither overlapping nor
// leaving gaps, as the reference implementation requires) before any data is used, and a bad file
// is an error that says what is wrong, never a panic.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"unicode/utf8"

	"github.com/x448/float16"

	"github.com/bitterlesson/bitter/checkpoint"
)

// MaxHeader is the largest header Read accepts: the reference implementation's limit (its Rust
// crate's MAX_HEADER_SIZE), 100,000,000 bytes.
const MaxHeader = 100_000_000

// Tensor is one tensor of a file.
type Tensor struct {
	DType string // the file's name of the element type: "F32", "F16", "BF16", "F64", "I64", "I32", ...
	Shape []int  // dimensions, outermost first; empty for a scalar
	Data  []byte // the elements, little-endian, row-major
}

// dtypeSizes are the element sizes in bytes of the dtypes the format defines.
var dtypeSizes = map[string]int{"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
	"BF16": 2, "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}

// NumElements is the product of the dimensions.
func (t Tensor) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Float32s returns the elements as float32: F32 as they are, F16 and BF16 widened exactly, F64
// rounded to nearest. Other dtypes are an error.
func (t Tensor) Float32s() ([]float32, error) {
	if slices.ContainsFunc(t.Shape, func(d int) bool { return d < 0 }) {
		return nil, fmt.Errorf("safetensors: shape %v has a negative dimension", t.Shape)
	}
	out := make([]float32, t.NumElements())
	if err := t.Float32sInto(out); err != nil {
		return nil, err
	}
	return out, nil
}

// Float32sInto is Float32s into out, which must hold exactly the tensor's elements.
func (t Tensor) Float32sInto(out []float32) error {
	n := t.NumElements()
	if size, ok := dtypeSizes[t.DType]; !ok || len(t.Data) != n*size {
		return fmt.Errorf("safetensors: a %s tensor of shape %v has %d bytes", t.DType, t.Shape, len(t.Data))
	}
	if len(out) != n {
		return fmt.Errorf("safetensors: %d elements do not fit in %d", n, len(out))
	}
	d := t.Data
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(d[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = float16.Frombits(binary.LittleEndian.Uint16(d[2*i:])).Float32()
		}
	case "BF16":
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(d[2*i:])) << 16)
		}
	case "F64":
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(d[8*i:])))
		}
	default:
		return fmt.Errorf("safetensors: cannot read %s elements as float32", t.DType)
	}
	return nil
}

// FromFloat32s is a F32 tensor of the given shape holding values.
func FromFloat32s(values []float32, shape ...int) (Tensor, error) {
	if slices.ContainsFunc(shape, func(d int) bool { return d < 0 }) {
		return Tensor{}, fmt.Errorf("safetensors: shape %v has a negative dimension", shape)
	}
	t := Tensor{DType: "F32", Shape: slices.Clone(shape), Data: make([]byte, 4*len(values))}
	if t.NumElements() != len(values) {
		return Tensor{}, fmt.Errorf("safetensors: %d values do not make shape %v", len(values), shape)
	}
	for i, v := range values {
		binary.LittleEndian.PutUint32(t.Data[4*i:], math.Float32bits(v))
	}
	return t, nil
}

// File is the content of a safetensors file: from [Read] or [Parse], the tensors with their data;
// from [Open] (or [OpenIndex], the shards of one checkpoint), their dtypes and shapes, the data
// staying on disk until [File.Load] reads it.
type File struct {
	Names    []string          // the tensors' names, in the order of their data (shard by shard)
	Tensors  map[string]Tensor // by name (Data is nil when opened)
	Metadata map[string]string // the header's optional "__metadata__" (the first shard's)

	spans  map[string][2]int64 // each tensor's data range, from the start of its file's data
	shard  map[string]int      // each tensor's file, an index into files
	files  []diskFile          // Open's file, OpenIndex's shards; nil once closed
	opened bool                // the File came from Open or OpenIndex
}

// diskFile is an opened safetensors file and the offset of its data.
type diskFile struct {
	*os.File
	dataStart int64
}

// Read reads and checks the safetensors file at path, all of it into memory.
func Read(path string) (*File, error) {
	content, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(content)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Open reads and checks the header of the safetensors file at path against the file's size; the
// tensors' data are read by [File.Load], one at a time, so a model's weights need not be in memory
// twice. Close the File when done.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := openFile(fh)
	if err != nil {
		_ = fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

func openFile(fh *os.File) (*File, error) {
	info, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, dataStart, err := readHeader(fh, info.Size())
	if err != nil {
		return nil, err
	}
	f.files, f.opened = []diskFile{{fh, dataStart}}, true
	f.shard = make(map[string]int, len(f.Names))
	return f, nil
}

// readHeader reads and checks the header of a safetensors file of size bytes, and returns it with
// the offset of the data after it.
func readHeader(r io.ReaderAt, size int64) (*File, int64, error) {
	var prefix [8]byte
	if size < 8 {
		return nil, 0, badFormat("%d bytes, fewer than the 8 of the header length", size)
	}
	if _, err := r.ReadAt(prefix[:], 0); err != nil {
		return nil, 0, fmt.Errorf("safetensors: %w", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeader || n > uint64(size-8) {
		return nil, 0, badFormat("header length %d is beyond the file's %d bytes or the %d-byte limit", n, size, MaxHeader)
	}
	header := make([]byte, n)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, 0, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parseHeader(header, uint64(size-8)-n)
	if err != nil {
		return nil, 0, err
	}
	return f, 8 + int64(n), nil
}

// OpenIndex opens a checkpoint saved in shards: the index file (model.safetensors.index.json, whose
// "weight_map" names each tensor's shard, a file in the index's folder) and every shard, with
// [Open]'s checks, and that each shard holds exactly the tensors the index maps to it. The File
// reads tensors from whichever shard holds them. Close it when done.
func OpenIndex(indexPath string) (sharded *File, err error) {
	content, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(content, &index); err != nil || len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s: %w: not an index with a weight_map (%v)", indexPath, ErrFormat, err)
	}
	byShard := map[string][]string{}
	for name, shard := range index.WeightMap {
		if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." {
			return nil, fmt.Errorf("safetensors: %s: %w: tensor %q is in %q, not a file of the index's folder", indexPath, ErrFormat, name, shard)
		}
		byShard[shard] = append(byShard[shard], name)
	}
	shards := slices.Sorted(maps.Keys(byShard))
	f := &File{Tensors: map[string]Tensor{}, spans: map[string][2]int64{}, shard: map[string]int{}, opened: true}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	for k, shard := range shards {
		s, err := Open(filepath.Join(filepath.Dir(indexPath), shard))
		if err != nil {
			return nil, err
		}
		f.files = append(f.files, s.files[0])
		if k == 0 {
			f.Metadata = s.Metadata
		}
		for _, name := range s.Names {
			if index.WeightMap[name] != shard {
				return nil, fmt.Errorf("safetensors: %s: %w: shard %s holds tensor %q, which the index puts in %q", indexPath, ErrFormat, shard, name, index.WeightMap[name])
			}
			f.Names = append(f.Names, name)
			f.Tensors[name], f.spans[name], f.shard[name] = s.Tensors[name], s.spans[name], k
		}
		for _, name := range byShard[shard] {
			if _, ok := s.Tensors[name]; !ok {
				return nil, fmt.Errorf("safetensors: %s: %w: the index puts tensor %q in %s, which does not hold it", indexPath, ErrFormat, name, shard)
			}
		}
	}
	return f, nil
}

// Load returns the named tensor with its data, read from disk when the File came from [Open].
func (f *File) Load(name string) (Tensor, error) {
	t, ok := f.Tensors[name]
	if !ok {
		return Tensor{}, fmt.Errorf("safetensors: no tensor %q", name)
	}
	if !f.opened {
		return t, nil
	}
	if f.files == nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: the file is closed", name)
	}
	span, file := f.spans[name], f.files[f.shard[name]]
	t.Data = make([]byte, span[1]-span[0])
	if _, err := file.ReadAt(t.Data, file.dataStart+span[0]); err != nil {
		return Tensor{}, fmt.Errorf("safetensors: tensor %q: %w", name, err)
	}
	return t, nil
}

// Close closes the files of [Open] and [OpenIndex]; it does nothing for a File from Read or Parse.
func (f *File) Close() error {
	var errs []error
	for _, file := range f.files {
		errs = append(errs, file.Close())
	}
	f.files = nil
	return errors.Join(errs...)
}

// ErrFormat is wrapped by the errors of files that are not valid safetensors.
var ErrFormat = errors.New("not a valid safetensors file")

func badFormat(format string, args ...any) error {
	return fmt.Errorf("safetensors: %w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Parse reads and checks a safetensors file's content. The tensors' Data share content's memory.
func Parse(content []byte) (*File, error) {
	f, dataStart, err := readHeader(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		return nil, err
	}
	data := content[dataStart:]
	for name, t := range f.Tensors {
		span := f.spans[name]
		t.Data = data[span[0]:span[1]:span[1]]
		f.Tensors[name] = t
	}
	return f, nil
}

// headerEntry is a tensor's entry in a header.
type headerEntry struct {
	DType       string
	Shape       []int64
	DataOffsets []float64
}

// tensorInfo reads a tensor's entry: its keys "dtype", "shape" and "data_offsets" matched exactly,
// as the reference reads them (encoding/json would also take "SHAPE" or "Shape"), others ignored.
func tensorInfo(msg json.RawMessage) (headerEntry, error) {
	var info headerEntry
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(msg, &fields); err != nil {
		return info, err
	}
	for _, f := range []struct {
		key string
		dst any
	}{{"dtype", &info.DType}, {"shape", &info.Shape}, {"data_offsets", &info.DataOffsets}} {
		if v, ok := fields[f.key]; ok {
			if err := json.Unmarshal(v, f.dst); err != nil {
				return info, fmt.Errorf("%s: %w", f.key, err)
			}
		}
	}
	return info, nil
}

// parseHeader checks a header against the number of data bytes after it: every tensor's dtype,
// shape and range, the ranges covering the data exactly, in some order, without overlap.
func parseHeader(header []byte, dataLen uint64) (*File, error) {
	bad := badFormat
	if !utf8.Valid(header) { // the reference rejects it; encoding/json would read it with U+FFFD
		return nil, bad("the header is not valid UTF-8")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil || raw == nil {
		return nil, bad("the header is not a JSON object (%v)", err)
	}
	type entry struct {
		name       string
		start, end uint64
	}
	f := &File{Tensors: make(map[string]Tensor, len(raw)), spans: make(map[string][2]int64, len(raw))}
	var entries []entry
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, bad("__metadata__ is not an object of strings (%v)", err)
			}
			continue
		}
		info, err := tensorInfo(msg)
		if err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		size, ok := dtypeSizes[info.DType]
		if !ok {
			return nil, bad("tensor %q: unknown dtype %q", name, info.DType)
		}
		if info.Shape == nil {
			return nil, bad("tensor %q has no shape", name)
		}
		if len(info.DataOffsets) != 2 {
			return nil, bad("tensor %q: data_offsets %v is not [start, end]", name, info.DataOffsets)
		}
		var start, end uint64
		for k, v := range info.DataOffsets {
			if v < 0 || v != math.Trunc(v) || v > float64(dataLen) {
				return nil, bad("tensor %q: data offset %v is outside the %d data bytes", name, v, dataLen)
			}
			if k == 0 {
				start = uint64(v)
			} else {
				end = uint64(v)
			}
		}
		if end < start {
			return nil, bad("tensor %q: data_offsets [%d, %d] end before they start", name, start, end)
		}
		shape := make([]int, len(info.Shape))
		for i, d := range info.Shape {
			if d < 0 || d > 1<<62 {
				return nil, bad("tensor %q: dimension %d is %d", name, i, d)
			}
			shape[i] = int(d)
		}
		// An empty tensor (a dimension of 0, as [0, 3]) holds no bytes whatever its other dimensions.
		bytesWanted := uint64(size)
		if slices.Contains(shape, 0) {
			bytesWanted = 0
		}
		for _, d := range shape {
			if bytesWanted == 0 {
				break
			}
			if bytesWanted > dataLen/uint64(d) {
				return nil, bad("tensor %q: shape %v holds more elements than the file", name, info.Shape)
			}
			bytesWanted *= uint64(d)
		}
		if bytesWanted != end-start {
			return nil, bad("tensor %q: %s of shape %v needs %d bytes, data_offsets [%d, %d] hold %d",
				name, info.DType, shape, bytesWanted, start, end, end-start)
		}
		f.Tensors[name] = Tensor{DType: info.DType, Shape: shape}
		f.spans[name] = [2]int64{int64(start), int64(end)}
		entries = append(entries, entry{name, start, end})
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].start != entries[j].start {
			return entries[i].start < entries[j].start
		}
		return entries[i].end < entries[j].end
	})
	at := uint64(0)
	for _, e := range entries {
		if e.start != at {
			what := "overlaps the one before"
			if e.start > at {
				what = "leaves a gap after the one before"
			}
			return nil, bad("tensor %q at [%d, %d] %s (which ends at %d)", e.name, e.start, e.end, what, at)
		}
		at = e.end
		f.Names = append(f.Names, e.name)
	}
	if at != dataLen {
		return nil, bad("the tensors hold %d bytes of the %d after the header", at, dataLen)
	}
	return f, nil
}

// Write writes the tensors, in the order of names, and the metadata (may be nil) to path
// atomically (see [checkpoint.WriteFileFunc]), streaming each tensor's data into the file. The header
// is padded with spaces to a multiple of 8 bytes, as the reference implementation pads it.
func Write(path string, names []string, tensors map[string]Tensor, metadata map[string]string) error {
	header, err := marshalHeader(names, tensors, metadata)
	if err != nil {
		return err
	}
	return checkpoint.WriteFileFunc(path, func(w io.Writer) error { return writeTo(w, header, names, tensors) })
}

// Marshal is the content Write writes.
func Marshal(names []string, tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	header, err := marshalHeader(names, tensors, metadata)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := writeTo(&buf, header, names, tensors); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeTo writes the header's length, the header, and the tensors' data.
func writeTo(w io.Writer, header []byte, names []string, tensors map[string]Tensor) error {
	if _, err := w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(header)))); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := w.Write(tensors[name].Data); err != nil {
			return err
		}
	}
	return nil
}

// marshalHeader checks the tensors and returns the padded JSON header.
func marshalHeader(names []string, tensors map[string]Tensor, metadata map[string]string) ([]byte, error) {
	type info struct {
		DType       string   `json:"dtype"`
		Shape       []int    `json:"shape"`
		DataOffsets []uint64 `json:"data_offsets"`
	}
	header := map[string]any{}
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	var off uint64
	for _, name := range names {
		t, ok := tensors[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("safetensors: no tensor %q to write", name)
		case name == "__metadata__":
			return nil, fmt.Errorf("safetensors: %q cannot name a tensor", name)
		case header[name] != nil:
			return nil, fmt.Errorf("safetensors: tensor %q twice", name)
		}
		size, ok := dtypeSizes[t.DType]
		if !ok || len(t.Data) != size*t.NumElements() || slices.ContainsFunc(t.Shape, func(d int) bool { return d < 0 }) {
			return nil, fmt.Errorf("safetensors: tensor %q: %d bytes are not a %s tensor of shape %v", name, len(t.Data), t.DType, t.Shape)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		header[name] = info{t.DType, shape, []uint64{off, off + uint64(len(t.Data))}}
		off += uint64(len(t.Data))
	}
	h, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	return append(h, bytes.Repeat([]byte(" "), (8-len(h)%8)%8)...), nil
}
