package data

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bitterlesson/bitter/checkpoint"
)

// A shard folder is a corpus tokenized once: shards for training and for validation, and, when
// bitter's prepare command wrote it, ManifestFile: the tokenizer and each shard's name and count. A
// folder of llm.c's shards (names holding "train" and "val", ending in .bin) or nanoGPT's headerless
// train.bin and val.bin reads too, without a tokenizer of its own.

// ManifestFile is the manifest's name in a shard folder.
const ManifestFile = "shards.json"

// Manifest describes a shard folder. It is written with Complete false before the first shard and
// rewritten with Complete true after the last, so a folder whose writer was interrupted says so.
type Manifest struct {
	Complete  bool          `json:"complete"`
	Tokenizer TokenizerSpec `json:"tokenizer"`
	Vocab     int           `json:"vocab"` // the tokenizer's ids
	// EOT is the end-of-text token put before each document (GPT-2's <|endoftext|>), or -1 when the
	// tokenizer has none and documents follow one another.
	EOT       int         `json:"eot"`
	Inputs    []string    `json:"inputs"`    // the files read, in order
	Bytes     int64       `json:"bytes"`     // the text read
	Documents int64       `json:"documents"` // files, or lines of .jsonl files
	Train     []ShardInfo `json:"train"`
	Val       []ShardInfo `json:"val"`
}

// ShardInfo is one shard of a manifest.
type ShardInfo struct {
	Name   string `json:"name"` // the file, in the folder
	Tokens int    `json:"tokens"`
	MaxID  uint32 `json:"max_id"`
}

// TokenizerSpec is a tokenizer in a form that is stored: its kind, "bytes", "bpe" or "gpt2", and the
// BPE's or GPT-2's tables.
type TokenizerSpec struct {
	Kind string         `json:"kind"`
	BPE  *BPE           `json:"bpe,omitempty"`
	GPT2 *GPT2Tokenizer `json:"gpt2,omitempty"`
}

// SpecOf returns the stored form of tok, which must be Bytes, *BPE or *GPT2Tokenizer.
func SpecOf(tok Tokenizer) (TokenizerSpec, error) {
	switch t := tok.(type) {
	case Bytes:
		return TokenizerSpec{Kind: "bytes"}, nil
	case *BPE:
		return TokenizerSpec{Kind: "bpe", BPE: t}, nil
	case *GPT2Tokenizer:
		return TokenizerSpec{Kind: "gpt2", GPT2: t}, nil
	}
	return TokenizerSpec{}, fmt.Errorf("tokenizer %T cannot be stored", tok)
}

// Tokenizer returns the tokenizer the spec holds.
func (s TokenizerSpec) Tokenizer() (Tokenizer, error) {
	switch {
	case s.Kind == "bytes":
		return Bytes{}, nil
	case s.Kind == "bpe" && s.BPE != nil:
		return s.BPE, nil
	case s.Kind == "gpt2" && s.GPT2 != nil:
		return s.GPT2, nil
	}
	return nil, fmt.Errorf("tokenizer of kind %q without its tables", s.Kind)
}

// WriteManifest writes m to dir's ManifestFile, atomically.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return checkpoint.WriteFile(filepath.Join(dir, ManifestFile), b)
}

// ReadManifest reads dir's ManifestFile.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ManifestVocab returns the vocabulary of dir's manifest without building its tokenizer, and false
// when dir has no manifest.
func ManifestVocab(dir string) (int, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var m struct {
		Vocab int `json:"vocab"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, false, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m.Vocab, true, nil
}

// IsShardFolder reports whether dir holds a shard folder: a ManifestFile, or top-level .bin files
// whose names hold "train".
func IsShardFolder(dir string) bool {
	if info, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil && info.Mode().IsRegular() {
		return true
	}
	train, _, err := foreignShards(dir)
	return err == nil && len(train) > 0
}

// ShardFolder is an open shard folder. Close it when done.
type ShardFolder struct {
	Dir        string
	Train, Val []*Shard
	// Manifest is the folder's manifest, nil for a folder of llm.c's or nanoGPT's files.
	Manifest *Manifest
}

// OpenShardFolder opens the shards of dir. It fails, with one line naming the file, on a manifest
// whose writer did not finish, a shard that is missing, truncated, not a shard or holds other than
// the tokens its manifest counts, and a split with no tokens.
func OpenShardFolder(dir string) (_ *ShardFolder, err error) {
	f := &ShardFolder{Dir: dir}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	m, err := ReadManifest(dir)
	switch {
	case err == nil:
		if !m.Complete {
			return nil, fmt.Errorf("shards %s: the prepare command that wrote them did not finish; run it again", dir)
		}
		f.Manifest = m
		for _, split := range []struct {
			infos []ShardInfo
			into  *[]*Shard
		}{{m.Train, &f.Train}, {m.Val, &f.Val}} {
			for _, info := range split.infos {
				if info.Name != filepath.Base(info.Name) || info.Name == "." || info.Name == ".." {
					return nil, fmt.Errorf("shards %s: %s names %q, not a file in the folder", dir, ManifestFile, info.Name)
				}
				s, err := OpenShard(filepath.Join(dir, info.Name))
				if err != nil {
					return nil, err
				}
				*split.into = append(*split.into, s)
				if s.Len() != info.Tokens {
					return nil, fmt.Errorf("shard %s holds %d tokens, %s counts %d: the folder changed after it was prepared; prepare it again",
						s.path, s.Len(), ManifestFile, info.Tokens)
				}
			}
		}
	case errors.Is(err, fs.ErrNotExist):
		train, val, err := foreignShards(dir)
		if err != nil {
			return nil, err
		}
		for _, split := range []struct {
			names []string
			into  *[]*Shard
		}{{train, &f.Train}, {val, &f.Val}} {
			for _, name := range split.names {
				s, err := openForeign(filepath.Join(dir, name))
				if err != nil {
					return nil, err
				}
				*split.into = append(*split.into, s)
			}
		}
	default:
		return nil, fmt.Errorf("shards %s: %w", dir, err)
	}
	for _, split := range []struct {
		name   string
		shards []*Shard
	}{{"training", f.Train}, {"validation", f.Val}} {
		if total(split.shards) == 0 {
			what := "no shard"
			if len(split.shards) > 0 {
				what = fmt.Sprintf("%d shards and no token", len(split.shards))
			}
			return nil, fmt.Errorf("shards %s: the %s split has %s", dir, split.name, what)
		}
	}
	return f, nil
}

// foreignShards lists the top-level .bin files of dir whose names hold "val" (validation) or else
// "train" (training), sorted.
func foreignShards(dir string) (train, val []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("shards: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".bin") || e.IsDir() {
			continue
		}
		switch {
		case strings.Contains(name, "val"):
			val = append(val, name)
		case strings.Contains(name, "train"):
			train = append(train, name)
		}
	}
	slices.Sort(train)
	slices.Sort(val)
	return train, val, nil
}

// openForeign opens an llm.c shard, or a nanoGPT file (train.bin, val.bin) without the shard magic.
func openForeign(path string) (*Shard, error) {
	base := filepath.Base(path)
	if base == "train.bin" || base == "val.bin" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("shard: %w", err)
		}
		var magic [4]byte
		_, err = f.ReadAt(magic[:], 0)
		_ = f.Close()
		if err != nil || binary.LittleEndian.Uint32(magic[:]) != ShardMagic {
			return OpenHeaderless(path)
		}
	}
	return OpenShard(path)
}

func total(shards []*Shard) int {
	n := 0
	for _, s := range shards {
		n += s.Len()
	}
	return n
}

// Tokens returns the number of training and validation tokens.
func (f *ShardFolder) Tokens() (train, val int) { return total(f.Train), total(f.Val) }

// Sources returns the shards of a split as windows' sources.
func Sources(shards []*Shard) []Source {
	out := make([]Source, len(shards))
	for i, s := range shards {
		out[i] = s
	}
	return out
}

// Tokenizer returns the folder's tokenizer, and false for a folder without a manifest.
func (f *ShardFolder) Tokenizer() (Tokenizer, bool, error) {
	if f.Manifest == nil {
		return nil, false, nil
	}
	tok, err := f.Manifest.Tokenizer.Tokenizer()
	if err != nil {
		return nil, false, fmt.Errorf("shards %s: %s: %w", f.Dir, ManifestFile, err)
	}
	return tok, true, nil
}

// CheckVocab returns an error naming the first token id at or above vocab, its shard and position,
// or nil. With a manifest it reads the manifest's largest ids; without, every shard.
func (f *ShardFolder) CheckVocab(vocab int) error {
	if f.Manifest != nil {
		for _, info := range slices.Concat(f.Manifest.Train, f.Manifest.Val) {
			if int64(info.MaxID) >= int64(vocab) {
				return fmt.Errorf("shard %s holds token id %d, outside the model's vocabulary of %d",
					filepath.Join(f.Dir, info.Name), info.MaxID, vocab)
			}
		}
		return nil
	}
	for _, s := range slices.Concat(f.Train, f.Val) {
		if err := s.CheckVocab(vocab); err != nil {
			return err
		}
	}
	return nil
}

// Close unmaps every shard.
func (f *ShardFolder) Close() error {
	var errs []error
	for _, s := range slices.Concat(f.Train, f.Val) {
		errs = append(errs, s.Close())
	}
	f.Train, f.Val = nil, nil
	return errors.Join(errs...)
}
