package lm

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/checkpoint"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/internal/chart"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/pretrained"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// CheckpointFile is the checkpoint's name inside -out.
const CheckpointFile = "checkpoint.bin"

// Record is one step of the training history.
type Record struct {
	Step         int      `json:"step"`
	TrainLoss    float64  `json:"train_loss"`
	ValLoss      *float64 `json:"val_loss,omitempty"`
	LR           float64  `json:"lr"`
	GradNorm     float64  `json:"grad_norm,omitempty"` // global gradient norm before clipping
	TokensPerSec float64  `json:"tokens_per_sec"`
}

// Meta is the checkpoint's metadata: what a resumed run needs besides the variables.
type Meta struct {
	Step   int                `json:"step"`
	Model  string             `json:"model"`
	Config transformer.Config `json:"config"`
	RNN    rnn.Config         `json:"rnn"`
	Seed   uint64             `json:"seed"`
	Batch  int                `json:"batch"`
	Accum  int                `json:"accum,omitempty"` // 0 in checkpoints from before -accum: 1
	Seq    int                `json:"seq"`
	Corpus string             `json:"corpus"`
	// Tokenizer is the BPE of -tokenizer bpe, trained when the run began; nil for bytes.
	Tokenizer *data.BPE `json:"tokenizer,omitempty"`
	// GPT2Tokenizer is GPT-2's tokenizer: of the pretrained model the run started from (-init-from), or
	// of -tokenizer gpt2.
	GPT2Tokenizer *data.GPT2Tokenizer `json:"gpt2_tokenizer,omitempty"`
	// InitFrom is the -init-from folder the weights were first loaded from.
	InitFrom string `json:"init_from,omitempty"`
	// TokenizerDir is the -tokenizer-dir GPT2Tokenizer was read from (-tokenizer gpt2).
	TokenizerDir string   `json:"tokenizer_dir,omitempty"`
	DataRNG      []byte   `json:"data_rng"`
	History      []Record `json:"history"`
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
	paths := splitList(o.Data)
	exts := splitList(o.Ext)
	if len(paths) == 0 {
		src, err := DefaultCorpus()
		if err != nil {
			return nil, nil, "", err
		}
		paths = []string{src}
		if o.Ext == "" {
			exts = []string{".go"}
		}
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

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Run trains (or resumes) as the options say, writing progress to stderr and results to stdout,
// and returns the result. Every failure is an error; no panic escapes.
func Run(o Options, stdout, stderr io.Writer) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := o.Validate(); err != nil {
		return res, err
	}
	model, err := o.BuildModel()
	if err != nil {
		return res, err
	}
	cfg, _ := model.(transformer.Config)
	rcfg, _ := model.(rnn.Config)
	seq := o.SeqLen()
	if o.Model == "transformer" {
		if err := cfg.CheckSeqLen(seq); err != nil {
			return res, err
		}
	}
	ckptPath := filepath.Join(o.Out, CheckpointFile)

	ctx := context.New()
	var meta Meta
	if o.Resume {
		if err := checkpoint.Load(ckptPath, ctx, &meta); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return res, fmt.Errorf("-resume: no checkpoint at %s; run without -resume to start one", ckptPath)
			}
			return res, err
		}
		meta.Accum = max(meta.Accum, 1)
		if meta.InitFrom != o.InitFrom {
			return res, fmt.Errorf("-resume: the checkpoint in %s started from -init-from %q; pass the same flags to resume", o.Out, meta.InitFrom)
		}
		if (meta.Tokenizer != nil) != (o.Tokenizer == "bpe") || (meta.Tokenizer != nil && string(meta.Tokenizer.Pattern()) != o.BPEPattern) ||
			(meta.TokenizerDir != "") != (o.Tokenizer == "gpt2") {
			return res, fmt.Errorf("-resume: the checkpoint in %s was trained with %s; pass the same flags to resume", o.Out, tokenizerName(meta))
		}
		if meta.Model != o.Model || meta.Config != cfg || meta.RNN != rcfg || meta.Seed != o.Seed || meta.Batch != o.Batch || meta.Accum != o.Accum || meta.Seq != seq {
			return res, fmt.Errorf("-resume: the checkpoint in %s was made with -model %s (%+v%+v), seed %d, batch %d x accum %d, seq %d; "+
				"the flags ask for -model %s (%+v%+v), seed %d, batch %d x accum %d, seq %d: pass the same flags to resume",
				o.Out, meta.Model, meta.Config, meta.RNN, meta.Seed, meta.Batch, meta.Accum, meta.Seq, o.Model, cfg, rcfg, o.Seed, o.Batch, o.Accum, seq)
		}
		if meta.Step >= o.Steps {
			return res, fmt.Errorf("-resume: the checkpoint in %s is at step %d already; ask for more -steps", o.Out, meta.Step)
		}
	} else {
		if err := ctx.SetRNGStateFromSeed(int64(o.Seed)); err != nil {
			return res, err
		}
		meta = Meta{Model: o.Model, Config: cfg, RNN: rcfg, Seed: o.Seed, Batch: o.Batch, Accum: o.Accum, Seq: seq}
		if o.InitFrom != "" {
			start := time.Now()
			g, err := pretrained.LoadGPT2(o.InitFrom)
			if err != nil {
				return res, fmt.Errorf("-init-from: %w", err)
			}
			if err := g.Init(ctx); err != nil {
				return res, fmt.Errorf("-init-from: %w", err)
			}
			meta.GPT2Tokenizer, meta.InitFrom = g.Tokenizer, o.InitFrom
			fmt.Fprintf(stdout, "pretrained: %s: %d parameters in %.1f s\n", o.InitFrom, cfg.NumParams(), time.Since(start).Seconds())
		}
	}

	text, docs, corpus, err := o.Corpus()
	if err != nil {
		return res, err
	}
	if o.Resume && meta.Corpus != corpus {
		return res, fmt.Errorf("-resume: the checkpoint was trained on %s, the flags name %s", meta.Corpus, corpus)
	}
	meta.Corpus = corpus
	trainText, valText, err := data.Split(text, o.ValFrac)
	if err != nil {
		return res, err
	}
	var tok data.Tokenizer = data.Bytes{}
	if o.Tokenizer == "bpe" {
		if !o.Resume {
			start := time.Now()
			if meta.Tokenizer, err = data.TrainBPE(trainText, o.BPEVocab(), data.Pattern(o.BPEPattern)); err != nil {
				return res, fmt.Errorf("corpus %s: %w", corpus, err)
			}
			short := ""
			if n := meta.Tokenizer.VocabSize(); n < o.BPEVocab() {
				short = fmt.Sprintf(" (of %d asked: no pair was left to merge; the model's other ids go unused)", o.BPEVocab())
			}
			fmt.Fprintf(stdout, "tokenizer: byte-level BPE of %d ids%s, %s pattern, trained on the training split in %.1f s\n",
				meta.Tokenizer.VocabSize(), short, o.BPEPattern, time.Since(start).Seconds())
		} else {
			fmt.Fprintf(stdout, "tokenizer: byte-level BPE of %d ids, %s pattern, from the checkpoint\n", meta.Tokenizer.VocabSize(), meta.Tokenizer.Pattern())
		}
		tok = meta.Tokenizer
	}
	if o.Tokenizer == "gpt2" && !o.Resume {
		if meta.GPT2Tokenizer, err = data.LoadGPT2Tokenizer(o.TokenizerDir); err != nil {
			return res, fmt.Errorf("-tokenizer-dir: %w", err)
		}
		meta.TokenizerDir = o.TokenizerDir
	}
	if meta.GPT2Tokenizer != nil {
		tok = meta.GPT2Tokenizer
		from := meta.InitFrom + meta.TokenizerDir // one of them is set
		if o.Resume {
			from = "the checkpoint"
		}
		fmt.Fprintf(stdout, "tokenizer: GPT-2's byte-level BPE of %d ids (%d merges), from %s\n", tok.VocabSize(), meta.GPT2Tokenizer.NumMerges(), from)
	}
	subword := meta.Tokenizer != nil || meta.GPT2Tokenizer != nil
	// With GPT-2's tokenizer, files are documents: each encoded apart, with <|endoftext|> between
	// them, as GPT-2 was trained (and no token spans two files).
	var sep []data.Token
	if meta.GPT2Tokenizer != nil && len(docs) > 1 {
		if eot, ok := meta.GPT2Tokenizer.Special("<|endoftext|>"); ok {
			sep = []data.Token{eot}
		}
	}
	var trainTokens, valTokens []data.Token
	if sep != nil {
		trainDocs, valDocs, err := data.SplitDocuments(docs, o.ValFrac)
		if err != nil {
			return res, err
		}
		trainTokens, valTokens = data.EncodeDocuments(tok, trainDocs, sep), data.EncodeDocuments(tok, valDocs, sep)
	} else {
		trainTokens, valTokens = tok.Encode(trainText), tok.Encode(valText)
	}
	ds, err := data.NewWindows(trainTokens, o.Batch, seq, o.Seed)
	if err != nil {
		return res, fmt.Errorf("corpus %s: training split: %w", corpus, err)
	}
	if o.Resume {
		if err := ds.SetState(meta.DataRNG); err != nil {
			return res, err
		}
	}
	if o.EvalTokens > 0 && len(valTokens) > o.EvalTokens+1 {
		valTokens = valTokens[:o.EvalTokens+1]
	}
	if len(valTokens) < 2 {
		return res, fmt.Errorf("corpus %s: the validation split has %d tokens; raise -val-frac or use a larger corpus", corpus, len(valTokens))
	}

	b, err := backend.New()
	if err != nil {
		return res, err
	}
	defer b.Finalize()
	b, mem := backend.TrackMemory(b) // on XLA: the device memory each compiled program needs
	if o.Model != "transformer" {
		rcfg = rcfg.ForBackend(b.String())
		model = rcfg
	}
	fmt.Fprintf(stdout, "backend: %s (%s)\n", backend.Config(), b.Description())
	if subword {
		fmt.Fprintf(stdout, "corpus: %s: %d bytes, %d training tokens (%.2f bytes each), %d validation tokens evaluated\n",
			corpus, len(text), len(trainTokens), float64(len(trainText))/float64(len(trainTokens)), len(valTokens)-1)
		if sep != nil {
			fmt.Fprintf(stdout, "corpus: %d files, each a document: <|endoftext|> between them\n", len(docs))
		}
	} else {
		fmt.Fprintf(stdout, "corpus: %s: %d bytes, %d for training, %d validation tokens evaluated\n",
			corpus, len(text), len(trainTokens), len(valTokens)-1)
	}
	if o.Model == "transformer" {
		fmt.Fprintf(stdout, "model: transformer, %d layers, %d wide, %d heads, FFN %d, context %d: %d parameters (%d non-embedding)\n",
			cfg.NumLayers, cfg.ModelDim, cfg.NumHeads, cfg.FFNDim, cfg.MaxSeqLen, model.NumParams(), model.NonEmbeddingParams())
	} else {
		fmt.Fprintf(stdout, "model: %s, %d layers of %d, embedding %d: %d parameters (%d non-embedding)\n",
			rcfg.Cell, rcfg.NumLayers, rcfg.HiddenDim, rcfg.EmbedDim, model.NumParams(), model.NonEmbeddingParams())
	}
	flopsPerToken := model.FLOPsPerToken(seq)
	fmt.Fprintf(stdout, "training FLOPs per token at T=%d: %.4g", seq, flopsPerToken)
	if o.PeakTFLOPs > 0 {
		fmt.Fprintf(stdout, "; MFU against a peak of %g TFLOP/s", o.PeakTFLOPs)
	}
	fmt.Fprintln(stdout)

	schedule := optim.Schedule{Kind: optim.Constant, Peak: o.LR, WarmupSteps: o.Warmup}
	if o.Schedule == "cosine" {
		schedule = optim.Schedule{Kind: optim.Cosine, Peak: o.LR, WarmupSteps: o.Warmup, TotalSteps: o.Steps, Floor: o.LR / 10}
	}
	ocfg := optim.DefaultAdamW(o.LR)
	ocfg.LR, ocfg.WeightDecay, ocfg.ClipNorm = schedule, o.WeightDecay, o.Clip
	opt, err := optim.New(ocfg)
	if err != nil {
		return res, err
	}
	modelCtx := ctx
	if o.Resume || o.InitFrom != "" {
		modelCtx = ctx.Reuse() // the variables exist
	}
	var trainOn func(x, y [][]int32) (loss float64, err error) // one batch: a step, or a micro-batch of one with -accum
	eval := newEvaluator(b, ctx, model, valTokens, seq, o.Batch)
	if o.RNNChunk > 0 {
		chunked, err := rnn.NewChunkedTrainer(b, modelCtx, rcfg, opt, o.RNNChunk)
		if err != nil {
			return res, err
		}
		trainOn, eval.chunked = chunked.Step, chunked
	} else {
		trainer := train.NewTrainer(b, modelCtx,
			func(ctx *context.Context, _ any, inputs []*graph.Node) []*graph.Node {
				return []*graph.Node{model.Logits(ctx, inputs[0])}
			},
			func(labels, predictions []*graph.Node) *graph.Node {
				return lm.Loss(predictions[0], labels[0])
			}, opt, nil, nil)
		if o.Accum > 1 {
			if err := trainer.AccumulateGradients(o.Accum); err != nil {
				return res, err
			}
		}
		trainOn = func(x, y [][]int32) (float64, error) { return trainStep(trainer, x, y) }
	}

	if err := cli.OutputDir(o.Out); err != nil {
		return res, err
	}
	history := meta.History
	startStep := meta.Step + 1
	if o.InitFrom != "" && !o.Resume {
		v, err := eval.loss()
		if err != nil {
			return res, fmt.Errorf("validation of the pretrained model: %w", err)
		}
		res.PretrainedValLoss = v
		fmt.Fprintf(stdout, "step 0: val_loss=%.4f (the pretrained model, before training)\n", v)
	}
	bar := newProgress(o, stderr, startStep)
	bar.mfu = func(tokensPerSec float64) float64 { return lm.MFU(flopsPerToken, tokensPerSec, o.PeakTFLOPs) }
	tokensPerStep := o.Batch * o.Accum * seq
	var stepTimes []float64
	var lastVal = math.NaN()
	for step := startStep; step <= o.Steps; step++ {
		var loss float64 // the mean over the step's micro-batches
		var elapsed float64
		for range o.Accum {
			x, y := ds.Next()
			start := time.Now()
			l, err := trainOn(x, y)
			if err != nil {
				return res, fmt.Errorf("step %d: %w", step, err)
			}
			elapsed += time.Since(start).Seconds()
			loss += l / float64(o.Accum)
		}
		norm := optim.GradNorm(ctx)
		for _, v := range []struct {
			what  string
			value float64
		}{{"training loss", loss}, {"gradient norm", norm}} {
			if math.IsNaN(v.value) || math.IsInf(v.value, 0) {
				return res, fmt.Errorf("step %d: the %s is %v; %s; try a lower -lr or -clip 1", step, v.what, v.value, intact(o, meta))
			}
		}
		if step > startStep {
			stepTimes = append(stepTimes, elapsed)
		} else {
			line := fmt.Sprintf("step %d: %.1f s, compiling the training graph included", step, elapsed)
			if m, ok := mem.Max(); ok {
				line += fmt.Sprintf("; its largest program needs %.2f GB on the device (XLA's compiled memory: arguments %.2f GB, temporaries %.2f GB)",
					float64(m.Total())/1e9, float64(m.Arguments)/1e9, float64(m.Temporary)/1e9)
			}
			if attention.CuDNNCalls() > 0 {
				line += "; attention runs on cuDNN's fused kernel"
			}
			bar.log(line)
		}
		rec := Record{Step: step, TrainLoss: loss, LR: schedule.At(step), GradNorm: norm, TokensPerSec: float64(tokensPerStep) / elapsed}
		if step%o.EvalEvery == 0 || step == o.Steps {
			v, err := eval.loss()
			if err != nil {
				return res, fmt.Errorf("step %d: validation: %w", step, err)
			}
			if math.IsNaN(v) || math.IsInf(v, 0) { // the step's update broke the weights: keep the last checkpoint
				return res, fmt.Errorf("step %d: the validation loss is %v; %s; try a lower -lr or -clip 1", step, v, intact(o, meta))
			}
			lastVal = v
			rec.ValLoss = &v
		}
		history = append(history, rec)
		bar.update(rec)
		if rec.ValLoss != nil {
			meta.Step, meta.History = step, history
			if meta.DataRNG, err = ds.State(); err != nil {
				return res, err
			}
			if err := checkpoint.Save(ckptPath, ctx, meta); err != nil {
				return res, err
			}
			bar.log(fmt.Sprintf("step %d: train_loss=%.4f val_loss=%.4f grad_norm=%.3g lr=%.2e checkpoint %s", step, loss, lastVal, norm, rec.LR, ckptPath))
		}
	}
	bar.finish()
	if math.IsNaN(lastVal) {
		if lastVal, err = eval.loss(); err != nil {
			return res, err
		}
	}

	res = Result{Step: o.Steps, ValLoss: lastVal, History: history, TokensPerSec: medianRate(stepTimes, tokensPerStep), PretrainedValLoss: res.PretrainedValLoss}
	if subword {
		// The evaluator scores every token after the first; bits per byte of their text (the
		// documents' text: a separator counts as a token, not as bytes).
		scored := slices.DeleteFunc(slices.Clone(valTokens[1:]), func(id data.Token) bool { return slices.Contains(sep, id) })
		res.ValBitsPerByte = lastVal * float64(len(valTokens)-1) / float64(len(tok.Decode(scored))) / math.Ln2
	}
	res.MFU = lm.MFU(flopsPerToken, res.TokensPerSec, o.PeakTFLOPs)
	var sum float64
	last := history[max(0, len(history)-10):]
	for _, r := range last {
		sum += r.TrainLoss
	}
	res.TrainLoss = sum / float64(len(last))
	if err := writeHistory(o.Out, history); err != nil {
		return res, err
	}
	fmt.Fprintf(stdout, "wrote %s, %s and %s\n", ckptPath, filepath.Join(o.Out, "loss.csv"), filepath.Join(o.Out, "loss.png"))

	if o.Sample > 0 {
		fmt.Fprintf(stdout, "sample (temperature %g, top-k %d, top-p %g):\n", o.Temperature, o.TopK, o.TopP)
		if res.Sample, err = sample(b, ctx, model, tok, o, stdout); err != nil {
			return res, err
		}
	}
	fmt.Fprintln(stdout, res.FinalLine())
	return res, nil
}

// sample continues o.Prompt by o.Sample tokens of the model in ctx, with o's sampling settings and
// seed, writing the text to w as it comes (then a line break), and returns the prompt and the
// continuation as text.
func sample(b backends.Backend, ctx *context.Context, model Model, tok data.Tokenizer, o Options, w io.Writer) (string, error) {
	prompt := tok.Encode([]byte(o.Prompt))
	ids := make([]int32, len(prompt))
	for i, t := range prompt {
		ids[i] = int32(t)
	}
	sampling := lm.Sampling{Temperature: o.Temperature, TopK: o.TopK, TopP: o.TopP, Seed: o.Seed}
	var gen interface {
		Stream(prompt []int32, n int, s lm.Sampling, emit func(int32) error) error
	}
	var err error
	switch m := model.(type) {
	case transformer.Config:
		gen, err = transformer.NewGenerator(b, ctx, m)
	case rnn.Config:
		gen, err = rnn.NewGenerator(b, ctx, m)
	default:
		return "", fmt.Errorf("no generator for %T", model)
	}
	if err != nil {
		return "", err
	}
	text := []byte(o.Prompt)
	fmt.Fprint(w, o.Prompt)
	err = gen.Stream(ids, o.Sample, sampling, func(t int32) error {
		piece := tok.Decode([]data.Token{data.Token(t)}) // Decode joins the pieces of its ids
		text = append(text, piece...)
		_, err := w.Write(piece)
		return err
	})
	fmt.Fprintln(w)
	if err != nil {
		return "", err
	}
	return string(text), nil
}

// Generate samples from the checkpoint in o.Out without training (-generate): the model, its
// tokenizer and its weights come from the checkpoint, so of the flags only -out, -prompt, -sample,
// -temperature, -top-k, -top-p and -seed count. With -init-from they come from the pretrained
// model instead (and -out is not read). It prints the sample and returns it.
func Generate(o Options, stdout io.Writer) (text string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := o.Validate(); err != nil {
		return "", err
	}
	if o.Resume {
		return "", errors.New("-generate samples from the checkpoint without training; -resume trains: pick one")
	}
	if o.Sample < 1 {
		return "", fmt.Errorf("-generate needs -sample above 0, got %d", o.Sample)
	}
	ckptPath := filepath.Join(o.Out, CheckpointFile)
	ctx := context.New()
	var meta Meta
	if o.InitFrom != "" {
		g, err := pretrained.LoadGPT2(o.InitFrom)
		if err != nil {
			return "", fmt.Errorf("-init-from: %w", err)
		}
		if err := g.Init(ctx); err != nil {
			return "", fmt.Errorf("-init-from: %w", err)
		}
		meta = Meta{Model: "transformer", Config: g.Config, GPT2Tokenizer: g.Tokenizer, InitFrom: o.InitFrom}
		if o.Precision == "bfloat16" {
			meta.Config.ComputeDType = dtypes.BFloat16
		}
	} else if err := checkpoint.Load(ckptPath, ctx, &meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("-generate: no checkpoint at %s; train one first (without -generate)", ckptPath)
		}
		return "", err
	}
	b, err := backend.New()
	if err != nil {
		return "", err
	}
	defer b.Finalize()
	var model Model = meta.Config
	if meta.Model == "lstm" || meta.Model == "gru" {
		model = meta.RNN.ForBackend(b.String())
	}
	tok := meta.tokenizer()
	fmt.Fprintf(stdout, "backend: %s (%s)\n", backend.Config(), b.Description())
	if o.InitFrom != "" {
		fmt.Fprintf(stdout, "pretrained: %s: GPT-2 of %d parameters (tokenizer %s)\n", o.InitFrom, model.NumParams(), tokenizerName(meta))
	} else {
		fmt.Fprintf(stdout, "checkpoint: %s: %s of %d parameters at step %d, trained on %s (tokenizer %s)\n",
			ckptPath, meta.Model, model.NumParams(), meta.Step, meta.Corpus, tokenizerName(meta))
	}
	fmt.Fprintf(stdout, "sample (temperature %g, top-k %d, top-p %g, seed %d):\n", o.Temperature, o.TopK, o.TopP, o.Seed)
	return sample(b, ctx.Reuse(), model, tok, o, stdout)
}

// intact says what is left on disk when a run stops on a bad number: the last checkpoint, untouched.
func intact(o Options, meta Meta) string {
	if meta.Step == 0 {
		return "no checkpoint was written"
	}
	return fmt.Sprintf("the checkpoint in %s (step %d) is intact", o.Out, meta.Step)
}

// tokenizer is the run's tokenizer: GPT-2's of -init-from, the BPE of -tokenizer bpe, or bytes.
func (m Meta) tokenizer() data.Tokenizer {
	switch {
	case m.GPT2Tokenizer != nil:
		return m.GPT2Tokenizer
	case m.Tokenizer != nil:
		return m.Tokenizer
	}
	return data.Bytes{}
}

// tokenizerName names the run's tokenizer as the flags that make it.
func tokenizerName(m Meta) string {
	switch {
	case m.TokenizerDir != "":
		return "-tokenizer gpt2 -tokenizer-dir " + m.TokenizerDir
	case m.GPT2Tokenizer != nil:
		return "of -init-from " + m.InitFrom
	case m.Tokenizer != nil:
		return "-tokenizer bpe -bpe-pattern " + string(m.Tokenizer.Pattern())
	}
	return "-tokenizer bytes"
}

// Export writes the transformer checkpoint in o.Out to o.Export in Hugging Face's GPT-2 layout
// (-export): config.json, model.safetensors and, for a run that started from a pretrained GPT-2,
// its vocab.json and merges.txt. A model GPT-2's layout cannot hold (RoPE, RMSNorm, SwiGLU, ...) is
// an error; so is an LSTM or GRU.
func Export(o Options, stdout io.Writer) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	if err := o.Validate(); err != nil {
		return err
	}
	ckptPath := filepath.Join(o.Out, CheckpointFile)
	ctx := context.New()
	var meta Meta
	if err := checkpoint.Load(ckptPath, ctx, &meta); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("-export: no checkpoint at %s; train one first (without -export)", ckptPath)
		}
		return err
	}
	if meta.Model != "transformer" {
		return fmt.Errorf("-export: the checkpoint in %s holds an %s; GPT-2's layout holds transformers", o.Out, meta.Model)
	}
	if err := pretrained.SaveGPT2(o.Export, meta.Config, ctx, meta.GPT2Tokenizer); err != nil {
		return fmt.Errorf("-export: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %s: GPT-2 layout of the step-%d checkpoint in %s (%d parameters)\n", o.Export, meta.Step, o.Out, meta.Config.NumParams())
	switch {
	case meta.GPT2Tokenizer != nil:
		fmt.Fprintf(stdout, "tokenizer: vocab.json and merges.txt of %s\n", meta.InitFrom+meta.TokenizerDir)
	case meta.Tokenizer != nil:
		fmt.Fprintln(stdout, "tokenizer: not written: bitter's BPE (its text form is in the checkpoint) is not in GPT-2's file format")
	default:
		fmt.Fprintln(stdout, "tokenizer: bytes (token id = byte value, 256 ids); no vocabulary file is needed")
	}
	return nil
}

// trainStep runs one step and returns its loss, turning GoMLX's panics into errors.
func trainStep(trainer *train.Trainer, x, y [][]int32) (loss float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	metrics, err := trainer.TrainStep(nil, []*tensors.Tensor{tensors.FromValue(x)}, []*tensors.Tensor{tensors.FromValue(y)})
	if err != nil {
		return 0, err
	}
	loss = lm.LossValue(metrics[0])
	for _, m := range metrics {
		m.FinalizeAll()
	}
	return loss, nil
}

func medianRate(stepTimes []float64, tokensPerStep int) float64 {
	if len(stepTimes) == 0 {
		return 0
	}
	s := slices.Clone(stepTimes)
	slices.Sort(s)
	return float64(tokensPerStep) / s[len(s)/2]
}

// evaluator computes the mean next-token cross-entropy over validation windows.
type evaluator struct {
	exec            *context.Exec
	chunked         *rnn.ChunkedTrainer // when set, evaluates chunk by chunk instead of exec
	inputs, targets [][]int32
	batch           int
}

func newEvaluator(b backends.Backend, ctx *context.Context, model Model, tokens []data.Token, seq, batch int) *evaluator {
	exec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens, targets *graph.Node) *graph.Node {
		return graph.ReduceAllSum(lm.TokenLosses(model.Logits(ctx, tokens), targets))
	})
	in, tg := data.EvalWindows(tokens, seq)
	return &evaluator{exec: exec, inputs: in, targets: tg, batch: batch}
}

func (e *evaluator) loss() (mean float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var sum float64
	var count int
	for i := 0; i < len(e.inputs); {
		// Full windows in batches; the short last window alone.
		j := i + 1
		for j < len(e.inputs) && j-i < e.batch && len(e.inputs[j]) == len(e.inputs[i]) {
			j++
		}
		n := (j - i) * len(e.inputs[i])
		if e.chunked != nil {
			mean, err := e.chunked.Loss(e.inputs[i:j], e.targets[i:j])
			if err != nil {
				return 0, err
			}
			sum += mean * float64(n)
		} else {
			outs, err := e.exec.Exec(e.inputs[i:j], e.targets[i:j])
			if err != nil {
				return 0, err
			}
			sum += lm.LossValue(outs[0])
			outs[0].FinalizeAll()
		}
		count += n
		i = j
	}
	return sum / float64(count), nil
}

// writeHistory writes loss.csv and loss.png.
func writeHistory(dir string, history []Record) error {
	f, err := os.Create(filepath.Join(dir, "loss.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"step", "train_loss", "val_loss", "lr", "tokens_per_sec", "grad_norm"})
	var steps, trainLoss, valSteps, valLoss []float64
	for _, r := range history {
		val := ""
		if r.ValLoss != nil {
			val = strconv.FormatFloat(*r.ValLoss, 'f', 6, 64)
			valSteps = append(valSteps, float64(r.Step))
			valLoss = append(valLoss, *r.ValLoss)
		}
		_ = w.Write([]string{strconv.Itoa(r.Step), strconv.FormatFloat(r.TrainLoss, 'f', 6, 64), val,
			strconv.FormatFloat(r.LR, 'g', 6, 64), strconv.FormatFloat(r.TokensPerSec, 'f', 1, 64), strconv.FormatFloat(r.GradNorm, 'g', 6, 64)})
		steps = append(steps, float64(r.Step))
		trainLoss = append(trainLoss, r.TrainLoss)
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return fmt.Errorf("writing loss.csv: %w", err)
	}
	return chart.Chart{Title: "next-token loss", XLabel: "step", YLabel: "cross-entropy (nats/token)",
		Series: []chart.Series{{Name: "train (batch)", X: steps, Y: trainLoss}, {Name: "validation", X: valSteps, Y: valLoss}},
	}.Save(filepath.Join(dir, "loss.png"))
}

// progress shows a progress bar on a terminal, or log lines elsewhere.
type progress struct {
	bar   *progressbar.ProgressBar
	w     io.Writer
	every int
	total int
	mfu   func(tokensPerSec float64) float64 // 0 when not reported
}

func newProgress(o Options, w io.Writer, start int) *progress {
	p := &progress{w: w, every: max(1, o.Steps/20), total: o.Steps}
	if f, ok := w.(*os.File); ok && !o.Quiet && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(o.Steps-start+1,
			progressbar.OptionSetWriter(w), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true), progressbar.OptionSetWidth(25), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(200*time.Millisecond))
	}
	return p
}

func (p *progress) update(r Record) {
	util := ""
	if p.mfu != nil {
		if u := p.mfu(r.TokensPerSec); u > 0 {
			util = fmt.Sprintf(" MFU %.1f%%", 100*u)
		}
	}
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("step %d loss %.3f norm %.3g %.0f tok/s%s", r.Step, r.TrainLoss, r.GradNorm, r.TokensPerSec, util))
		_ = p.bar.Add(1)
		return
	}
	if r.Step%p.every == 0 || r.Step == p.total {
		fmt.Fprintf(p.w, "step %d/%d loss %.4f norm %.3g lr %.2e %.0f tokens/s%s\n", r.Step, p.total, r.TrainLoss, r.GradNorm, r.LR, r.TokensPerSec, util)
	}
}

func (p *progress) log(line string) {
	if p.bar != nil {
		_ = p.bar.Clear()
	}
	fmt.Fprintln(p.w, line)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
