//go:build unix

package data

import (
	"os"
	"syscall"
)

// mapFile maps the first offset+length bytes of f read-only (a map starts on a page; the shard header
// is 1,024 bytes) and returns the length bytes from offset; the returned function unmaps them.
func mapFile(f *os.File, offset, length int) ([]byte, func() error, error) {
	if length == 0 {
		return nil, func() error { return nil }, nil
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, offset+length, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, err
	}
	return m[offset:], func() error { return syscall.Munmap(m) }, nil
}
