package trainer

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/rnn"
)

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
	exec    *context.Exec
	chunked *rnn.ChunkedTrainer // when set, evaluates chunk by chunk instead of exec
	spans   []data.Span
	batch   int
}

func newEvaluator(b backends.Backend, ctx *context.Context, model lm.Model, spans []data.Span, batch int) *evaluator {
	exec := context.MustNewExec(b, ctx.Reuse(), func(ctx *context.Context, tokens, targets *graph.Node) *graph.Node {
		return graph.ReduceAllSum(lm.TokenLosses(model.Logits(ctx, tokens), targets))
	})
	return &evaluator{exec: exec, spans: spans, batch: batch}
}

func (e *evaluator) loss() (mean float64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	var sum float64
	var count int
	for i := 0; i < len(e.spans); {
		// Windows of one length in batches (a short window, the last of a split, alone), read as
		// they are scored.
		j := i + 1
		for j < len(e.spans) && j-i < e.batch && e.spans[j].Len == e.spans[i].Len {
			j++
		}
		inputs, targets := make([][]int32, j-i), make([][]int32, j-i)
		for k := i; k < j; k++ {
			inputs[k-i], targets[k-i] = e.spans[k].Read()
		}
		n := (j - i) * e.spans[i].Len
		if e.chunked != nil {
			mean, err := e.chunked.Loss(inputs, targets)
			if err != nil {
				return 0, err
			}
			sum += mean * float64(n)
		} else {
			outs, err := e.exec.Exec(inputs, targets)
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
