//go:build unix

package data

import (
	"os"
	"syscall"
	"unsafe"
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

// release tells the system that b, part of a mapping, will not be read soon: its pages leave the
// process's resident memory (they stay in the page cache, and a later read maps them back). Only
// whole pages inside b are released.
func release(b []byte) {
	if len(b) == 0 {
		return
	}
	page := syscall.Getpagesize()
	off := (page - int(uintptr(unsafe.Pointer(&b[0]))%uintptr(page))) % page
	if n := (len(b) - off) / page * page; n > 0 {
		_ = syscall.Madvise(b[off:off+n], syscall.MADV_DONTNEED)
	}
}
