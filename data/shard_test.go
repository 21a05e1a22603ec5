package data_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

func shardTokens(t *testing.T, s *data.Shard) []uint32 {
	t.Helper()
	out := make([]uint32, s.Len())
	for i := range out {
		out[i] = s.At(i)
	}
	return out
}

// TestShardRoundTrip: both versions written and read back, version 1 chosen when every id fits in 16
// bits (its file is llm.c's byte for byte: the header, then uint16s), version 2 otherwise; an empty
// shard too.
func TestShardRoundTrip(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		name    string
		max     uint32
		n       int
		version uint32
		width   int
	}{{"v1", 1 << 16, 5000, data.ShardVersion16, 2}, {"v2", 1 << 20, 3000, data.ShardVersion32, 4}, {"empty", 1, 0, data.ShardVersion16, 2}} {
		tokens := make([]uint32, c.n)
		for i := range tokens {
			tokens[i] = uint32(rng.IntN(int(c.max)))
		}
		path := filepath.Join(dir, c.name+".bin")
		require.NoError(t, data.WriteShard(path, tokens))
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Len(t, raw, 1024+c.width*c.n, c.name)
		require.Equal(t, []uint32{data.ShardMagic, c.version, uint32(c.n)},
			[]uint32{binary.LittleEndian.Uint32(raw), binary.LittleEndian.Uint32(raw[4:]), binary.LittleEndian.Uint32(raw[8:])}, c.name)
		s, err := data.OpenShard(path)
		require.NoError(t, err)
		require.Equal(t, c.n, s.Len())
		if c.n > 0 {
			require.Equal(t, tokens, shardTokens(t, s), c.name)
		}
		require.NoError(t, s.Close())
	}
}

// TestShardsWrittenAsLLMCWrites: the files of testdata/shards/generate.py (llm.c's write_datafile,
// transcribed; nanoGPT's bare uint16 file) read back to the tokens it wrote.
func TestShardsWrittenAsLLMCWrites(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "shards", "tokens.json"))
	require.NoError(t, err)
	var want map[string][]uint32
	require.NoError(t, json.Unmarshal(raw, &want))
	for name, tokens := range want {
		path := filepath.Join("testdata", "shards", name)
		open := data.OpenShard
		if name == "headerless.bin" {
			open = data.OpenHeaderless
		}
		s, err := open(path)
		require.NoError(t, err, name)
		require.Equal(t, tokens, shardTokens(t, s), name)
		require.NoError(t, s.Close())
	}
	s, err := data.OpenShard(filepath.Join("testdata", "shards", "llmc_v1.bin"))
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.CheckVocab(65536))
	require.EqualError(t, s.CheckVocab(50257), "shard testdata/shards/llmc_v1.bin: token id 65535 at position 3002 is outside the vocabulary of 50257")
}

// TestBadShards: each damage is an ErrShard error that names it.
func TestBadShards(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.bin")
	require.NoError(t, data.WriteShard(good, []uint32{1, 2, 3}))
	raw, err := os.ReadFile(good)
	require.NoError(t, err)
	edit := func(fn func(b []byte) []byte) []byte { return fn(append([]byte(nil), raw...)) }
	for name, c := range map[string]struct {
		content []byte
		want    string
	}{
		"truncated":     {raw[:len(raw)-1], "the header counts 3 tokens (1030 bytes with it), the file has 1029 bytes: truncated or padded"},
		"padded":        {append(append([]byte(nil), raw...), 0, 0), "the file has 1032 bytes: truncated or padded"},
		"short header":  {raw[:100], "100 bytes, fewer than the 1024 of the header"},
		"wrong magic":   {edit(func(b []byte) []byte { b[0]++; return b }), "magic 20240521, not 20240520 (llm.c's)"},
		"wrong version": {edit(func(b []byte) []byte { b[4] = 7; return b }), "version 7 is not 1 (uint16 tokens) or 2 (uint32)"},
		"negative":      {edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[8:], 1<<31); return b }), "the header counts -2147483648 tokens"},
	} {
		path := filepath.Join(dir, name+".bin")
		require.NoError(t, os.WriteFile(path, c.content, 0o644))
		_, err := data.OpenShard(path)
		require.True(t, errors.Is(err, data.ErrShard), "%s: %v", name, err)
		require.ErrorContains(t, err, c.want, name)
	}
	odd := filepath.Join(dir, "odd.bin")
	require.NoError(t, os.WriteFile(odd, []byte{1, 2, 3}, 0o644))
	_, err = data.OpenHeaderless(odd)
	require.ErrorContains(t, err, "3 bytes is not a whole number of uint16 tokens")
	_, err = data.OpenShard(filepath.Join(dir, "missing.bin"))
	require.ErrorContains(t, err, "no such file")
}
