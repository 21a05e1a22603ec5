//go:build !unix

package data

import (
	"io"
	"os"
)

// mapFile reads length bytes of f from offset into memory, where the system has no memory maps.
func mapFile(f *os.File, offset, length int) ([]byte, func() error, error) {
	b := make([]byte, length)
	if _, err := f.ReadAt(b, int64(offset)); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// release does nothing where shards are read into memory.
func release([]byte) {}
