package s2s

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/internal/cmdutil/batcher"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/seq2seq"
	"github.com/bitterlesson/bitter/transformer"
)

// Params is one experiment: the task, the two models and how each is trained and decoded.
type Params struct {
	Task
	// Budget is each model's training compute in FLOPs (its TrainingFLOPs at the padded batch shape,
	// times the steps): the steps follow from it, so both models get the same compute.
	Budget float64
	// Batch is the pairs per step; LR the peak AdamW learning rate after Warmup steps, then a cosine
	// to a tenth of it at the last step.
	Batch  int
	LR     float64
	Warmup int
	// Beam and Alpha are the beam search's width and length penalty (Vaswani et al.: 4 and 0.6).
	Beam  int
	Alpha float64
	// Seed draws the data, initialises the models and orders the batches.
	Seed uint64
	// Transformer and RNN are the two models; NewParams fits their vocabularies and lengths to
	// the task.
	Transformer transformer.EncoderDecoder
	RNN         rnn.Seq2Seq
}

// CPU is the default, sized for 2 CPU cores and the pure-Go backend: reversal of 26 letters, trained
// on lengths 1 to 16 and tested to 24, 1.5e13 FLOPs per model.
func CPU() Params {
	return NewParams(Params{Task: Task{Alphabet: 26, TrainMin: 1, TrainMax: 16, TestMax: 24, TrainSize: 50000, TestPerLength: 100},
		Budget: 1.5e13, Batch: 64, LR: 1e-3, Warmup: 100, Beam: 4, Alpha: 0.6, Seed: 1,
		Transformer: transformer.SmallEncoderDecoder(0, 0), RNN: rnn.SmallSeq2Seq(rnn.GRU, 0, 0)})
}

// GPU is the preset for a card: lengths 1 to 32 trained, tested to 48, wider models, 100 times the
// budget.
func GPU() Params {
	p := CPU()
	p.Task = Task{Alphabet: 26, TrainMin: 1, TrainMax: 32, TestMax: 48, TrainSize: 500000, TestPerLength: 500}
	p.Budget, p.Batch = 5e15, 256
	p.Transformer.EncoderLayers, p.Transformer.DecoderLayers, p.Transformer.ModelDim, p.Transformer.FFNDim = 4, 4, 256, 1024
	p.RNN.EmbedDim, p.RNN.HiddenDim, p.RNN.DecoderDim, p.RNN.AttentionDim = 128, 256, 512, 256
	return NewParams(p)
}

// Presets are the settings by name (-preset).
var Presets = map[string]func() Params{"cpu": CPU, "gpu": GPU}

// NewParams returns p with both models' vocabularies set to the task's and their longest sequences
// to its longest test source.
func NewParams(p Params) Params {
	v := p.Task.Vocab()
	p.Transformer.SourceVocabSize, p.Transformer.TargetVocabSize = v, v
	p.Transformer.MaxSourceLen, p.Transformer.MaxTargetLen = p.TestMax, p.TestMax+1
	p.RNN.SourceVocabSize, p.RNN.TargetVocabSize = v, v
	p.RNN.MaxSourceLen, p.RNN.MaxTargetLen = p.TestMax, p.TestMax+1
	return p
}

// Validate returns an error naming every bad value, or nil.
func (p Params) Validate() error {
	errs := []error{p.Task.Validate(), p.Transformer.Validate(), p.RNN.Validate()}
	if !(p.Budget > 0) || math.IsInf(p.Budget, 0) {
		errs = append(errs, fmt.Errorf("-budget %g FLOPs must be positive", p.Budget))
	}
	if p.Batch < 1 {
		errs = append(errs, fmt.Errorf("-batch %d must be positive", p.Batch))
	}
	if !(p.LR > 0) || math.IsInf(p.LR, 0) {
		errs = append(errs, fmt.Errorf("-lr %g must be positive", p.LR))
	}
	if p.Beam < 1 {
		errs = append(errs, fmt.Errorf("-beam %d must be positive", p.Beam))
	}
	if !(p.Alpha >= 0) || math.IsInf(p.Alpha, 0) {
		errs = append(errs, fmt.Errorf("-alpha %g must be a finite number, not negative", p.Alpha))
	}
	return errors.Join(errs...)
}

// Models returns the two models by name, in the order they run.
func (p Params) Models() []Named {
	return []Named{{"transformer", p.Transformer}, {"rnn-attention", p.RNN}}
}

// Named is a model and its name in the results.
type Named struct {
	Name  string
	Model seq2seq.Model
}

// StepFLOPs is a training step's compute: the batch's pairs at the padded lengths every batch has.
func (p Params) StepFLOPs(m seq2seq.Model) float64 {
	return float64(p.Batch) * m.TrainingFLOPs(p.TrainMax, p.TrainMax+1)
}

// Steps is the number of steps the budget buys m.
func (p Params) Steps(m seq2seq.Model) int { return max(1, int(math.Ceil(p.Budget/p.StepFLOPs(m)))) }

// Training is what Train measured.
type Training struct {
	Steps        int
	Seconds      float64 // wall time of the steps, graph compilation included
	TokensPerSec float64 // real (unpadded) source and target tokens per second of training
	FinalLoss    float64 // the mean loss of the last 50 steps, nats per target token
	Losses       []float64
}

// Train trains m on the pairs for p.Steps(m) steps and returns its variables and the measurements.
func Train(b backends.Backend, p Params, m seq2seq.Model, pairs []seq2seq.Pair, log io.Writer) (*context.Context, Training, error) {
	var res Training
	steps := p.Steps(m)
	ocfg := optim.DefaultAdamW(p.LR)
	ocfg.LR = optim.Schedule{Kind: optim.Cosine, Peak: p.LR, WarmupSteps: min(p.Warmup, steps/10), TotalSteps: steps, Floor: p.LR / 10}
	ocfg.ClipNorm = 1
	opt, err := optim.New(ocfg)
	if err != nil {
		return nil, res, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(p.Seed)); err != nil {
		return nil, res, err
	}
	trainer := train.NewTrainer(b, ctx,
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{m.Logits(ctx, in[0], in[1], in[2])}
		},
		func(labels, logits []*graph.Node) *graph.Node { return seq2seq.Loss(logits[0], labels[0]) },
		opt, nil, nil)
	lim := seq2seq.LimitsOf(m)
	order := batcher.New(len(pairs), p.Batch, p.Seed)
	batch := make([]seq2seq.Pair, p.Batch)
	tokens := 0
	start := time.Now()
	for step := 1; step <= steps; step++ {
		for i, j := range order.Next() {
			batch[i] = pairs[j]
		}
		bt, err := seq2seq.NewBatch(batch, Special, lim, p.TrainMax, p.TrainMax+1)
		if err != nil {
			return nil, res, err
		}
		metrics, err := trainer.TrainStep(nil,
			[]*tensors.Tensor{tensors.FromValue(bt.Source), tensors.FromValue(bt.SourceLengths), tensors.FromValue(bt.TargetIn)},
			[]*tensors.Tensor{tensors.FromValue(bt.TargetOut)})
		if err != nil {
			return nil, res, fmt.Errorf("step %d: %w", step, err)
		}
		loss := lm.LossValue(metrics[0])
		for _, t := range metrics {
			t.FinalizeAll()
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return nil, res, fmt.Errorf("step %d: the loss is %v; lower -lr", step, loss)
		}
		tokens += bt.Tokens
		res.Losses = append(res.Losses, loss)
		if step == 1 || step%200 == 0 || step == steps {
			fmt.Fprintf(log, "  step %d/%d: loss %.4f, %.0f s\n", step, steps, loss, time.Since(start).Seconds())
		}
	}
	res.Steps, res.Seconds = steps, time.Since(start).Seconds()
	res.TokensPerSec = float64(tokens) / res.Seconds
	tail := res.Losses[max(0, len(res.Losses)-50):]
	for _, l := range tail {
		res.FinalLoss += l / float64(len(tail))
	}
	return ctx.Reuse(), res, nil
}

// Accuracy is the exact-match accuracy at one source length.
type Accuracy struct {
	Length, Pairs int
	Greedy, Beam  float64 // fraction of pairs whose whole translation is right
}

// Evaluate decodes every test pair with dec greedily and by beam search and returns the exact-match
// accuracy at each length that has pairs, and the decoding wall time.
func Evaluate(dec *seq2seq.Decoder, p Params, test [][]seq2seq.Pair) ([]Accuracy, float64, error) {
	start := time.Now()
	var out []Accuracy
	for i, pairs := range test {
		if len(pairs) == 0 {
			continue
		}
		srcs := make([][]int32, len(pairs))
		for j, pr := range pairs {
			srcs[j] = pr.Source
		}
		greedy, err := dec.Greedy(srcs, 0)
		if err != nil {
			return nil, 0, err
		}
		beam, err := dec.Beam(srcs, p.Beam, p.Alpha, 0)
		if err != nil {
			return nil, 0, err
		}
		acc := Accuracy{Length: i + 1, Pairs: len(pairs)}
		for j, pr := range pairs {
			if Text(greedy[j]) == Text(pr.Target) {
				acc.Greedy += 1 / float64(len(pairs))
			}
			if Text(beam[j]) == Text(pr.Target) {
				acc.Beam += 1 / float64(len(pairs))
			}
		}
		out = append(out, acc)
	}
	return out, time.Since(start).Seconds(), nil
}
