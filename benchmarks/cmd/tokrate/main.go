// Command tokrate times bitter's GPT-2 BPE encoder on one core, beside benchmarks/tokenizers/bench.mjs
// (tiktoken, js-tiktoken, Hugging Face's tokenizers) on the same text, and checks its ids against
// tiktoken's. See benchmarks/tokenizers/README.md.
//
//	go run ./benchmarks/cmd/tokrate -write-text /tmp/go.txt -bytes 16000000   # GOROOT/src's .go files
//	go run ./benchmarks/cmd/tokrate -text /tmp/go.txt -tokenizer-dir /tmp/gpt2tok -ids /tmp/ids.bin
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/trainer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		cli.PrintError(os.Stderr, "tokrate", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("tokrate", flag.ContinueOnError)
	writeText := fs.String("write-text", "", "write the benchmark text here: GOROOT/src's .go files, sorted, whole, until -bytes")
	size := fs.Int("bytes", 16_000_000, "the text's size for -write-text (the last file is whole, so a little more)")
	textPath := fs.String("text", "", "the text to encode")
	dir := fs.String("tokenizer-dir", "", "GPT-2's vocab.json and merges.txt (benchmarks/tokenizers/gpt2files.mjs writes them)")
	idsPath := fs.String("ids", "", "tiktoken's ids of the text (uint32 little-endian, from bench.mjs), to compare with")
	runs := fs.Int("runs", 3, "timed encodings of each kind; the median is reported")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the encodings here")
	if help, err := cli.ParseFlags(fs, args, os.Stdout); help || err != nil {
		return err
	}
	if *writeText != "" {
		return write(*writeText, *size)
	}
	if *textPath == "" || *dir == "" {
		return errors.New("give -text and -tokenizer-dir (or -write-text)")
	}
	text, err := os.ReadFile(*textPath)
	if err != nil {
		return err
	}
	tok, err := data.LoadGPT2Tokenizer(*dir)
	if err != nil {
		return err
	}
	runtime.GOMAXPROCS(1) // one core, as the peers
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for _, kind := range []struct {
		name   string
		encode func([]byte) []data.Token
	}{
		{"bitter (whole text)", tok.Encode},
		{"bitter (64 KiB chunks, as prepare)", func(b []byte) []data.Token {
			encode := tok.Encoder()
			var out []data.Token
			for len(b) > 0 {
				n := min(len(b), 64<<10)
				out = append(out, encode(b[:n])...)
				b = b[n:]
			}
			return out
		}},
	} {
		var seconds []float64
		var ids []data.Token
		for range *runs {
			start := time.Now()
			ids = kind.encode(text)
			seconds = append(seconds, time.Since(start).Seconds())
		}
		rec := map[string]any{"name": kind.name, "bytes": len(text), "tokens": len(ids), "seconds": seconds}
		sorted := slices.Sorted(slices.Values(seconds))
		rec["mb_per_s"] = float64(len(text)) / 1e6 / sorted[len(sorted)/2]
		if *idsPath != "" && kind.name == "bitter (whole text)" {
			same, err := sameIDs(*idsPath, ids)
			if err != nil {
				return err
			}
			rec["same_ids_as_tiktoken"] = same
		}
		line, _ := json.Marshal(rec)
		fmt.Println(string(line))
	}
	return nil
}

// sameIDs reports whether ids are the uint32s in path.
func sameIDs(path string, ids []data.Token) (bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	if len(raw) != 4*len(ids) {
		return false, nil
	}
	for i, id := range ids {
		if binary.LittleEndian.Uint32(raw[4*i:]) != uint32(id) {
			return false, nil
		}
	}
	return true, nil
}

// write concatenates GOROOT/src's .go files, in sorted order, until size bytes.
func write(path string, size int) error {
	src, err := trainer.DefaultCorpus()
	if err != nil {
		return err
	}
	files, err := data.CorpusFiles([]string{src}, ".go")
	if err != nil {
		return err
	}
	var out []byte
	for _, f := range files {
		if len(out) >= size {
			break
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out = append(out, b...)
	}
	fmt.Printf("wrote %s: %d bytes of %s's .go files\n", path, len(out), src)
	return os.WriteFile(path, out, 0o644)
}
