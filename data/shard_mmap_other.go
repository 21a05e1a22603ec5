//go:build !unix

package data

import (
	"io"
	"os"
)

// mapFile reads the first length bytes of f into memory, where the system has no memory maps.
func mapFile(f *os.File, length int) ([]byte, func() error, error) {
	b := make([]byte, length)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
