package data

import (
	"syscall"
	"unsafe"
)

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
