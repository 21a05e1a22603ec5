package trainer

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/bitterlesson/bitter/data"
)

// DefaultCorpus returns GOROOT/src, where the Go toolchain keeps its own source.
func DefaultCorpus() (string, error) {
	candidates := []string{}
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	candidates = append(candidates, runtime.GOROOT()) //nolint:staticcheck // A fallback when the go command is missing.
	for _, root := range candidates {
		src := filepath.Join(root, "src")
		if info, err := os.Stat(src); err == nil && info.IsDir() {
			return src, nil
		}
	}
	return "", errors.New("no -data given and GOROOT/src was not found; pass -data PATH")
}

// Corpus reads the corpus the options name and returns its text, the same text file by file
// (slices of it), and a description.
func (o Options) Corpus() (text []byte, docs [][]byte, desc string, err error) {
	paths, exts, err := o.corpusPaths()
	if err != nil {
		return nil, nil, "", err
	}
	files, err := data.LoadDocuments(paths, exts...)
	if err != nil {
		return nil, nil, "", err
	}
	text = slices.Concat(files...)
	at := 0
	for _, f := range files { // the documents as slices of text, so the files' own copies go
		docs = append(docs, text[at:at+len(f):at+len(f)])
		at += len(f)
	}
	desc = strings.Join(paths, ",")
	if len(exts) > 0 {
		desc += " (" + strings.Join(exts, ",") + ")"
	}
	return text, docs, desc, nil
}

// corpusPaths returns the files and folders -data names and the suffixes -ext keeps: GOROOT/src's
// .go files when -data is empty.
func (o Options) corpusPaths() (paths, exts []string, err error) {
	paths, exts = data.SplitList(o.Data), data.SplitList(o.Ext)
	if len(paths) == 0 {
		src, err := DefaultCorpus()
		if err != nil {
			return nil, nil, err
		}
		paths = []string{src}
		if o.Ext == "" {
			exts = []string{".go"}
		}
	}
	return paths, exts, nil
}

// shardFolder returns -data when it names one folder of token shards (see data.IsShardFolder).
func (o Options) shardFolder() (string, bool) {
	paths := data.SplitList(o.Data)
	if len(paths) == 1 && data.IsShardFolder(paths[0]) {
		return paths[0], true
	}
	return "", false
}

// corpusBytes returns the size of the corpus files -data names, without reading them: 0 for a folder
// of shards, which is mapped rather than read.
func (o Options) corpusBytes() (int64, error) {
	if _, ok := o.shardFolder(); ok {
		return 0, nil
	}
	paths, exts, err := o.corpusPaths()
	if err != nil {
		return 0, err
	}
	files, err := data.CorpusFiles(paths, exts...)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return 0, fmt.Errorf("corpus: %w", err)
		}
		n += info.Size()
	}
	return n, nil
}
