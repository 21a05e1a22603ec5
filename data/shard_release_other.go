//go:build !linux

package data

// release does nothing off Linux: the pages a read maps stay resident until the system needs them
// (on Linux, where a page fault maps a large folio, it lets them go: see shard_release_linux.go).
func release([]byte) {}
