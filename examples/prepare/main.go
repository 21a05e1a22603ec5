// Command prepare tokenizes a corpus once into token shards for examples/nexttoken -data: files and
// folders of text (.txt, .jsonl with a text field, and their .gz forms) in; train_NNNNNN.bin and
// val_NNNNNN.bin (llm.c's format) and shards.json, which holds the tokenizer, out. Every core
// tokenizes; a progress bar shows MB/s and the time left. An interrupted run leaves a folder the
// trainer refuses (shards.json says it is unfinished) and no half-written shard; run it again to
// start over.
//
//	go run ./examples/prepare                                    # the Go source under GOROOT/src, bytes
//	go run ./examples/nexttoken -data runs/shards                # train from the shards
//	go run ./examples/prepare -data input.txt -tokenizer bpe -vocab 4096 -out runs/shakespeare
//	go run ./examples/prepare -data owt/ -tokenizer gpt2 -tokenizer-dir ~/gpt2 -out runs/owt
//
// Run with -h for every flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/trainer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		cli.PrintError(os.Stderr, "prepare", err)
		os.Exit(1)
	}
}

type options struct {
	data, ext, out, textField   string
	tokenizer, tokenizerDir     string
	bpePattern                  string
	vocab, bpeSample            int
	valFrac                     float64
	shardTokens, workers, chunk int
	quiet                       bool
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	o := options{out: "runs/shards", textField: "text", tokenizer: "bytes", bpePattern: "gpt2", vocab: 4096, bpeSample: 8 << 20,
		valFrac: 0.1, shardTokens: 100_000_000}
	fs := flag.NewFlagSet("prepare", flag.ContinueOnError)
	fs.StringVar(&o.data, "data", "", "comma-separated files or folders of text (default: the .go files under $(go env GOROOT)/src)")
	fs.StringVar(&o.ext, "ext", "", "comma-separated suffixes of the files read under folders (default: .txt,.txt.gz,.jsonl,.jsonl.gz; .go for the default corpus)")
	fs.StringVar(&o.textField, "text-field", o.textField, "the field of a .jsonl line that holds its text")
	fs.StringVar(&o.out, "out", o.out, "folder for the shards and shards.json: new, empty, or an earlier prepare's (replaced)")
	fs.StringVar(&o.tokenizer, "tokenizer", o.tokenizer, "bytes (one token per byte); bpe: a byte-level BPE trained on the first -bpe-sample bytes; gpt2: GPT-2's, from -tokenizer-dir, with <|endoftext|> before each document")
	fs.StringVar(&o.tokenizerDir, "tokenizer-dir", "", "the folder of -tokenizer gpt2's vocab.json and merges.txt")
	fs.IntVar(&o.vocab, "vocab", o.vocab, "-tokenizer bpe's vocabulary, 257 to 65536")
	fs.StringVar(&o.bpePattern, "bpe-pattern", o.bpePattern, "-tokenizer bpe's pre-tokenizer: gpt2 or cl100k")
	fs.IntVar(&o.bpeSample, "bpe-sample", o.bpeSample, "bytes of text -tokenizer bpe is trained on, from the corpus's start")
	fs.Float64Var(&o.valFrac, "val-frac", o.valFrac, "fraction of the text held out for validation, spread evenly through the corpus in chunks of up to 64 KiB")
	fs.IntVar(&o.shardTokens, "shard-tokens", o.shardTokens, "the most tokens in a shard (llm.c's 100,000,000)")
	fs.IntVar(&o.workers, "workers", 0, "goroutines that tokenize (0: one per core)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress bar")
	if help, err := cli.ParseFlags(fs, args, stdout); help || err != nil {
		return err
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	if cfg.Tokenizer, cfg.EOT, err = o.makeTokenizer(cfg, stdout); err != nil {
		return err
	}
	bar := newBar(stderr, o.quiet)
	cfg.Progress = bar.update
	start := time.Now()
	m, err := data.Prepare(ctx, cfg)
	bar.finish()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted: the shards in %s are unfinished (%s says so, and nexttoken refuses them); run prepare again to start over", o.out, data.ManifestFile)
		}
		return err
	}
	secs := time.Since(start).Seconds()
	count := func(infos []data.ShardInfo) (n int) {
		for _, s := range infos {
			n += s.Tokens
		}
		return n
	}
	fmt.Fprintf(stdout, "read %d files: %d documents, %.1f MB of text in %.1f s (%.2f MB/s with %d workers)\n",
		len(m.Inputs), m.Documents, float64(m.Bytes)/1e6, secs, float64(m.Bytes)/1e6/secs, workers(cfg))
	train, val := count(m.Train), count(m.Val)
	fmt.Fprintf(stdout, "wrote %s: %d training tokens in %d shards, %d validation tokens in %d (%.2f bytes of text a token), tokenizer %s of %d ids\n",
		o.out, train, len(m.Train), val, len(m.Val), float64(m.Bytes)/float64(train+val), m.Tokenizer.Kind, m.Vocab)
	fmt.Fprintf(stdout, "train: go run ./examples/nexttoken -data %s\n", o.out)
	return nil
}

func workers(cfg data.PrepareConfig) int {
	if cfg.Workers > 0 {
		return cfg.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// config checks the flags and returns Prepare's configuration, without the tokenizer.
func (o options) config() (data.PrepareConfig, error) {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch o.tokenizer {
	case "bytes", "bpe", "gpt2":
	default:
		add("-tokenizer %q is not bytes, bpe or gpt2", o.tokenizer)
	}
	if (o.tokenizer == "gpt2") != (o.tokenizerDir != "") {
		add("-tokenizer gpt2 and -tokenizer-dir go together: the folder of GPT-2's vocab.json and merges.txt")
	}
	if o.vocab <= 256 || o.vocab > 1<<16 {
		add("-vocab %d must be in [257, 65536]", o.vocab)
	}
	if err := data.Pattern(o.bpePattern).Check(); err != nil {
		add("-bpe-pattern %q is not gpt2 or cl100k", o.bpePattern)
	}
	if o.bpeSample < 1 {
		add("-bpe-sample %d must be positive", o.bpeSample)
	}
	if !(o.valFrac > 0 && o.valFrac < 1) {
		add("-val-frac %g must be in (0, 1)", o.valFrac)
	}
	if o.shardTokens < 1 || o.shardTokens > 1<<31-1 {
		add("-shard-tokens %d must be in [1, 2147483647]", o.shardTokens)
	}
	if o.workers < 0 {
		add("-workers %d must not be negative", o.workers)
	}
	if o.out == "" {
		add("-out must name a folder")
	}
	if err := errors.Join(errs...); err != nil {
		return data.PrepareConfig{}, err
	}
	cfg := data.PrepareConfig{Inputs: data.SplitList(o.data), Exts: data.SplitList(o.ext), TextField: o.textField, Out: o.out,
		ValFrac: o.valFrac, ShardTokens: o.shardTokens, Workers: o.workers}
	if len(cfg.Inputs) == 0 {
		src, err := trainer.DefaultCorpus()
		if err != nil {
			return cfg, err
		}
		cfg.Inputs = []string{src}
		if o.ext == "" {
			cfg.Exts = []string{".go"}
		}
	}
	if abs, err := filepath.Abs(o.out); err == nil {
		for _, in := range cfg.Inputs {
			if a, err := filepath.Abs(in); err == nil && (a == abs || strings.HasPrefix(abs, a+string(filepath.Separator))) {
				return cfg, fmt.Errorf("-out %s lies inside -data %s: its shards would be read back", o.out, in)
			}
		}
	}
	return cfg, nil
}

// makeTokenizer returns the tokenizer and its end-of-text token (-1 for none): bytes, a BPE trained
// on the corpus's first -bpe-sample bytes, or GPT-2's.
func (o options) makeTokenizer(cfg data.PrepareConfig, stdout io.Writer) (data.Tokenizer, int, error) {
	switch o.tokenizer {
	case "bpe":
		start := time.Now()
		sample, err := data.SampleText(cfg, o.bpeSample)
		if err != nil {
			return nil, 0, err
		}
		bpe, err := data.TrainBPE(sample, o.vocab, data.Pattern(o.bpePattern))
		if err != nil {
			return nil, 0, err
		}
		fmt.Fprintf(stdout, "tokenizer: byte-level BPE of %d ids, %s pattern, trained on the first %.1f MB in %.1f s\n",
			bpe.VocabSize(), o.bpePattern, float64(len(sample))/1e6, time.Since(start).Seconds())
		return bpe, -1, nil
	case "gpt2":
		tok, err := data.LoadGPT2Tokenizer(o.tokenizerDir)
		if err != nil {
			return nil, 0, fmt.Errorf("-tokenizer-dir: %w", err)
		}
		eot := -1
		if id, ok := tok.Special("<|endoftext|>"); ok {
			eot = int(id)
		}
		fmt.Fprintf(stdout, "tokenizer: GPT-2's byte-level BPE of %d ids from %s; <|endoftext|> (%d) before each document\n", tok.VocabSize(), o.tokenizerDir, eot)
		return tok, eot, nil
	}
	fmt.Fprintln(stdout, "tokenizer: bytes (one token per byte, 256 ids); documents follow one another")
	return data.Bytes{}, -1, nil
}

// bar draws the progress on a terminal: input bytes read of all, MB/s, the time left, tokens.
type bar struct {
	w  io.Writer
	on bool
	pb *progressbar.ProgressBar
}

func newBar(w io.Writer, quiet bool) *bar {
	f, ok := w.(*os.File)
	return &bar{w: w, on: !quiet && ok && term.IsTerminal(int(f.Fd()))}
}

func (b *bar) update(p data.PrepareProgress) {
	if !b.on {
		return
	}
	if b.pb == nil {
		b.pb = progressbar.NewOptions64(p.Total, progressbar.OptionSetWriter(b.w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetPredictTime(true), progressbar.OptionSetWidth(30), progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish())
	}
	b.pb.Describe(fmt.Sprintf("%d tokens", p.Tokens))
	_ = b.pb.Set64(p.Read)
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}
