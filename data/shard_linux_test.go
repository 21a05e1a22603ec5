package data_test

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

// rssFile is the process's resident memory backed by files, in kB, from /proc/self/status.
func rssFile(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "RssFile:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			require.NoError(t, err)
			return kb
		}
	}
	t.Skip("no RssFile in /proc/self/status")
	return 0
}

// TestShardReadLeavesResidentMemoryFlat: random windows over a 32 MB shard leave the process's
// resident memory where it was (without the release, each read kept about 1 MB mapped: 64 MB here).
func TestShardReadLeavesResidentMemoryFlat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.bin")
	tokens := make([]uint32, 16<<20)
	for i := range tokens {
		tokens[i] = uint32(i % 50000)
	}
	require.NoError(t, data.WriteShard(path, tokens))
	s, err := data.OpenShard(path)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	before := rssFile(t)
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]int32, 1025)
	for range 64 {
		start := rng.IntN(s.Len() - len(buf))
		s.Read(buf, start)
		require.Equal(t, int32(start%50000), buf[0])
	}
	require.Less(t, rssFile(t)-before, 4<<10, "kB resident after 64 windows of a 32 MB shard")
}
