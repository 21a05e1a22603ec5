package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	stdcontext "context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// PrepareConfig says what [Prepare] reads and writes.
type PrepareConfig struct {
	// Inputs are files and folders, read as [CorpusFiles] lists them, keeping files whose names end
	// in one of Exts (DefaultPrepareExts when empty) under folders. A file ending in .jsonl holds a
	// JSON object per line, whose TextField is a document; any other file is one document. A .gz
	// ending is decompressed first (x.jsonl.gz is a .jsonl file).
	Inputs []string
	Exts   []string
	// TextField is the field of a .jsonl line that holds its text ("text" when empty).
	TextField string
	// Out is the folder the shards and the manifest go to. It must be empty, missing, or a folder
	// an earlier Prepare wrote (its shards are replaced).
	Out string
	// Tokenizer encodes the text; Bytes, *BPE or *GPT2Tokenizer (the manifest stores it).
	Tokenizer Tokenizer
	// EOT is the token put before each document, or -1 for none (documents follow one another).
	EOT int
	// ValFrac is the fraction of the text held out for validation, in [0, 1): the text is cut into
	// chunks of ChunkBytes, and chunk i goes to validation when floor((i+1)·ValFrac) > floor(i·ValFrac),
	// spreading validation evenly through the corpus, whatever its size and however it is read.
	ValFrac float64
	// ChunkBytes is the chunk size; when 0, a 256th of the input files' size, between 1 and 64 KiB
	// (so a small corpus has chunks enough to split). A chunk ends after the document (or piece)
	// that reaches it; a longer document is cut at the last newline before it (at it, when there is
	// none).
	ChunkBytes int
	// ShardTokens is the most tokens in a shard (100,000,000, llm.c's, when 0).
	ShardTokens int
	// Workers is the number of goroutines that tokenize (GOMAXPROCS when 0).
	Workers int
	// Progress, when set, is called after each chunk is written, from one goroutine.
	Progress func(PrepareProgress)
}

// DefaultPrepareExts are the files Prepare reads under folders by default.
var DefaultPrepareExts = []string{".txt", ".txt.gz", ".jsonl", ".jsonl.gz"}

// PrepareProgress is how far Prepare is.
type PrepareProgress struct {
	Read, Total int64 // bytes of the input files read (compressed bytes for .gz) and in all
	Text        int64 // bytes of text tokenized
	Tokens      int64 // tokens written
	Elapsed     time.Duration
}

// prepared is the set of file names Prepare writes in Out (besides temporary files of them).
func prepared(name string) bool {
	if name == ManifestFile {
		return true
	}
	for _, split := range []string{"train_", "val_"} {
		if rest, ok := strings.CutPrefix(name, split); ok && strings.HasSuffix(rest, ".bin") {
			return true
		}
	}
	return false
}

// Prepare tokenizes the inputs into a shard folder: train_NNNNNN.bin and val_NNNNNN.bin, and the
// manifest, written incomplete first and complete last (see [Manifest]), so a folder whose Prepare
// was interrupted or failed is refused by [OpenShardFolder] until Prepare runs again. Chunks are
// tokenized in parallel and written in order: the shards depend only on the inputs and the
// configuration. It stops when ctx is done, with an error.
func Prepare(ctx stdcontext.Context, cfg PrepareConfig) (_ *Manifest, err error) {
	if cfg.ShardTokens <= 0 {
		cfg.ShardTokens = 100_000_000
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.TextField == "" {
		cfg.TextField = "text"
	}
	if len(cfg.Exts) == 0 {
		cfg.Exts = DefaultPrepareExts
	}
	if !(cfg.ValFrac >= 0 && cfg.ValFrac < 1) {
		return nil, fmt.Errorf("validation fraction %g must be in [0, 1)", cfg.ValFrac)
	}
	spec, err := SpecOf(cfg.Tokenizer)
	if err != nil {
		return nil, err
	}
	if cfg.EOT >= cfg.Tokenizer.VocabSize() {
		return nil, fmt.Errorf("end-of-text token %d is outside the tokenizer's %d ids", cfg.EOT, cfg.Tokenizer.VocabSize())
	}
	files, err := CorpusFiles(cfg.Inputs, cfg.Exts...)
	if err != nil {
		return nil, err
	}
	var totalBytes int64
	for _, f := range files {
		info, err := os.Stat(f)
		if err != nil {
			return nil, fmt.Errorf("corpus: %w", err)
		}
		totalBytes += info.Size()
	}
	if cfg.ChunkBytes <= 0 {
		cfg.ChunkBytes = int(min(max(totalBytes/256, 1<<10), 64<<10))
	}
	if err := prepareOut(cfg.Out); err != nil {
		return nil, err
	}
	m := &Manifest{Tokenizer: spec, Vocab: cfg.Tokenizer.VocabSize(), EOT: cfg.EOT, Inputs: files}
	if err := WriteManifest(cfg.Out, m); err != nil {
		return nil, err
	}

	ctx, cancel := stdcontext.WithCancelCause(ctx)
	defer cancel(nil)
	type chunk struct {
		index  int
		pieces [][]byte
		starts []bool // pieces[i] starts a document
		read   int64  // input bytes read when the chunk was complete
		text   int64  // bytes of text in the chunk
		tokens []uint32
	}
	todo, done := make(chan *chunk, cfg.Workers), make(chan *chunk, cfg.Workers)
	inFlight := make(chan struct{}, 4*cfg.Workers) // bounds the chunks read and not yet written
	var wg sync.WaitGroup
	wg.Go(func() { // the reader
		defer close(todo)
		c := &chunk{}
		size := 0
		send := func(read int64) bool {
			c.read = read
			select {
			case inFlight <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			select {
			case todo <- c:
			case <-ctx.Done():
				return false
			}
			c, size = &chunk{index: c.index + 1}, 0
			return true
		}
		err := readDocuments(files, cfg.TextField, cfg.ChunkBytes, func(piece []byte, start bool, read int64) error {
			c.pieces, c.starts, c.text = append(c.pieces, piece), append(c.starts, start), c.text+int64(len(piece))
			m.Bytes += int64(len(piece))
			if start {
				m.Documents++
			}
			if size += len(piece); size >= cfg.ChunkBytes && !send(read) {
				return stdcontext.Cause(ctx)
			}
			return nil
		})
		if err == nil && len(c.pieces) > 0 && !send(totalBytes) {
			err = stdcontext.Cause(ctx)
		}
		if err != nil {
			cancel(err)
		}
	})
	for range cfg.Workers {
		wg.Go(func() {
			encode := cfg.Tokenizer.Encode
			if e, ok := cfg.Tokenizer.(interface{ Encoder() func([]byte) []Token }); ok {
				encode = e.Encoder() // one goroutine, a cache kept from chunk to chunk
			}
			for c := range todo {
				for i, p := range c.pieces {
					if c.starts[i] && cfg.EOT >= 0 {
						c.tokens = append(c.tokens, uint32(cfg.EOT))
					}
					for _, t := range encode(p) {
						c.tokens = append(c.tokens, uint32(t))
					}
				}
				c.pieces = nil
				select {
				case done <- c:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() { wg.Wait(); close(done) }()

	w := newSplitWriters(cfg.Out, cfg.Tokenizer.VocabSize(), cfg.ShardTokens)
	defer w.abort()
	pending := map[int]*chunk{}
	next, start := 0, time.Now()
	var progress PrepareProgress
	for c := range done {
		if ctx.Err() != nil {
			continue // drain
		}
		pending[c.index] = c
		for c := pending[next]; c != nil; c = pending[next] {
			delete(pending, next)
			val := int(float64(next+1)*cfg.ValFrac) > int(float64(next)*cfg.ValFrac)
			if err := w.write(val, c.tokens); err != nil {
				cancel(err)
				break
			}
			<-inFlight
			next++
			progress.Read, progress.Total, progress.Tokens = c.read, totalBytes, progress.Tokens+int64(len(c.tokens))
			progress.Text, progress.Elapsed = progress.Text+c.text, time.Since(start)
			if cfg.Progress != nil {
				cfg.Progress(progress)
			}
		}
	}
	if err := stdcontext.Cause(ctx); err != nil {
		return nil, err
	}
	if m.Train, m.Val, err = w.close(); err != nil {
		return nil, err
	}
	if len(m.Train) == 0 || len(m.Val) == 0 {
		what := "training"
		if len(m.Val) == 0 {
			what = "validation"
		}
		return nil, fmt.Errorf("corpus %s: the %s split is empty (%d bytes of text in %d chunks of %d bytes, validation fraction %g): use more text, or change -val-frac",
			strings.Join(cfg.Inputs, ","), what, m.Bytes, next, cfg.ChunkBytes, cfg.ValFrac)
	}
	m.Complete = true
	if err := WriteManifest(cfg.Out, m); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareOut makes out ready for Prepare: created when missing; else it may hold only what Prepare
// writes, which is removed.
func prepareOut(out string) error {
	if out == "" {
		return errors.New("no output folder given")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	var ours []string
	for _, e := range entries {
		name, _, _ := strings.Cut(e.Name(), ".tmp-")
		if e.IsDir() || !prepared(name) {
			return fmt.Errorf("output folder %s holds %s, which prepare did not write: choose an empty or a new folder", out, e.Name())
		}
		ours = append(ours, e.Name())
	}
	for _, name := range ours {
		if err := os.Remove(filepath.Join(out, name)); err != nil {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	return nil
}

// splitWriters writes the shards of both splits, each shard up to limit tokens.
type splitWriters struct {
	dir          string
	vocab, limit int
	cur          [2]*ShardWriter // training, validation
	infos        [2][]ShardInfo
}

func newSplitWriters(dir string, vocab, limit int) *splitWriters {
	return &splitWriters{dir: dir, vocab: vocab, limit: limit}
}

func (s *splitWriters) write(val bool, tokens []uint32) error {
	k := 0
	if val {
		k = 1
	}
	for len(tokens) > 0 {
		if s.cur[k] == nil {
			name := fmt.Sprintf("%s_%06d.bin", [2]string{"train", "val"}[k], len(s.infos[k]))
			w, err := CreateShard(filepath.Join(s.dir, name), s.vocab)
			if err != nil {
				return err
			}
			s.cur[k] = w
			s.infos[k] = append(s.infos[k], ShardInfo{Name: name})
		}
		w := s.cur[k]
		n := min(len(tokens), s.limit-w.Len())
		if err := w.Write(tokens[:n]); err != nil {
			return err
		}
		tokens = tokens[n:]
		if w.Len() == s.limit {
			if err := s.finish(k); err != nil {
				return err
			}
		}
	}
	return nil
}

// finish closes split k's current shard.
func (s *splitWriters) finish(k int) error {
	w := s.cur[k]
	s.cur[k] = nil
	info := &s.infos[k][len(s.infos[k])-1]
	info.Tokens, info.MaxID = w.Len(), w.MaxID()
	return w.Close()
}

func (s *splitWriters) close() (train, val []ShardInfo, err error) {
	for k := range 2 {
		if s.cur[k] != nil {
			if err := s.finish(k); err != nil {
				return nil, nil, err
			}
		}
	}
	return s.infos[0], s.infos[1], nil
}

func (s *splitWriters) abort() {
	for _, w := range s.cur {
		if w != nil {
			w.Abort()
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

// readDocuments calls piece for the text of each document of files, in order, in pieces of at most
// about chunk bytes (a long document is cut at the last newline before chunk bytes), with start true
// for a document's first piece and read the input bytes read so far (of all files). Empty documents
// are skipped.
func readDocuments(files []string, field string, chunk int, piece func(text []byte, start bool, read int64) error) error {
	var read int64
	for _, path := range files {
		err := func() error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer func() { _ = f.Close() }()
			var r io.Reader = countingReader{f, &read}
			name := path
			if strings.HasSuffix(name, ".gz") {
				z, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<16))
				if err != nil {
					return err
				}
				defer func() { _ = z.Close() }()
				r, name = z, strings.TrimSuffix(name, ".gz")
			}
			if strings.HasSuffix(name, ".jsonl") {
				return readJSONL(r, field, chunk, func(text []byte, start bool) error { return piece(text, start, read) })
			}
			return readText(r, chunk, func(text []byte, start bool) error { return piece(text, start, read) })
		}()
		if err != nil {
			var fieldErr *jsonlError
			if errors.As(err, &fieldErr) {
				return fmt.Errorf("corpus %s: line %d: %s", path, fieldErr.line, fieldErr.msg)
			}
			return fmt.Errorf("corpus %s: %w", path, err)
		}
	}
	return nil
}

// readText reads r as one document, in pieces.
func readText(r io.Reader, chunk int, piece func(text []byte, start bool) error) error {
	buf := make([]byte, 0, chunk)
	start := true
	for {
		n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return err
		}
		if eof {
			if len(buf) > 0 {
				return piece(buf, start)
			}
			return nil
		}
		cut := bytes.LastIndexByte(buf, '\n') + 1
		if cut == 0 {
			cut = len(buf)
		}
		out := append([]byte(nil), buf[:cut]...)
		if err := piece(out, start); err != nil {
			return err
		}
		start = false
		rest := copy(buf, buf[cut:])
		buf = buf[:rest]
	}
}

// jsonlError is a bad line of a .jsonl file.
type jsonlError struct {
	line int
	msg  string
}

func (e *jsonlError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// readJSONL reads r's lines as JSON objects and each one's field as a document (blank lines are
// skipped); a document longer than chunk comes in pieces.
func readJSONL(r io.Reader, field string, chunk int, piece func(text []byte, start bool) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if len(bytes.TrimSpace(b)) > 0 {
			var obj map[string]json.RawMessage
			if jerr := json.Unmarshal(b, &obj); jerr != nil {
				return &jsonlError{line, "not a JSON object: " + jerr.Error()}
			}
			raw, ok := obj[field]
			if !ok {
				return &jsonlError{line, fmt.Sprintf("no field %q", field)}
			}
			var text string
			if jerr := json.Unmarshal(raw, &text); jerr != nil {
				return &jsonlError{line, fmt.Sprintf("field %q is not a string", field)}
			}
			if len(text) > 0 && len(text) <= chunk {
				if err := piece([]byte(text), true); err != nil {
					return err
				}
			} else if len(text) > 0 {
				if err := readText(strings.NewReader(text), chunk, piece); err != nil {
					return err
				}
			}
		}
		if err != nil { // io.EOF
			return nil
		}
	}
}

// errEnough stops readDocuments once a sample is full.
var errEnough = errors.New("enough")

// SampleText returns the text of the first documents Prepare would read from cfg's inputs, up to
// about n bytes (whole pieces, of at most 64 KiB), joined: a sample to train a tokenizer on.
func SampleText(cfg PrepareConfig, n int) ([]byte, error) {
	exts, field := cfg.Exts, cfg.TextField
	if len(exts) == 0 {
		exts = DefaultPrepareExts
	}
	if field == "" {
		field = "text"
	}
	files, err := CorpusFiles(cfg.Inputs, exts...)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = readDocuments(files, field, 64<<10, func(text []byte, _ bool, _ int64) error {
		out = append(out, text...)
		if len(out) >= n {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, err
	}
	return out, nil
}
