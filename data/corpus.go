package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// LoadCorpus reads and concatenates the files named by paths, in sorted path order. A path may be a
// file (always read) or a folder (walked recursively, keeping the files whose names end in one of
// exts, or every file when exts is empty). It fails with an error naming the path when a path is
// missing or unreadable, when no file matches, or when the text is empty.
func LoadCorpus(paths []string, exts ...string) ([]byte, error) {
	docs, err := LoadDocuments(paths, exts...)
	if err != nil {
		return nil, err
	}
	return slices.Concat(docs...), nil
}

// LoadDocuments reads the files LoadCorpus reads, in the same order, one document per file (empty
// files are dropped), with LoadCorpus's errors.
func LoadDocuments(paths []string, exts ...string) ([][]byte, error) {
	files, err := CorpusFiles(paths, exts...)
	if err != nil {
		return nil, err
	}
	var docs [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		if len(b) > 0 {
			docs = append(docs, b)
		}
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("corpus %s is empty", strings.Join(paths, ","))
	}
	return docs, nil
}

// SplitDocuments is [Split] of the documents' concatenated text, keeping the documents apart: the
// document the cut falls in ends the training part and starts the validation part.
func SplitDocuments(docs [][]byte, valFrac float64) (train, val [][]byte, err error) {
	n := 0
	for _, d := range docs {
		n += len(d)
	}
	if !(valFrac >= 0 && valFrac < 1) {
		return nil, nil, fmt.Errorf("validation fraction %g must be in [0, 1)", valFrac)
	}
	cut := n - int(float64(n)*valFrac+0.5)
	for _, d := range docs {
		switch {
		case cut >= len(d):
			train = append(train, d)
		case cut > 0:
			train, val = append(train, d[:cut]), append(val, d[cut:])
		default:
			val = append(val, d)
		}
		cut -= len(d)
	}
	return train, val, nil
}

// EncodeDocuments encodes each document apart, so no token spans two, and puts sep between them
// (GPT-2's <|endoftext|>: [GPT2Tokenizer.Special]); nil sep joins them. Documents are encoded in
// parallel (a corpus of many small files would otherwise use one core); the result does not depend
// on how.
func EncodeDocuments(tok Tokenizer, docs [][]byte, sep []Token) []Token {
	parts := make([][]Token, len(docs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(docs)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(docs); i = int(next.Add(1) - 1) {
				parts[i] = tok.Encode(docs[i])
			}
		})
	}
	wg.Wait()
	n := len(sep) * max(len(docs)-1, 0)
	for _, p := range parts {
		n += len(p)
	}
	out := make([]Token, 0, n)
	for i, p := range parts {
		if i > 0 {
			out = append(out, sep...)
		}
		out = append(out, p...)
	}
	return out
}

// CorpusFiles lists the files LoadCorpus reads, sorted: each path that is a file, and the files
// under each folder whose names end in one of exts (any name when exts is empty). A symbolic link to
// a file counts as the file; links to folders are not followed (a folder with nothing else to read
// says how many it passed over).
func CorpusFiles(paths []string, exts ...string) ([]string, error) {
	if len(paths) == 0 {
		return nil, errors.New("corpus: no path given")
	}
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("corpus path %q does not exist", p)
			}
			return nil, fmt.Errorf("corpus path %q: %w", p, err)
		}
		if !info.IsDir() {
			if !info.Mode().IsRegular() { // /dev/zero, a pipe: no size, and reading may never end
				what := "a device"
				switch {
				case info.Mode()&fs.ModeNamedPipe != 0:
					what = "a named pipe"
				case info.Mode()&fs.ModeSocket != 0:
					what = "a socket"
				}
				return nil, fmt.Errorf("corpus path %q is %s, not a file or a folder: its reading might never end", p, what)
			}
			files = append(files, p)
			continue
		}
		n, links := len(files), 0
		wanted := func(path string) bool {
			return len(exts) == 0 || slices.ContainsFunc(exts, func(e string) bool { return strings.HasSuffix(path, e) })
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			regular := d.Type().IsRegular()
			if d.Type()&fs.ModeSymlink != 0 {
				if target, err := os.Stat(path); err == nil && target.Mode().IsRegular() {
					regular = true
				} else {
					links++ // to a folder (not followed: it could loop) or to nothing
				}
			}
			if regular && wanted(path) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("corpus path %q: %w", p, err)
		}
		if len(files) == n {
			what := "no files"
			if len(exts) > 0 {
				what = "no files ending in " + strings.Join(exts, " or ")
			}
			if links > 0 {
				what += fmt.Sprintf(" (and %d symbolic links to folders or to nothing, which are not followed)", links)
			}
			return nil, fmt.Errorf("corpus folder %q has %s", p, what)
		}
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// Split holds out the last valFrac of tokens (or bytes of text) as validation, deterministically:
// train is tokens[:n-k], val is tokens[n-k:] with k = round(n·valFrac). valFrac must be in [0, 1).
func Split[T any](tokens []T, valFrac float64) (train, val []T, err error) {
	if !(valFrac >= 0 && valFrac < 1) {
		return nil, nil, fmt.Errorf("validation fraction %g must be in [0, 1)", valFrac)
	}
	k := int(float64(len(tokens))*valFrac + 0.5)
	return tokens[:len(tokens)-k], tokens[len(tokens)-k:], nil
}

// SplitList returns the comma-separated items of s (paths, suffixes), trimmed, without empty ones.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
