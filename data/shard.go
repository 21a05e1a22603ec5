package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/bitterlesson/bitter/checkpoint"
)

// Token shards: a corpus tokenized once and kept on disk, read through a memory map rather than into
// the heap. The format is llm.c's (dev/data/data_common.py, write_datafile), so shards its scripts
// write read here unchanged:
//
//   - a header of 256 little-endian int32: ShardMagic, the version, the number of tokens, then zeros;
//   - the tokens, little-endian: uint16 in version 1 (llm.c's), uint32 in version 2 (bitter's own,
//     for vocabularies above 65,536 ids, as GPT-4's cl100k and Llama 3's).
//
// nanoGPT's train.bin and val.bin hold uint16 tokens with no header: [OpenHeaderless] reads them.
const (
	ShardMagic       = 20240520
	ShardVersion16   = 1 // uint16 tokens (llm.c)
	ShardVersion32   = 2 // uint32 tokens (bitter)
	shardHeaderBytes = 256 * 4
)

// ErrShard is wrapped by the errors of files that are not whole shards.
var ErrShard = errors.New("not a token shard")

// WriteShard writes tokens to path as a shard (atomically: see checkpoint.WriteFileFunc), in version 1
// (uint16) when every id fits in 16 bits, else version 2 (uint32).
func WriteShard(path string, tokens []uint32) error {
	version, width := ShardVersion16, 2
	for _, t := range tokens {
		if t > 0xffff {
			version, width = ShardVersion32, 4
			break
		}
	}
	if uint64(len(tokens)) > 1<<31-1 {
		return fmt.Errorf("shard %s: %d tokens, more than a header's int32 counts", path, len(tokens))
	}
	return checkpoint.WriteFileFunc(path, func(w io.Writer) error {
		header := make([]byte, shardHeaderBytes)
		binary.LittleEndian.PutUint32(header[0:], ShardMagic)
		binary.LittleEndian.PutUint32(header[4:], uint32(version))
		binary.LittleEndian.PutUint32(header[8:], uint32(len(tokens)))
		if _, err := w.Write(header); err != nil {
			return err
		}
		buf := make([]byte, 0, 1<<16)
		for i, t := range tokens {
			if width == 2 {
				buf = binary.LittleEndian.AppendUint16(buf, uint16(t))
			} else {
				buf = binary.LittleEndian.AppendUint32(buf, t)
			}
			if len(buf) >= 1<<16-4 || i == len(tokens)-1 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		return nil
	})
}

// Shard is an open shard: its tokens, mapped into memory (read into it where the system has no
// memory maps). Close it when done.
type Shard struct {
	path  string
	data  []byte // the tokens' bytes
	full  []byte // the whole file as mapped (or read), the header before data
	width int    // 2 or 4
	unmap func() error
}

// OpenShard opens a shard written by llm.c or by [WriteShard], checking its magic, version and that the
// file holds exactly the tokens its header counts.
func OpenShard(path string) (*Shard, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("shard %s: %w: %s", path, ErrShard, fmt.Sprintf(format, args...))
	}
	if size < shardHeaderBytes {
		return nil, bad("%d bytes, fewer than the %d of the header", size, shardHeaderBytes)
	}
	header := make([]byte, 12)
	if _, err := f.ReadAt(header, 0); err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	magic, version, n := binary.LittleEndian.Uint32(header), binary.LittleEndian.Uint32(header[4:]), int32(binary.LittleEndian.Uint32(header[8:]))
	if magic != ShardMagic {
		return nil, bad("magic %d, not %d (llm.c's)", magic, ShardMagic)
	}
	width := 0
	switch version {
	case ShardVersion16:
		width = 2
	case ShardVersion32:
		width = 4
	default:
		return nil, bad("version %d is not %d (uint16 tokens) or %d (uint32)", version, ShardVersion16, ShardVersion32)
	}
	if n < 0 {
		return nil, bad("the header counts %d tokens", n)
	}
	if want := shardHeaderBytes + int64(n)*int64(width); size != want {
		return nil, bad("the header counts %d tokens (%d bytes with it), the file has %d bytes: truncated or padded", n, want, size)
	}
	full, unmap, err := mapFile(f, shardHeaderBytes+int(n)*width)
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	return &Shard{path: path, data: full[shardHeaderBytes:], full: full, width: width, unmap: unmap}, nil
}

// OpenHeaderless opens a file of uint16 tokens with no header, as nanoGPT's prepare.py writes
// train.bin and val.bin.
func OpenHeaderless(path string) (*Shard, error) {
	f, size, err := openSized(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	if size%2 != 0 {
		return nil, fmt.Errorf("shard %s: %w: %d bytes is not a whole number of uint16 tokens", path, ErrShard, size)
	}
	full, unmap, err := mapFile(f, int(size))
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	return &Shard{path: path, data: full, full: full, width: 2, unmap: unmap}, nil
}

// openSized opens path and returns its size.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("shard: %w", err)
	}
	info, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("shard: %w", err)
	}
	return f, info.Size(), nil
}

// Len is the number of tokens.
func (s *Shard) Len() int { return len(s.data) / s.width }

// At returns token i, 0 <= i < Len().
func (s *Shard) At(i int) uint32 {
	if s.width == 2 {
		return uint32(binary.LittleEndian.Uint16(s.data[2*i:]))
	}
	return binary.LittleEndian.Uint32(s.data[4*i:])
}

// Read copies tokens [start, start+len(dst)) into dst: a [Source]. The pages it reads leave the
// process's resident memory after, with the 2 MiB-aligned block around them (a page fault maps more
// than its page: on Linux 6 with large folios, about 1 MB), so random windows over a corpus larger
// than memory leave its resident size flat; the pages stay in the system's page cache, and reading
// them again costs a minor fault.
func (s *Shard) Read(dst []int32, start int) {
	lo, hi := s.width*start, s.width*(start+len(dst))
	b := s.data[lo:hi]
	if s.width == 2 {
		for i := range dst {
			dst[i] = int32(binary.LittleEndian.Uint16(b[2*i:]))
		}
	} else {
		for i := range dst {
			dst[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
	if s.full != nil && len(dst) > 0 {
		const around = 2 << 20
		off := len(s.full) - len(s.data) // the header
		release(s.full[(off+lo)/around*around : min((off+hi+around-1)/around*around, len(s.full))])
	}
}

// Path is the shard's file.
func (s *Shard) Path() string { return s.path }

// CheckVocab returns an error naming the first token at or above vocab, and its position, or nil:
// one pass over the shard, for when it meets a model. The pages it reads are let go as it goes, so a
// shard larger than memory is checked without its size in resident memory.
func (s *Shard) CheckVocab(vocab int) error {
	const block = 1 << 22 // tokens
	for lo := 0; lo < s.Len(); lo += block {
		for i := lo; i < min(lo+block, s.Len()); i++ {
			if t := s.At(i); int64(t) >= int64(vocab) {
				return fmt.Errorf("shard %s: token id %d at position %d is outside the vocabulary of %d", s.path, t, i, vocab)
			}
		}
		release(s.data[lo*s.width : min(lo+block, s.Len())*s.width])
	}
	return nil
}

// Close releases the shard's memory.
func (s *Shard) Close() error {
	if s.unmap == nil {
		return nil
	}
	err := s.unmap()
	s.unmap, s.data = nil, nil
	return err
}
