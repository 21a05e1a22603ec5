package trainer

import (
	stdcontext "context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/checkpoint"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/hmm"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// Record is one step of the training history.
type Record struct {
	Step         int      `json:"step"`
	TrainLoss    float64  `json:"train_loss"`
	ValLoss      *float64 `json:"val_loss,omitempty"`
	LR           float64  `json:"lr"`
	GradNorm     float64  `json:"grad_norm,omitempty"` // global gradient norm before clipping
	TokensPerSec float64  `json:"tokens_per_sec"`
}

// Result is what a run reports.
type Result struct {
	Step         int
	TrainLoss    float64 // mean batch loss of the last (up to) 10 steps, nats/token
	ValLoss      float64 // validation cross-entropy at the end, nats/token
	TokensPerSec float64 // training tokens per second, steady state (the first step of this process excluded)
	MFU          float64 // model FLOPs utilisation at TokensPerSec against Options.PeakTFLOPs; 0 when no peak was given
	// ValBitsPerByte is the validation loss in bits per byte of text, comparable across tokenizers;
	// set with -tokenizer bpe and -init-from (with bytes it is ValLoss/ln 2, and left 0).
	ValBitsPerByte float64
	// PretrainedValLoss is the validation loss of the -init-from model before training (0 without).
	PretrainedValLoss float64
	Sample            string
	History           []Record
}

// FinalLine is the run's last line: "final: step=N train_loss=X val_loss=Y tokens_per_sec=Z", then
// " val_bpb=B" with a subword tokenizer (-tokenizer bpe, -init-from), and " mfu=P%" when the run was given the device's peak.
func (r Result) FinalLine() string {
	line := fmt.Sprintf("final: step=%d train_loss=%.4f val_loss=%.4f tokens_per_sec=%.0f", r.Step, r.TrainLoss, r.ValLoss, r.TokensPerSec)
	if r.ValBitsPerByte > 0 {
		line += fmt.Sprintf(" val_bpb=%.4f", r.ValBitsPerByte)
	}
	if r.MFU > 0 {
		line += fmt.Sprintf(" mfu=%.1f%%", 100*r.MFU)
	}
	return line
}

// Run trains (or resumes) as the options say, writing progress to stderr and results to stdout,
// and returns the result. Every failure is an error; no panic escapes.
//
// A run starts (or resumes from the checkpoint in o.Out), then takes each step, evaluating and
// checkpointing every o.EvalEvery steps and at the last, and finishes with loss.csv, loss.png, a
// sample and the final line ([Result.FinalLine]) on stdout. loss.csv grows by a line a step and
// loss.png is redrawn at each evaluation, so a run that is killed keeps its history.
func Run(o Options, stdout, stderr io.Writer) (Result, error) {
	return RunContext(stdcontext.Background(), o, stdout, stderr)
}

// RunContext is [Run] until ctx is done (a command cancels it on SIGINT or SIGTERM): then it stops
// between two steps, leaving the last checkpoint as it was and no temporary file, and returns an
// error that says so.
func RunContext(ctx stdcontext.Context, o Options, stdout, stderr io.Writer) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	r := &run{o: o, stdout: stdout, stderr: stderr, lastVal: math.NaN()}
	defer r.close()
	if err := r.start(); err != nil {
		return res, err
	}
	for step := r.startStep; step <= o.Steps; step++ {
		if ctx.Err() != nil {
			r.bar.finish()
			return res, fmt.Errorf("interrupted before step %d: %s", step, intact(o, r.meta))
		}
		rec, err := r.step(step)
		if err != nil {
			return res, err
		}
		if step%o.EvalEvery == 0 || step == o.Steps {
			if err := r.evaluate(&rec); err != nil {
				return res, err
			}
		}
		r.history = append(r.history, rec)
		r.bar.update(rec)
		if err := r.log.add(rec); err != nil {
			return res, err
		}
		if rec.ValLoss != nil {
			if err := r.checkpoint(rec); err != nil {
				return res, err
			}
		}
	}
	return r.finish()
}

// run is one training run: what start prepares, and what the steps accumulate.
type run struct {
	o              Options
	stdout, stderr io.Writer

	model     lm.Model
	seq       int    // training sequence length
	ckptPath  string // the checkpoint in o.Out
	ctx       *context.Context
	meta      Meta // what the checkpoint holds besides the variables; meta.Step is the last saved step
	startStep int  // the first step this process takes

	tok                     data.Tokenizer
	sep                     []data.Token      // the document separator between files (GPT-2's tokenizer), or none
	numDocs                 int               // the corpus's files
	trainTokens, valTokens  []data.Token      // the corpus read into memory (not with shards)
	shards                  *data.ShardFolder // the corpus as a folder of shards
	valSpans                []data.Span       // the validation windows evaluated
	noText                  bool              // no tokenizer writes the model's ids as text (shards with -vocab)
	batches                 *data.Windows
	backend                 backends.Backend
	memory                  *backend.MemoryTracker
	schedule                optim.Schedule
	trainOn                 func(x, y [][]int32) (loss float64, err error) // one batch: a step, or a micro-batch with -accum
	eval                    *evaluator
	bar                     *progress
	log                     *historyLog // loss.csv and loss.png
	flopsPerToken           float64
	history                 []Record
	stepTimes               []float64 // seconds of each step after the first of this process
	lastVal                 float64   // the last validation loss, NaN before the first
	pretrainedVal           float64   // the -init-from model's validation loss before training
	corpusBytes, trainBytes int
}

// close releases the backend and loss.csv.
func (r *run) close() {
	if r.backend != nil {
		r.backend.Finalize()
	}
	if r.log != nil {
		_ = r.log.close()
	}
	if r.shards != nil {
		_ = r.shards.Close()
	}
}

// start validates the options, loads the checkpoint (resume) or initialises the model, reads and
// tokenizes the corpus, starts the backend and builds the training step.
func (r *run) start() error {
	o := r.o
	if err := o.Validate(); err != nil {
		return err
	}
	model, err := o.BuildModel()
	if err != nil {
		return err
	}
	r.model, r.seq = model, o.SeqLen()
	if cfg, ok := model.(transformer.Config); ok {
		if err := cfg.CheckSeqLen(r.seq); err != nil {
			return err
		}
	}
	if err := r.checkMemory(); err != nil {
		return err
	}
	r.ckptPath = filepath.Join(o.Out, CheckpointFile)
	r.ctx = context.New()
	if o.Resume {
		err = r.resume()
	} else {
		err = r.initialise()
	}
	if err != nil {
		return err
	}
	if err := r.readData(); err != nil {
		return err
	}
	if err := r.startBackend(); err != nil {
		return err
	}
	if err := r.buildStep(); err != nil {
		return err
	}
	if err := checkpoint.PrepareDir(o.Out); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	if n, err := checkpoint.RemoveStale(r.ckptPath); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(r.stdout, "removed %d temporary checkpoint file(s) that an interrupted save left in %s\n", n, o.Out)
	}
	r.history, r.startStep = r.meta.History, r.meta.Step+1
	if r.log, err = openHistory(o.Out, r.history); err != nil {
		return err
	}
	if o.InitFrom != "" && !o.Resume {
		v, err := r.eval.loss()
		if err != nil {
			return fmt.Errorf("validation of the pretrained model: %w", err)
		}
		r.pretrainedVal = v
		fmt.Fprintf(r.stdout, "step 0: val_loss=%.4f (the pretrained model, before training)\n", v)
	}
	r.bar = newProgress(o, r.stderr, r.startStep)
	r.bar.mfu = func(tokensPerSec float64) float64 { return lm.MFU(r.flopsPerToken, tokensPerSec, o.PeakTFLOPs) }
	return nil
}

// resume loads the checkpoint in o.Out and checks that the options describe the same run.
func (r *run) resume() error {
	o := r.o
	meta := &r.meta
	if err := checkpoint.Load(r.ckptPath, r.ctx, meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("-resume: no checkpoint at %s; run without -resume to start one", r.ckptPath)
		}
		return err
	}
	meta.Accum = max(meta.Accum, 1)
	if meta.InitFrom != o.InitFrom {
		return fmt.Errorf("-resume: the checkpoint in %s started from -init-from %q; pass the same flags to resume", o.Out, meta.InitFrom)
	}
	prepared := false // a folder of shards with its own tokenizer, which the flags do not name
	if dir, shards := o.shardFolder(); shards {
		m, err := data.ReadManifest(dir) // one that cannot be read is readShards' to report
		if prepared = err == nil; prepared && !sameTokenizer(*meta, m.Tokenizer) {
			return fmt.Errorf("-resume: the tokenizer of the shards in %s is not the checkpoint's: the folder was prepared again", dir)
		}
	}
	if !prepared && ((meta.Tokenizer != nil) != (o.Tokenizer == "bpe") || (meta.Tokenizer != nil && string(meta.Tokenizer.Pattern()) != o.BPEPattern) ||
		(meta.TokenizerDir != "") != (o.Tokenizer == "gpt2")) {
		return fmt.Errorf("-resume: the checkpoint in %s was trained with %s; pass the same flags to resume", o.Out, tokenizerName(*meta))
	}
	asked := r.modelMeta()
	asked.Seed, asked.Batch, asked.Accum, asked.Seq = o.Seed, o.Batch, o.Accum, r.seq
	if diff := resumeDiff(*meta, asked); len(diff) > 0 {
		return fmt.Errorf("-resume: the checkpoint in %s was made with %s: pass the checkpoint's values to resume",
			o.Out, strings.Join(diff, ", "))
	}
	if meta.Step >= o.Steps {
		return fmt.Errorf("-resume: the checkpoint in %s is at step %d already; ask for more -steps", o.Out, meta.Step)
	}
	return nil
}

// initialise seeds a new run and, with -init-from, loads the pretrained weights.
func (r *run) initialise() error {
	o := r.o
	if err := r.ctx.SetRNGStateFromSeed(int64(o.Seed)); err != nil {
		return err
	}
	r.meta = r.modelMeta()
	r.meta.Seed, r.meta.Batch, r.meta.Accum, r.meta.Seq, r.meta.ScheduleSteps = o.Seed, o.Batch, o.Accum, r.seq, o.Steps
	if o.InitFrom == "" {
		return nil
	}
	start := time.Now()
	g, err := pretrained.LoadGPT2(o.InitFrom)
	if err != nil {
		return fmt.Errorf("-init-from: %w", err)
	}
	if err := g.Init(r.ctx); err != nil {
		return fmt.Errorf("-init-from: %w", err)
	}
	r.meta.GPT2Tokenizer, r.meta.InitFrom = g.Tokenizer, o.InitFrom
	fmt.Fprintf(r.stdout, "pretrained: %s: %d parameters in %.1f s\n", o.InitFrom, r.model.NumParams(), time.Since(start).Seconds())
	return nil
}

// modelMeta returns the model as the checkpoint's metadata keeps it: its name, and a transformer's,
// an RNN's or an HMM's config (the others zero).
func (r *run) modelMeta() Meta {
	m := Meta{Model: r.o.Model}
	m.Config, _ = r.model.(transformer.Config)
	m.RNN, _ = r.model.(rnn.Config)
	m.HMM, _ = r.model.(hmm.Config)
	return m
}

// readData reads the corpus, splits it, sets up the tokenizer (trained now, or the checkpoint's)
// and tokenizes both splits into training windows and validation tokens.
func (r *run) readData() error {
	if dir, ok := r.o.shardFolder(); ok {
		return r.readShards(dir)
	}
	o, meta := r.o, &r.meta
	text, docs, corpus, err := o.Corpus()
	if err != nil {
		return err
	}
	if o.Resume && meta.Corpus != corpus {
		return fmt.Errorf("-resume: the checkpoint was trained on %s, the flags name %s", meta.Corpus, corpus)
	}
	meta.Corpus = corpus
	trainText, valText, err := data.Split(text, o.ValFrac)
	if err != nil {
		return err
	}
	if err := r.setTokenizer(trainText); err != nil {
		return err
	}
	// With GPT-2's tokenizer, files are documents: each encoded apart, with <|endoftext|> between
	// them, as GPT-2 was trained (and no token spans two files).
	if meta.GPT2Tokenizer != nil && len(docs) > 1 {
		if eot, ok := meta.GPT2Tokenizer.Special("<|endoftext|>"); ok {
			r.sep = []data.Token{eot}
		}
	}
	if r.sep != nil {
		trainDocs, valDocs, err := data.SplitDocuments(docs, o.ValFrac)
		if err != nil {
			return err
		}
		r.trainTokens, r.valTokens = data.EncodeDocuments(r.tok, trainDocs, r.sep), data.EncodeDocuments(r.tok, valDocs, r.sep)
	} else {
		r.trainTokens, r.valTokens = r.tok.Encode(trainText), r.tok.Encode(valText)
	}
	r.corpusBytes, r.trainBytes, r.numDocs = len(text), len(trainText), len(docs)
	for _, split := range []struct {
		name   string
		tokens []data.Token
	}{{"training", r.trainTokens}, {"validation", r.valTokens}} {
		if err := lm.CheckTokens(split.tokens, r.model.Vocab()); err != nil {
			return fmt.Errorf("corpus %s: %s split: %w", corpus, split.name, err)
		}
	}
	return r.windows([]data.Source{data.Tokens(r.trainTokens)}, []data.Source{data.Tokens(r.valTokens)})
}

// windows sets the training batches over train (continuing the checkpoint's draws when resuming)
// and the validation windows over val, up to -eval-tokens.
func (r *run) windows(train, val []data.Source) (err error) {
	o := r.o
	if r.batches, err = data.NewWindowsFrom(train, o.Batch, r.seq, o.Seed); err != nil {
		return fmt.Errorf("corpus %s: training split: %w", r.meta.Corpus, err)
	}
	if o.Resume {
		if err := r.batches.SetState(r.meta.DataRNG); err != nil {
			return err
		}
	}
	if r.valSpans = data.EvalSpans(val, r.seq, o.EvalTokens); len(r.valSpans) == 0 {
		n := 0
		for _, s := range val {
			n += s.Len()
		}
		return fmt.Errorf("corpus %s: the validation split has %d tokens; raise -val-frac or use a larger corpus", r.meta.Corpus, n)
	}
	return nil
}

// readShards opens the folder of shards dir: its tokenizer (or, for llm.c's and nanoGPT's files, the
// flags'), checked against the model's vocabulary, and windows over its splits.
func (r *run) readShards(dir string) (err error) {
	o, meta := r.o, &r.meta
	corpus := dir + " (shards)"
	if o.Resume && meta.Corpus != corpus {
		return fmt.Errorf("-resume: the checkpoint was trained on %s, the flags name %s", meta.Corpus, corpus)
	}
	meta.Corpus, meta.Shards = corpus, dir
	if o.Ext != "" {
		return fmt.Errorf("-ext picks files of a text corpus; %s is a folder of shards", dir)
	}
	if r.shards, err = data.OpenShardFolder(dir); err != nil {
		return err
	}
	tok, own, err := r.shards.Tokenizer()
	if err != nil {
		return err
	}
	switch {
	case own && (o.Tokenizer != "bytes" || o.TokenizerDir != "" || o.Vocab != 0):
		return fmt.Errorf("the shards in %s bring their tokenizer (%s): leave -tokenizer, -tokenizer-dir and -vocab unset", dir, data.ManifestFile)
	case !own && o.Tokenizer == "bpe":
		return fmt.Errorf("-tokenizer bpe trains on text; the shards in %s are tokenized: name their tokenizer (-tokenizer bytes, or gpt2 with -tokenizer-dir)", dir)
	case own:
		spec := r.shards.Manifest.Tokenizer
		if o.InitFrom != "" && spec.Kind != "gpt2" {
			return fmt.Errorf("-init-from's model reads GPT-2's tokens; the shards in %s hold tokens of %s", dir, spec.Kind)
		}
		r.tok = tok
		switch spec.Kind {
		case "bpe":
			meta.Tokenizer = spec.BPE
		case "gpt2":
			if meta.GPT2Tokenizer == nil { // -init-from's, when it started from one: the same ids
				meta.GPT2Tokenizer = spec.GPT2
			}
		}
		if eot := r.shards.Manifest.EOT; eot >= 0 {
			r.sep = []data.Token{data.Token(eot)}
		}
		fmt.Fprintf(r.stdout, "tokenizer: %s of %d ids, from %s\n", spec.Kind, tok.VocabSize(), filepath.Join(dir, data.ManifestFile))
	default:
		if err := r.setTokenizer(nil); err != nil {
			return err
		}
		if g := meta.GPT2Tokenizer; g != nil {
			if eot, ok := g.Special("<|endoftext|>"); ok {
				r.sep = []data.Token{eot}
			}
		}
	}
	if own && tok.VocabSize() != r.model.Vocab() {
		return fmt.Errorf("the shards in %s hold ids of a tokenizer of %d, the model reads %d", dir, tok.VocabSize(), r.model.Vocab())
	}
	if err := r.shards.CheckVocab(r.model.Vocab()); err != nil {
		if !own {
			return fmt.Errorf("%w (-vocab sets the model's for shards without a tokenizer)", err)
		}
		return err
	}
	r.noText = !own && meta.GPT2Tokenizer == nil && r.model.Vocab() > 256
	return r.windows(data.Sources(r.shards.Train), data.Sources(r.shards.Val))
}

// setTokenizer sets r.tok: bytes, the BPE of -tokenizer bpe (trained on trainText when the run
// begins, else the checkpoint's), or GPT-2's (of -init-from or -tokenizer gpt2).
func (r *run) setTokenizer(trainText []byte) (err error) {
	o, meta := r.o, &r.meta
	r.tok = data.Bytes{}
	if o.Tokenizer == "bpe" {
		if !o.Resume {
			start := time.Now()
			if meta.Tokenizer, err = data.TrainBPE(trainText, o.BPEVocab(), data.Pattern(o.BPEPattern)); err != nil {
				return fmt.Errorf("corpus %s: %w", meta.Corpus, err)
			}
			short := ""
			if n := meta.Tokenizer.VocabSize(); n < o.BPEVocab() {
				short = fmt.Sprintf(" (of %d asked: no pair was left to merge; the model's other ids go unused)", o.BPEVocab())
			}
			fmt.Fprintf(r.stdout, "tokenizer: byte-level BPE of %d ids%s, %s pattern, trained on the training split in %.1f s\n",
				meta.Tokenizer.VocabSize(), short, o.BPEPattern, time.Since(start).Seconds())
		} else {
			fmt.Fprintf(r.stdout, "tokenizer: byte-level BPE of %d ids, %s pattern, from the checkpoint\n", meta.Tokenizer.VocabSize(), meta.Tokenizer.Pattern())
		}
		r.tok = meta.Tokenizer
	}
	if o.Tokenizer == "gpt2" && !o.Resume {
		if meta.GPT2Tokenizer, err = data.LoadGPT2Tokenizer(o.TokenizerDir); err != nil {
			return fmt.Errorf("-tokenizer-dir: %w", err)
		}
		meta.TokenizerDir = o.TokenizerDir
	}
	if meta.GPT2Tokenizer != nil {
		r.tok = meta.GPT2Tokenizer
		from := meta.InitFrom + meta.TokenizerDir // one of them is set
		if o.Resume {
			from = "the checkpoint"
		}
		fmt.Fprintf(r.stdout, "tokenizer: GPT-2's byte-level BPE of %d ids (%d merges), from %s\n", r.tok.VocabSize(), meta.GPT2Tokenizer.NumMerges(), from)
	}
	return nil
}

// subword reports whether the run's tokenizer is a BPE (its own or GPT-2's) rather than bytes.
func (r *run) subword() bool { return r.meta.Tokenizer != nil || r.meta.GPT2Tokenizer != nil }

// startBackend starts the backend (an RNN takes its formulation for it) and prints what the run
// trains: backend, corpus, model and its FLOPs per token.
func (r *run) startBackend() error {
	o := r.o
	b, err := backend.New()
	if err != nil {
		return err
	}
	r.backend, r.memory = backend.TrackMemory(b) // on XLA: the device memory each compiled program needs
	if rcfg, ok := r.model.(rnn.Config); ok {
		r.model = rcfg.ForBackend(r.backend.String())
	}
	w := r.stdout
	fmt.Fprintf(w, "backend: %s (%s)\n", backend.Config(), r.backend.Description())
	evaluated := data.Targets(r.valSpans)
	if r.shards != nil {
		train, val := r.shards.Tokens()
		fmt.Fprintf(w, "corpus: %s: %d training tokens in %d shards, %d validation tokens in %d (%d evaluated), memory-mapped\n",
			r.meta.Corpus, train, len(r.shards.Train), val, len(r.shards.Val), evaluated)
	} else if r.subword() {
		fmt.Fprintf(w, "corpus: %s: %d bytes, %d training tokens (%.2f bytes each), %d validation tokens evaluated\n",
			r.meta.Corpus, r.corpusBytes, len(r.trainTokens), float64(r.trainBytes)/float64(len(r.trainTokens)), evaluated)
		if r.sep != nil {
			fmt.Fprintf(w, "corpus: %d files, each a document: <|endoftext|> between them\n", r.numDocs)
		}
	} else {
		fmt.Fprintf(w, "corpus: %s: %d bytes, %d for training, %d validation tokens evaluated\n",
			r.meta.Corpus, r.corpusBytes, len(r.trainTokens), evaluated)
	}
	fmt.Fprintf(w, "model: %s: %d parameters (%d non-embedding)\n", describe(r.model), r.model.NumParams(), r.model.NonEmbeddingParams())
	r.flopsPerToken = r.model.FLOPsPerToken(r.seq)
	fmt.Fprintf(w, "training FLOPs per token at T=%d: %.4g", r.seq, r.flopsPerToken)
	if o.PeakTFLOPs > 0 {
		fmt.Fprintf(w, "; MFU against a peak of %g TFLOP/s", o.PeakTFLOPs)
	}
	fmt.Fprintln(w)
	return nil
}

// describe names a model's kind and shape for the run's log.
func describe(model lm.Model) string {
	switch m := model.(type) {
	case transformer.Config:
		return fmt.Sprintf("transformer, %d layers, %d wide, %d heads, FFN %d, context %d", m.NumLayers, m.ModelDim, m.NumHeads, m.FFNDim, m.MaxSeqLen)
	case hmm.Config:
		return fmt.Sprintf("hmm, %d hidden states", m.States)
	case rnn.Config:
		return fmt.Sprintf("%s, %d layers of %d, embedding %d", m.Cell, m.NumLayers, m.HiddenDim, m.EmbedDim)
	}
	return fmt.Sprintf("%T", model)
}

// buildStep makes the optimizer with its schedule, the training step (GoMLX's trainer, or
// rnn.ChunkedTrainer with -rnn-chunk) and the evaluator.
func (r *run) buildStep() error {
	o := r.o
	// The schedule is laid out over the -steps the run began with: a resumed run that asks for more
	// takes the extra steps at the schedule's final rate (cosine: LR/10) rather than stretching it.
	total := r.meta.ScheduleSteps
	if total == 0 {
		total = o.Steps // a checkpoint from before ScheduleSteps was kept
		r.meta.ScheduleSteps = total
	}
	warmup := o.WarmupSteps(total)
	r.schedule = optim.Schedule{Kind: optim.Constant, Peak: o.LR, WarmupSteps: warmup}
	if o.Schedule == "cosine" {
		r.schedule = optim.Schedule{Kind: optim.Cosine, Peak: o.LR, WarmupSteps: warmup, TotalSteps: total, Floor: o.LR / 10}
		if o.Steps > total {
			fmt.Fprintf(r.stdout, "schedule: the run began with -steps %d; steps %d to %d keep its final learning rate, %.2e\n",
				total, total+1, o.Steps, r.schedule.At(total))
		}
	}
	ocfg := optim.DefaultAdamW(o.LR)
	ocfg.LR, ocfg.WeightDecay, ocfg.ClipNorm = r.schedule, o.WeightDecay, o.Clip
	opt, err := optim.New(ocfg)
	if err != nil {
		return err
	}
	modelCtx := r.ctx
	if o.Resume || o.InitFrom != "" {
		modelCtx = r.ctx.Reuse() // the variables exist
	}
	r.eval = newEvaluator(r.backend, r.ctx, r.model, r.valSpans, o.Batch)
	if o.RNNChunk > 0 {
		chunked, err := rnn.NewChunkedTrainer(r.backend, modelCtx, r.model.(rnn.Config), opt, o.RNNChunk)
		if err != nil {
			return err
		}
		r.trainOn, r.eval.chunked = chunked.Step, chunked
		return nil
	}
	model := r.model
	trainer := train.NewTrainer(r.backend, modelCtx,
		func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
			return []*graph.Node{model.Logits(ctx, inputs[0])}
		},
		func(labels, predictions []*graph.Node) *graph.Node {
			return lm.Loss(predictions[0], labels[0])
		}, opt, nil, nil)
	if o.Accum > 1 {
		if err := trainer.AccumulateGradients(o.Accum); err != nil {
			return err
		}
	}
	r.trainOn = func(x, y [][]int32) (float64, error) { return trainStep(trainer, x, y) }
	return nil
}

// step takes one optimizer step (o.Accum micro-batches) and returns its record, without the
// validation loss. A loss or gradient norm that is not a number ends the run.
func (r *run) step(step int) (Record, error) {
	o := r.o
	var loss float64 // the mean over the step's micro-batches
	var elapsed float64
	for range o.Accum {
		x, y := r.batches.Next()
		start := time.Now()
		l, err := r.trainOn(x, y)
		if err != nil {
			return Record{}, fmt.Errorf("step %d: %w", step, err)
		}
		elapsed += time.Since(start).Seconds()
		loss += l / float64(o.Accum)
	}
	norm := optim.GradNorm(r.ctx)
	for _, v := range []struct {
		what  string
		value float64
	}{{"training loss", loss}, {"gradient norm", norm}} {
		if math.IsNaN(v.value) || math.IsInf(v.value, 0) {
			return Record{}, fmt.Errorf("step %d: the %s is %v; %s; try a lower -lr or -clip 1", step, v.what, v.value, intact(o, r.meta))
		}
	}
	if step > r.startStep {
		r.stepTimes = append(r.stepTimes, elapsed)
	} else {
		line := fmt.Sprintf("step %d: %.1f s, compiling the training graph included", step, elapsed)
		if m, ok := r.memory.Max(); ok {
			line += fmt.Sprintf("; its largest program needs %.2f GB on the device (XLA's compiled memory: arguments %.2f GB, temporaries %.2f GB)",
				float64(m.Total())/1e9, float64(m.Arguments)/1e9, float64(m.Temporary)/1e9)
		}
		if attention.CuDNNCalls() > 0 {
			line += "; attention runs on cuDNN's fused kernel"
		}
		r.bar.log(line)
	}
	return Record{Step: step, TrainLoss: loss, LR: r.schedule.At(step), GradNorm: norm, TokensPerSec: float64(r.tokensPerStep()) / elapsed}, nil
}

// tokensPerStep is the number of training tokens in one optimizer step.
func (r *run) tokensPerStep() int { return r.o.Batch * r.o.Accum * r.seq }

// evaluate sets rec's validation loss. One that is not a number ends the run, with the last
// checkpoint kept.
func (r *run) evaluate(rec *Record) error {
	v, err := r.eval.loss()
	if err != nil {
		return fmt.Errorf("step %d: validation: %w", rec.Step, err)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) { // the step's update broke the weights: keep the last checkpoint
		return fmt.Errorf("step %d: the validation loss is %v; %s; try a lower -lr or -clip 1", rec.Step, v, intact(r.o, r.meta))
	}
	r.lastVal = v
	rec.ValLoss = &v
	return nil
}

// checkpoint saves the variables, the history and the data order after the step of rec.
func (r *run) checkpoint(rec Record) (err error) {
	r.meta.Step, r.meta.History = rec.Step, r.history
	if r.meta.DataRNG, err = r.batches.State(); err != nil {
		return err
	}
	if err := checkpoint.Save(r.ckptPath, r.ctx, r.meta); err != nil {
		return err
	}
	if err := r.log.plot(r.history); err != nil {
		return err
	}
	r.bar.log(fmt.Sprintf("step %d: train_loss=%.4f val_loss=%.4f grad_norm=%.3g lr=%.2e checkpoint %s",
		rec.Step, rec.TrainLoss, r.lastVal, rec.GradNorm, rec.LR, r.ckptPath))
	return nil
}

// finish writes loss.csv and loss.png, samples, and prints and returns the result.
func (r *run) finish() (res Result, err error) {
	o, history := r.o, r.history
	r.bar.finish()
	if math.IsNaN(r.lastVal) {
		if r.lastVal, err = r.eval.loss(); err != nil {
			return res, err
		}
	}
	res = Result{Step: o.Steps, ValLoss: r.lastVal, History: history, TokensPerSec: medianRate(r.stepTimes, r.tokensPerStep()), PretrainedValLoss: r.pretrainedVal}
	if r.subword() {
		// The evaluator scores the windows' targets; bits per byte of their text (the documents'
		// text: a separator counts as a token, not as bytes).
		var scored []data.Token
		for _, s := range r.valSpans {
			_, targets := s.Read()
			for _, id := range targets {
				if !slices.Contains(r.sep, data.Token(id)) {
					scored = append(scored, data.Token(id))
				}
			}
		}
		res.ValBitsPerByte = r.lastVal * float64(data.Targets(r.valSpans)) / float64(len(r.tok.Decode(scored))) / math.Ln2
	}
	res.MFU = lm.MFU(r.flopsPerToken, res.TokensPerSec, o.PeakTFLOPs)
	var sum float64
	last := history[max(0, len(history)-10):]
	for _, rec := range last {
		sum += rec.TrainLoss
	}
	res.TrainLoss = sum / float64(len(last))
	if err := errors.Join(r.log.plot(history), r.log.close()); err != nil {
		return res, err
	}
	r.log = nil
	fmt.Fprintf(r.stdout, "wrote %s, %s and %s\n", r.ckptPath, filepath.Join(o.Out, "loss.csv"), filepath.Join(o.Out, "loss.png"))
	if o.Sample > 0 && r.noText {
		fmt.Fprintf(r.stdout, "sample: none: the shards in %s bring no tokenizer to write the model's %d ids as text\n", r.meta.Shards, r.model.Vocab())
	} else if o.Sample > 0 {
		fmt.Fprintf(r.stdout, "sample (temperature %g, top-k %d, top-p %g):\n", o.Temperature, o.TopK, o.TopP)
		if res.Sample, err = sample(r.backend, r.ctx, r.model, r.tok, o, r.stdout); err != nil {
			return res, err
		}
	}
	fmt.Fprintln(r.stdout, res.FinalLine())
	return res, nil
}
