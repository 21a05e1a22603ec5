package data

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/bitterlesson/bitter/checkpoint"
)

// ShardWriter writes a shard a few tokens at a time, for shards larger than one wants to hold in
// memory. Until [ShardWriter.Close] the tokens go to a temporary file beside the shard (its name, then
// ".tmp-" and a random suffix, which [checkpoint.RemoveStale] removes); Close fills in the header's
// count and renames it into place, so a file under the shard's name is always whole.
type ShardWriter struct {
	path  string
	tmp   *os.File
	buf   *bufio.Writer
	width int
	n     int64
	max   uint32
	enc   []byte
}

// CreateShard starts a shard at path in version 1 (uint16 tokens) when vocab is at most 65,536 ids,
// else version 2 (uint32), removing temporary files an interrupted writer left beside it.
func CreateShard(path string, vocab int) (*ShardWriter, error) {
	if _, err := checkpoint.RemoveStale(path); err != nil {
		return nil, err
	}
	version, width := ShardVersion16, 2
	if vocab > 1<<16 {
		version, width = ShardVersion32, 4
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("shard %s: %w", path, err)
	}
	w := &ShardWriter{path: path, tmp: tmp, buf: bufio.NewWriterSize(tmp, 1<<20), width: width}
	header := make([]byte, shardHeaderBytes)
	binary.LittleEndian.PutUint32(header[0:], ShardMagic)
	binary.LittleEndian.PutUint32(header[4:], uint32(version))
	if err := tmp.Chmod(0o644); err != nil {
		return nil, w.fail(err)
	}
	if _, err := w.buf.Write(header); err != nil {
		return nil, w.fail(err)
	}
	return w, nil
}

// Write appends tokens. A token that does not fit the shard's width is an error.
func (w *ShardWriter) Write(tokens []uint32) error {
	if int64(len(tokens)) > 1<<31-1-w.n {
		return w.fail(fmt.Errorf("more than 2^31-1 tokens, the most a header counts"))
	}
	w.enc = w.enc[:0]
	for _, t := range tokens {
		w.max = max(w.max, t)
		if w.width == 2 {
			if t > 0xffff {
				return w.fail(fmt.Errorf("token id %d does not fit a version 1 shard's 16 bits", t))
			}
			w.enc = binary.LittleEndian.AppendUint16(w.enc, uint16(t))
		} else {
			w.enc = binary.LittleEndian.AppendUint32(w.enc, t)
		}
	}
	if _, err := w.buf.Write(w.enc); err != nil {
		return w.fail(err)
	}
	w.n += int64(len(tokens))
	return nil
}

// Len is the number of tokens written so far.
func (w *ShardWriter) Len() int { return int(w.n) }

// MaxID is the largest token id written so far (0 when none).
func (w *ShardWriter) MaxID() uint32 { return w.max }

// Close completes the shard: the header's count, a sync, and the rename into place.
func (w *ShardWriter) Close() error {
	if w.tmp == nil {
		return fmt.Errorf("shard %s: closed already", w.path)
	}
	if err := w.buf.Flush(); err != nil {
		return w.fail(err)
	}
	var count [4]byte
	binary.LittleEndian.PutUint32(count[:], uint32(w.n))
	if _, err := w.tmp.WriteAt(count[:], 8); err != nil {
		return w.fail(err)
	}
	if err := w.tmp.Sync(); err != nil {
		return w.fail(err)
	}
	name := w.tmp.Name()
	if err := w.tmp.Close(); err != nil {
		w.tmp = nil
		_ = os.Remove(name)
		return fmt.Errorf("shard %s: %w", w.path, err)
	}
	w.tmp = nil
	if err := os.Rename(name, w.path); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("shard %s: %w", w.path, err)
	}
	return nil
}

// Abort removes the temporary file; the shard is not written. It does nothing after Close.
func (w *ShardWriter) Abort() {
	if w.tmp != nil {
		_ = w.tmp.Close()
		_ = os.Remove(w.tmp.Name())
		w.tmp = nil
	}
}

// fail aborts the writer and returns err with the shard's path.
func (w *ShardWriter) fail(err error) error {
	w.Abort()
	return fmt.Errorf("shard %s: %w", w.path, err)
}
