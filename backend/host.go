package backend

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// HostMemory returns the memory this process can still take on its machine, in bytes: Linux's
// MemAvailable, lowered to what the process's cgroup (v2) leaves under its limit. ok is false where
// neither is known (other systems), and callers then check nothing.
func HostMemory() (available uint64, ok bool) {
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if rest, found := strings.CutPrefix(sc.Text(), "MemAvailable:"); found {
				if kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64); err == nil {
					available, ok = kb*1024, true
				}
			}
		}
	}
	limit, lerr := readUint("/sys/fs/cgroup/memory.max") // "max" when unlimited: an error here
	used, uerr := readUint("/sys/fs/cgroup/memory.current")
	if lerr == nil && uerr == nil && limit > used {
		if left := limit - used; !ok || left < available {
			available, ok = left, true
		}
	}
	return available, ok
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}
