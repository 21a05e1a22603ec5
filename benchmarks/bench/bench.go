// Package bench measures training and generation throughput of bitter's models: the code behind
// the `go test -bench` suite in benchmarks/ and the grid command benchmarks/cmd/compare, so both
// measure the same thing the same way.
//
// Throughput is tokens per second of a full training step (forward, backward, AdamW update) at a
// fixed number of tokens per step (batch = tokens / sequence length), from the median of timed
// steps after the first; the first step (graph build and compile, plus one step) is reported apart
// as compile time, less one median step.
package bench

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// Models are the benchmarked model kinds, in report order.
var Models = []string{"transformer", "lstm", "gru"}

// SeqLens are the default sequence lengths of the grid.
var SeqLens = []int{64, 128, 256, 512, 1024}

// Sizes configures the models; the zero value of a field keeps the default
// (transformer.Tiny and rnn.Baseline: about 0.9M parameters each).
type Sizes struct {
	Vocab                    int // token ids (256)
	Dim, Layers, Heads, FFN  int // transformer
	Embed, Hidden, RNNLayers int // lstm, gru
	// BF16 turns on the transformer's mixed precision (bfloat16 matmuls, float32 master weights).
	BF16 bool
	// Chunk, when positive, trains the RNNs with rnn.ChunkedTrainer: exact backpropagation through
	// time in chunks of Chunk steps, so their graphs hold Chunk steps rather than the whole sequence.
	Chunk int
	// Kernels chooses how the transformer's attention is computed (not a flag: commands read it
	// from the environment, internal/cmdutil/cli.AttentionKernels).
	Kernels attention.Kernels
}

// Build returns the model of the given kind and sizes for sequences of seqLen tokens, on the
// backend of that name ("go" selects the RNNs' stepwise formulation, see rnn.Config.Stepwise).
func Build(kind string, seqLen int, s Sizes, backendName string) (lm.Model, error) {
	set := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	switch kind {
	case "transformer":
		cfg := transformer.Tiny()
		set(&cfg.VocabSize, s.Vocab)
		set(&cfg.ModelDim, s.Dim)
		set(&cfg.NumLayers, s.Layers)
		set(&cfg.NumHeads, s.Heads)
		set(&cfg.FFNDim, s.FFN)
		cfg.MaxSeqLen = max(cfg.MaxSeqLen, seqLen)
		if s.BF16 {
			cfg.ComputeDType = dtypes.BFloat16
		}
		cfg.Kernels = s.Kernels
		return cfg, cfg.Validate()
	case "lstm", "gru":
		cfg := rnn.Baseline(rnn.Cell(kind))
		set(&cfg.VocabSize, s.Vocab)
		set(&cfg.EmbedDim, s.Embed)
		set(&cfg.HiddenDim, s.Hidden)
		set(&cfg.NumLayers, s.RNNLayers)
		cfg = cfg.ForBackend(backendName)
		return cfg, cfg.Validate()
	}
	return nil, fmt.Errorf("bench: model %q is not one of transformer, lstm, gru", kind)
}

// TrainRun is a model, an AdamW trainer and a fixed random batch, ready to step.
type TrainRun struct {
	Model         lm.Model
	SeqLen, Batch int
	trainer       *train.Trainer
	inputs        []*tensors.Tensor
	labels        []*tensors.Tensor
	chunked       *rnn.ChunkedTrainer // instead of trainer, for an RNN with Sizes.Chunk set
	x, y          [][]int32
}

// NewTrainRun builds the trainer for kind at seqLen with tokensPerStep tokens per step.
func NewTrainRun(b backends.Backend, kind string, seqLen, tokensPerStep int, s Sizes) (*TrainRun, error) {
	if seqLen < 1 || tokensPerStep < seqLen {
		return nil, fmt.Errorf("bench: %d tokens per step hold no sequence of %d", tokensPerStep, seqLen)
	}
	model, err := Build(kind, seqLen, s, b.String())
	if err != nil {
		return nil, err
	}
	opt, err := optim.New(optim.DefaultAdamW(1e-3))
	if err != nil {
		return nil, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(1); err != nil {
		return nil, err
	}
	batch := tokensPerStep / seqLen
	vocab := model.Vocab()
	rng := rand.New(rand.NewPCG(1, 2))
	x, y := make([][]int32, batch), make([][]int32, batch)
	for i := range batch {
		x[i], y[i] = make([]int32, seqLen), make([]int32, seqLen)
		for j := range seqLen {
			x[i][j], y[i][j] = int32(rng.IntN(vocab)), int32(rng.IntN(vocab))
		}
	}
	run := &TrainRun{Model: model, SeqLen: seqLen, Batch: batch, x: x, y: y}
	if cfg, ok := model.(rnn.Config); ok && s.Chunk > 0 {
		if run.chunked, err = rnn.NewChunkedTrainer(b, ctx, cfg, opt, s.Chunk); err != nil {
			return nil, err
		}
		return run, nil
	}
	run.trainer = train.NewTrainer(b, ctx,
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{model.Logits(ctx, in[0])}
		},
		func(labels, logits []*graph.Node) *graph.Node { return lm.Loss(logits[0], labels[0]) },
		opt, nil, nil)
	run.inputs, run.labels = []*tensors.Tensor{tensors.FromValue(x)}, []*tensors.Tensor{tensors.FromValue(y)}
	return run, nil
}

// Step runs one training step and waits for its loss.
func (r *TrainRun) Step() (err error) {
	defer func() {
		if rec := recover(); rec != nil {
			err = fmt.Errorf("bench: train step: %v", rec)
		}
	}()
	if r.chunked != nil {
		_, err := r.chunked.Step(r.x, r.y) // Brings the loss to the host: the step is done.
		return err
	}
	metrics, err := r.trainer.TrainStep(nil, r.inputs, r.labels)
	if err != nil {
		return err
	}
	_ = metrics[0].Value() // Bring the loss to the host: the step is done.
	for _, m := range metrics {
		m.FinalizeAll()
	}
	return nil
}

// Tokens is the number of tokens per step.
func (r *TrainRun) Tokens() int { return r.Batch * r.SeqLen }

// Result is one measured cell of the grid.
type Result struct {
	Model         string  `json:"model"`
	SeqLen        int     `json:"seq_len"`
	Batch         int     `json:"batch"`
	Params        int     `json:"params"`
	TokensPerSec  float64 `json:"tokens_per_sec"`
	MsPerStep     float64 `json:"ms_per_step"`
	CompileSec    float64 `json:"compile_s"`
	FLOPsPerToken float64 `json:"flops_per_token"`
	MFU           float64 `json:"mfu,omitempty"` // fraction of the given peak; 0 when none was given
	Steps         int     `json:"steps"`
	Chunk         int     `json:"rnn_chunk,omitempty"` // time steps per graph of a chunked RNN (rnn.ChunkedTrainer)
	// PeakMemGB is the device memory of a step in GB (1e9 bytes), where it is known: for bitter on
	// XLA, the compiled memory (backend.CompiledMemory.Total) of the cell's largest program; for
	// PyTorch on CUDA, torch.cuda.max_memory_allocated. 0 where unknown (the pure-Go backend).
	PeakMemGB float64 `json:"peak_mem_gb,omitempty"`
}

// MeasureTrain times steps training steps after a first (compile) step.
// peakTFLOPs, when positive, gives MFU = FLOPsPerToken · tokens/s / peak.
func MeasureTrain(b backends.Backend, kind string, seqLen, tokensPerStep, steps int, s Sizes, peakTFLOPs float64) (Result, error) {
	if steps < 1 {
		return Result{}, fmt.Errorf("bench: %d timed steps: need at least 1", steps)
	}
	run, err := NewTrainRun(b, kind, seqLen, tokensPerStep, s)
	if err != nil {
		return Result{}, err
	}
	start := time.Now()
	if err := run.Step(); err != nil {
		return Result{}, err
	}
	first := time.Since(start).Seconds()
	times := make([]float64, steps)
	for i := range times {
		start := time.Now()
		if err := run.Step(); err != nil {
			return Result{}, err
		}
		times[i] = time.Since(start).Seconds()
	}
	return run.Result(kind, first, Median(times), steps, peakTFLOPs), nil
}

// Result is the measurement of a run: first is the first step's seconds (build, compile and one
// step), step the seconds of a timed step (a median, or a testing.B loop's mean), steps how many
// were timed.
func (r *TrainRun) Result(kind string, first, step float64, steps int, peakTFLOPs float64) Result {
	res := Result{Model: kind, SeqLen: r.SeqLen, Batch: r.Batch, Params: r.Model.NumParams(),
		TokensPerSec: float64(r.Tokens()) / step, MsPerStep: step * 1000, CompileSec: max(0, first-step),
		FLOPsPerToken: r.Model.FLOPsPerToken(r.SeqLen), Steps: steps}
	if r.chunked != nil {
		res.Chunk = r.chunked.Chunk()
	}
	res.MFU = lm.MFU(res.FLOPsPerToken, res.TokensPerSec, peakTFLOPs)
	return res
}

// Median returns the median of xs (0 for none).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// RegisterFlags defines the size flags on fs, writing into s: -vocab, -dim, -layers, -heads, -ffn,
// -embed, -hidden, -rnn-layers (0 keeps the default).
func (s *Sizes) RegisterFlags(fs *flag.FlagSet) {
	fs.IntVar(&s.Vocab, "vocab", 0, "vocabulary (0 = 256)")
	fs.IntVar(&s.Dim, "dim", 0, "transformer width (0 = 128)")
	fs.IntVar(&s.Layers, "layers", 0, "transformer blocks (0 = 4)")
	fs.IntVar(&s.Heads, "heads", 0, "transformer heads (0 = 4)")
	fs.IntVar(&s.FFN, "ffn", 0, "transformer MLP width (0 = 512)")
	fs.IntVar(&s.Embed, "embed", 0, "lstm/gru embedding width (0 = 128)")
	fs.IntVar(&s.Hidden, "hidden", 0, "lstm/gru state width (0 = 240 lstm, 272 gru)")
	fs.IntVar(&s.RNNLayers, "rnn-layers", 0, "lstm/gru layers (0 = 2)")
	fs.BoolVar(&s.BF16, "bf16", false, "transformer mixed precision: bfloat16 matmuls, float32 master weights")
	fs.IntVar(&s.Chunk, "rnn-chunk", 0, "lstm/gru: train in chunks of this many steps (exact BPTT, rnn.ChunkedTrainer; 0 = one unrolled graph)")
}

// Validate reports the size flags that are negative (0 means the default).
func (s Sizes) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab", s.Vocab}, {"dim", s.Dim}, {"layers", s.Layers}, {"heads", s.Heads}, {"ffn", s.FFN},
		{"embed", s.Embed}, {"hidden", s.Hidden}, {"rnn-layers", s.RNNLayers}, {"rnn-chunk", s.Chunk}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("-%s %d must not be negative (0 = the default)", f.name, f.v))
		}
	}
	return errors.Join(errs...)
}

// Args returns the set size flags as arguments for the PyTorch reference script.
func (s Sizes) Args() []string {
	var args []string
	for _, f := range []struct {
		name string
		v    int
	}{{"vocab", s.Vocab}, {"dim", s.Dim}, {"layers", s.Layers}, {"heads", s.Heads}, {"ffn", s.FFN},
		{"embed", s.Embed}, {"hidden", s.Hidden}, {"rnn-layers", s.RNNLayers}} {
		if f.v > 0 {
			args = append(args, "--"+f.name, fmt.Sprint(f.v))
		}
	}
	if s.BF16 {
		args = append(args, "--dtype", "bfloat16")
	}
	return args
}
