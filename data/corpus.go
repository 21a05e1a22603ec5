package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadCorpus reads and concatenates the files named by paths, in sorted path order. A path may be a
// file (always read) or a folder (walked recursively, keeping the files whose names end in one of
// exts, or every file when exts is empty). It fails with an error naming the path when a path is
// missing or unreadable, when no file matches, or when the text is empty.
func LoadCorpus(paths []string, exts ...string) ([]byte, error) {
	files, err := CorpusFiles(paths, exts...)
	if err != nil {
		return nil, err
	}
	var text []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		text = append(text, b...)
	}
	if len(text) == 0 {
		return nil, fmt.Errorf("corpus %s is empty", strings.Join(paths, ","))
	}
	return text, nil
}

// CorpusFiles lists the files LoadCorpus reads, sorted.
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
			files = append(files, p)
			continue
		}
		n := len(files)
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && (len(exts) == 0 || slices.ContainsFunc(exts, func(e string) bool { return strings.HasSuffix(path, e) })) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("corpus path %q: %w", p, err)
		}
		if len(files) == n {
			return nil, fmt.Errorf("corpus folder %q has no files ending in %s", p, strings.Join(exts, " or "))
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
