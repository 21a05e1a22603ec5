package dd

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/internal/cmdutil/batcher"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/transformer"
)

// Params is one sweep: the flags of examples/doubledescent.
type Params struct {
	Task   CountTask
	Train  int     // -train: training examples
	Test   int     // -test: clean held-out examples
	Noise  float64 // -noise: fraction of training labels replaced at random
	Widths []int   // -widths: model widths swept (ModelDim)
	Layers int     // -layers
	Steps  int     // -steps: optimizer steps for every width (the same budget)
	Batch  int     // -batch: examples per step; 0 = the whole training set
	LR     float64 // -lr: Adam, constant after a 10-step warmup, no weight decay
	Seeds  []uint64
}

// CPUDefault is sized for 2 CPU cores and the pure-Go backend (README: why these numbers).
func CPUDefault() Params {
	return Params{Task: CountTask{Vocab: 4, SeqLen: 8}, Train: 400, Test: 2000, Noise: 0.2,
		Widths: []int{2, 4, 6, 8, 12, 16, 24, 32}, Layers: 1, Steps: 3000, LR: 1e-3, Seeds: []uint64{1}}
}

// Presets are the starting points of the command's -preset flag.
var Presets = map[string]func() Params{
	"cpu": CPUDefault,
	// For a GPU: longer sequences, ten times the data, widths to 512, three seeds averaged.
	"gpu": func() Params {
		return Params{Task: CountTask{Vocab: 4, SeqLen: 16}, Train: 4000, Test: 10000, Noise: 0.2,
			Widths: []int{2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512}, Layers: 1,
			Steps: 10000, LR: 1e-3, Seeds: []uint64{1, 2, 3}}
	},
}

// Heads is the number of attention heads at a width: 1 below 8, 2 below 32, else 4 (head width >= 4).
func Heads(width int) int {
	switch {
	case width < 8:
		return 1
	case width < 32:
		return 2
	}
	return 4
}

// Model is the Transformer of a given width: pre-norm, learned positions, ReLU MLP of 4·width,
// untied head; the class is read at the last position.
func (p Params) Model(width int) transformer.Config {
	return transformer.Config{VocabSize: max(p.Task.Vocab, p.Task.Classes()), MaxSeqLen: p.Task.SeqLen,
		NumLayers: p.Layers, ModelDim: width, NumHeads: Heads(width), FFNDim: 4 * width,
		Activation: transformer.ReLU, Norm: transformer.LayerNorm, Positional: transformer.Learned, UseBias: true}
}

// Validate names a bad value.
func (p Params) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if err := p.Task.Validate(); err != nil {
		errs = append(errs, err)
	}
	if p.Train < 1 || p.Test < 1 {
		add("-train %d and -test %d must be positive", p.Train, p.Test)
	}
	if !(p.Noise >= 0 && p.Noise < 1) {
		add("-noise %g must be in [0, 1)", p.Noise)
	}
	if len(p.Widths) == 0 {
		add("-widths is empty")
	}
	if p.Layers < 1 || p.Steps < 1 || p.Batch < 0 {
		add("-layers and -steps must be positive, -batch non-negative")
	}
	if !(p.LR > 0) {
		add("-lr %g must be positive", p.LR)
	}
	if len(p.Seeds) == 0 {
		add("-seeds is empty")
	}
	for _, w := range p.Widths {
		if w < 1 {
			add("-widths: %d is not a positive width", w)
		} else if err := p.Model(w).Validate(); err != nil {
			add("width %d: %v", w, err)
		}
	}
	return errors.Join(errs...)
}

// Point is one trained model: a width and a seed.
type Point struct {
	Width, Params        int
	Seed                 uint64
	TrainErr, TestErr    float64 // errors against the (noisy) training labels and the clean test labels
	TrainLoss, TestLoss  float64
	NoisyFit, CleanTrain float64 // fraction of noisy training examples fit to their noisy label; error against clean training labels
	Seconds              float64
}

// lastLogits are the class logits at the last position: [batch, 1, vocab].
func lastLogits(cfg transformer.Config, ctx *context.Context, tokens *graph.Node) *graph.Node {
	logits := cfg.Logits(ctx, tokens)
	return graph.Slice(logits, graph.AxisRange(), graph.AxisElem(cfg.MaxSeqLen-1), graph.AxisRange())
}

func labels(y []int32) [][]int32 {
	out := make([][]int32, len(y))
	for i, v := range y {
		out[i] = []int32{v}
	}
	return out
}

// TrainPoint trains the model of one width on the noisy training set for p.Steps steps and
// measures it. clean is the training set with its clean labels, noisy the same inputs as trained on.
func TrainPoint(b backends.Backend, p Params, width int, seed uint64, clean, noisy, test Dataset, isNoisy []bool) (pt Point, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("width %d: internal error: %v", width, r)
		}
	}()
	cfg := p.Model(width)
	pt = Point{Width: width, Params: cfg.NumParams(), Seed: seed}
	ocfg := optim.DefaultAdamW(p.LR)
	ocfg.LR = optim.Schedule{Kind: optim.Constant, Peak: p.LR, WarmupSteps: 10}
	ocfg.WeightDecay = 0 // none: double descent is what an unregularised model does
	opt, err := optim.New(ocfg)
	if err != nil {
		return pt, err
	}
	ctx := context.New()
	if err := ctx.SetRNGStateFromSeed(int64(seed)); err != nil {
		return pt, err
	}
	trainer := train.NewTrainer(b, ctx,
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{lastLogits(cfg, ctx, in[0])}
		},
		func(labels, logits []*graph.Node) *graph.Node { return lm.Loss(logits[0], labels[0]) },
		opt, nil, nil)
	// Per-example loss and predicted class: the errors against any labels of the same inputs (noisy
	// or clean) are then counted on the host.
	eval := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens, answers *graph.Node) []*graph.Node {
		logits := lastLogits(cfg, ctx, tokens)
		losses := graph.Reshape(lm.TokenLosses(logits, answers), -1)
		return []*graph.Node{losses, graph.Reshape(graph.ArgMax(logits, -1, dtypes.Int32), -1)}
	})
	measure := func(d Dataset) (losses []float32, pred []int32, err error) {
		outs, err := eval.Exec(d.X, labels(d.Y))
		if err != nil {
			return nil, nil, err
		}
		return outs[0].Value().([]float32), outs[1].Value().([]int32), nil
	}
	start := time.Now()
	x := []*tensors.Tensor{tensors.FromValue(noisy.X)}
	y := []*tensors.Tensor{tensors.FromValue(labels(noisy.Y))}
	rng := batcher.New(noisy.Len(), p.Batch, seed)
	for step := 1; step <= p.Steps; step++ {
		if p.Batch > 0 {
			idx := rng.Next()
			bx, by := make([][]int32, len(idx)), make([]int32, len(idx))
			for i, j := range idx {
				bx[i], by[i] = noisy.X[j], noisy.Y[j]
			}
			x, y = []*tensors.Tensor{tensors.FromValue(bx)}, []*tensors.Tensor{tensors.FromValue(labels(by))}
		}
		metrics, err := trainer.TrainStep(nil, x, y)
		if err != nil {
			return pt, fmt.Errorf("width %d step %d: %w", width, step, err)
		}
		if l := lm.LossValue(metrics[0]); math.IsNaN(l) || math.IsInf(l, 0) {
			return pt, fmt.Errorf("width %d step %d: the loss is %v; lower -lr", width, step, l)
		}
		for _, m := range metrics {
			m.FinalizeAll()
		}
	}
	trainLoss, trainPred, err := measure(noisy)
	if err != nil {
		return pt, err
	}
	testLoss, testPred, err := measure(test)
	if err != nil {
		return pt, err
	}
	pt.TrainLoss, pt.TrainErr = mean(trainLoss), errorRate(trainPred, noisy.Y)
	pt.TestLoss, pt.TestErr = mean(testLoss), errorRate(testPred, test.Y)
	pt.CleanTrain = errorRate(trainPred, clean.Y)
	var fit, n float64
	for i, y := range noisy.Y {
		if isNoisy[i] {
			n++
			if trainPred[i] == y {
				fit++
			}
		}
	}
	if n > 0 {
		pt.NoisyFit = fit / n
	}
	pt.Seconds = time.Since(start).Seconds()
	return pt, nil
}

// errorRate is the fraction of predictions that differ from the labels.
func errorRate(pred, labels []int32) float64 {
	wrong := 0
	for i, y := range labels {
		if pred[i] != y {
			wrong++
		}
	}
	return float64(wrong) / float64(max(1, len(labels)))
}

func mean(xs []float32) float64 {
	var s float64
	for _, x := range xs {
		s += float64(x)
	}
	return s / float64(max(1, len(xs)))
}

// Sweep trains every width for every seed (each seed its own split and noise) and returns the
// points in order of seed, then width. Progress goes to log, a line per point.
func Sweep(b backends.Backend, p Params, log io.Writer) ([]Point, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var pts []Point
	for _, seed := range p.Seeds {
		train, test, err := Split(p.Task, p.Train, p.Test, seed)
		if err != nil {
			return pts, err
		}
		noisy, isNoisy, err := AddLabelNoise(train, p.Noise, p.Task.Classes(), seed)
		if err != nil {
			return pts, err
		}
		for _, w := range p.Widths {
			pt, err := TrainPoint(b, p, w, seed, train, noisy, test, isNoisy)
			if err != nil {
				return pts, err
			}
			fmt.Fprintf(log, "seed %d width %3d: %6d params | train err %.3f loss %.3f (noisy labels fit %.2f) | test err %.3f loss %.3f | %.0f s\n",
				seed, w, pt.Params, pt.TrainErr, pt.TrainLoss, pt.NoisyFit, pt.TestErr, pt.TestLoss, pt.Seconds)
			pts = append(pts, pt)
		}
	}
	return pts, nil
}

// Mean averages the points of each width over seeds, in order of width as first seen.
func Mean(pts []Point) []Point {
	var widths []int
	sums := map[int]*Point{}
	counts := map[int]float64{}
	for _, pt := range pts {
		s, ok := sums[pt.Width]
		if !ok {
			widths = append(widths, pt.Width)
			s = &Point{Width: pt.Width, Params: pt.Params}
			sums[pt.Width] = s
		}
		counts[pt.Width]++
		s.TrainErr += pt.TrainErr
		s.TestErr += pt.TestErr
		s.TrainLoss += pt.TrainLoss
		s.TestLoss += pt.TestLoss
		s.NoisyFit += pt.NoisyFit
		s.CleanTrain += pt.CleanTrain
		s.Seconds += pt.Seconds
	}
	out := make([]Point, 0, len(widths))
	for _, w := range widths {
		s, n := *sums[w], counts[w]
		s.TrainErr, s.TestErr, s.TrainLoss, s.TestLoss = s.TrainErr/n, s.TestErr/n, s.TrainLoss/n, s.TestLoss/n
		s.NoisyFit, s.CleanTrain = s.NoisyFit/n, s.CleanTrain/n
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b Point) int { return a.Params - b.Params })
	return out
}

// InterpolationTol is the training error under which a model counts as interpolating its
// (noisy) training set.
const InterpolationTol = 0.01

// Verdict is what a curve shows.
type Verdict struct {
	Threshold  int // index (in the mean curve) of the smallest model with train error <= InterpolationTol; -1 if none
	Peak       int // index of the peak: the model between the smallest and the largest whose test error rises most over both sides (below)
	BestBefore int // index of the lowest test error among models smaller than the peak
	Largest    int // index of the largest model
	// Test error at the peak minus the best smaller model's, and minus the largest model's.
	RiseOverBefore, RiseOverLast float64
}

// Shows reports whether the curve is a double descent by the measure: the peak at least
// 3 percentage points above both the best smaller model and the largest model.
func (v Verdict) Shows() bool {
	return v.Peak > 0 && v.Peak < v.Largest && v.RiseOverBefore >= 0.03 && v.RiseOverLast >= 0.03
}

// Judge reads the mean curve (sorted by parameters). The peak is the model i, neither the smallest
// nor the largest, that maximises min(err[i] - min_{j<i} err[j], err[i] - err[largest]): the
// second rise that stands out most from both the first descent and the second. (The global maximum
// of test error is usually the smallest, underfitting model.) With fewer than 3 models there is no peak.
func Judge(curve []Point) Verdict {
	v := Verdict{Threshold: -1, Largest: len(curve) - 1}
	for i, pt := range curve {
		if v.Threshold < 0 && pt.TrainErr <= InterpolationTol {
			v.Threshold = i
		}
	}
	best, bestScore := 0, math.Inf(-1)
	for i := 1; i < v.Largest; i++ {
		if curve[i-1].TestErr < curve[best].TestErr {
			best = i - 1
		}
		before, last := curve[i].TestErr-curve[best].TestErr, curve[i].TestErr-curve[v.Largest].TestErr
		if score := min(before, last); score > bestScore {
			bestScore = score
			v.Peak, v.BestBefore, v.RiseOverBefore, v.RiseOverLast = i, best, before, last
		}
	}
	return v
}

// Summary is the verdict in words.
func (v Verdict) Summary(curve []Point) string {
	var s string
	if v.Threshold >= 0 {
		s = fmt.Sprintf("interpolation threshold: width %d (%d params, train err %.3f)", curve[v.Threshold].Width,
			curve[v.Threshold].Params, curve[v.Threshold].TrainErr)
	} else {
		s = "no model reached train error <= 0.01 (no interpolation threshold in the sweep)"
	}
	if v.Peak == 0 {
		return "no double descent: fewer than 3 models; " + s
	}
	pk := curve[v.Peak]
	s += fmt.Sprintf("; test error peaks at width %d (%d params): %.1f%%, %+.1f points over the best smaller model (width %d, %.1f%%)",
		pk.Width, pk.Params, 100*pk.TestErr, 100*v.RiseOverBefore, curve[v.BestBefore].Width, 100*curve[v.BestBefore].TestErr)
	s += fmt.Sprintf(", %+.1f points over the largest (width %d, %.1f%%)", 100*v.RiseOverLast,
		curve[v.Largest].Width, 100*curve[v.Largest].TestErr)
	if v.Shows() {
		return "double descent: " + s
	}
	return "no double descent by the 3-point measure: " + s
}
