package data_test

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/data"
)

// FuzzOpenShardFolder: any bytes as a shard and any manifest text open without a panic, as a folder
// whose every token reads back, or as an error; a shard that opens holds the tokens its header counts.
func FuzzOpenShardFolder(f *testing.F) {
	header := func(magic, version, n uint32) []byte {
		b := make([]byte, 1024)
		binary.LittleEndian.PutUint32(b, magic)
		binary.LittleEndian.PutUint32(b[4:], version)
		binary.LittleEndian.PutUint32(b[8:], n)
		return b
	}
	f.Add(append(header(data.ShardMagic, 1, 3), 1, 0, 2, 0, 3, 0), []byte(`{"complete":true,"tokenizer":{"kind":"bytes"},"vocab":256,"eot":-1,"train":[{"name":"s.bin","tokens":3}],"val":[{"name":"s.bin","tokens":3}]}`))
	f.Add(append(header(data.ShardMagic, 2, 1), 9, 0, 1, 0), []byte(`{"complete":true,"train":[{"name":"../s.bin"}]}`))
	f.Add([]byte{1, 2, 3}, []byte(`{"complete":false}`))
	f.Add(header(data.ShardMagic, 1, 1<<31), []byte(`{"complete":true,"tokenizer":{"kind":"bpe"},"train":[{"name":"s.bin","tokens":0}],"val":[]}`))
	f.Fuzz(func(t *testing.T, shard, manifest []byte) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "s.bin"), shard, 0o644))
		if s, err := data.OpenShard(filepath.Join(dir, "s.bin")); err == nil {
			require.Equal(t, int(binary.LittleEndian.Uint32(shard[8:])), s.Len())
			buf := make([]int32, s.Len())
			s.Read(buf, 0)
			require.NoError(t, s.Close())
		} else {
			require.True(t, errors.Is(err, data.ErrShard), "%v", err)
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, data.ManifestFile), manifest, 0o644))
		folder, err := data.OpenShardFolder(dir)
		if err != nil {
			return
		}
		defer func() { require.NoError(t, folder.Close()) }()
		_, _, _ = folder.Tokenizer()
		_ = folder.CheckVocab(256)
		for _, s := range append(folder.Train, folder.Val...) {
			buf := make([]int32, s.Len())
			s.Read(buf, 0)
		}
	})
}

// FuzzPrepareJSONL: any bytes as a .jsonl file (or gzipped, any bytes as a .gz) prepare into a folder
// that opens, or end in an error; never a panic.
func FuzzPrepareJSONL(f *testing.F) {
	f.Add([]byte(`{"text": "a document"}`+"\n"+`{"text": "another, \u00e9"}`), false)
	f.Add([]byte("{\"text\": 3}\n"), false)
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), true)
	f.Fuzz(func(t *testing.T, content []byte, gz bool) {
		in := t.TempDir()
		name := "x.jsonl"
		if gz {
			name += ".gz"
		}
		require.NoError(t, os.WriteFile(filepath.Join(in, name), content, 0o644))
		out := filepath.Join(t.TempDir(), "shards")
		_, err := data.Prepare(context.Background(), data.PrepareConfig{Inputs: []string{in}, Out: out, Tokenizer: data.Bytes{}, EOT: 0, ValFrac: 0.5, ChunkBytes: 8, Workers: 2})
		if err != nil {
			return
		}
		folder, err := data.OpenShardFolder(out)
		require.NoError(t, err)
		require.NoError(t, folder.Close())
	})
}
