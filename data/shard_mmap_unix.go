//go:build unix

package data

import (
	"os"
	"syscall"
)

// mapFile maps the first length bytes of f read-only, from a page boundary, and returns them and a
// function that unmaps them.
func mapFile(f *os.File, length int) ([]byte, func() error, error) {
	if length == 0 {
		return nil, func() error { return nil }, nil
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, length, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return m, func() error { return syscall.Munmap(m) }, nil
}
