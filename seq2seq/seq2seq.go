// Package seq2seq is what encoder-decoder models share: the [Model] interface that
// transformer.EncoderDecoder and rnn.Seq2Seq implement, padded batches of sentence pairs with their
// checks ([NewBatch]), the loss over target tokens with padding ignored ([Loss]), and decoding,
// greedy and beam search with a length penalty ([Decoder]).
//
// Conventions. A source sentence is a list of token ids, 1 to MaxSourceLen of them; a target is 0 to
// MaxTargetLen-1 ids. The decoder reads the target shifted right behind a begin-of-sentence id,
// BOS y1 … yn, and is trained to predict y1 … yn EOS: MaxTargetLen counts those n+1 positions.
// BOS, EOS and padding are ids of the models' vocabularies, chosen by the caller ([Special]).
package seq2seq

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/lm"
)

// Model is an encoder-decoder model on GoMLX graphs; a config stands for its model and its variables
// live in the context the methods are given. In all methods source is Int32 `[batch, srcLen]`
// padded after each sentence's sourceLengths Int32 `[batch]` real tokens (at least 1 each); padding
// positions do not change any result.
type Model interface {
	// Logits is the teacher-forced forward pass: with targetIn Int32 `[batch, tgtLen]` (BOS and the
	// target shifted right) it returns the next-token logits `[batch, tgtLen, targetVocab]`, each
	// position seeing the whole source and the targetIn tokens up to itself. Dropout applies while
	// ctx is training.
	Logits(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) *graph.Node
	// Encode reads the source and returns the decoder's state before its first step: tensors whose
	// first axis is the batch, so that beam search can reorder them row by row.
	Encode(ctx *context.Context, source, sourceLengths *graph.Node) []*graph.Node
	// Step is one decoding step: the previous target token Int32 `[batch]` (BOS first) at target
	// position Int32 scalar position (0 first) and the state give the logits `[batch, targetVocab]`
	// of the token at that position and the next state. Step gives the values Logits gives at that
	// position.
	Step(ctx *context.Context, state []*graph.Node, tokens, position *graph.Node) (logits *graph.Node, next []*graph.Node)
	// Alignment is the attention from each target position to the source `[batch, tgtLen, srcLen]`
	// (rows sum to 1 over the real source tokens) for targetIn, as Logits computes it: the additive
	// weights of an RNN decoder, a Transformer's last cross-attention layer averaged over its heads.
	Alignment(ctx *context.Context, source, sourceLengths, targetIn *graph.Node) *graph.Node
	// Vocabs returns the source and target vocabulary sizes.
	Vocabs() (source, target int)
	// MaxLens returns the longest source (MaxSourceLen) and target sequence (MaxTargetLen) the
	// model takes.
	MaxLens() (source, target int)
	// NumParams counts the model's parameters.
	NumParams() int
	// TrainingFLOPs estimates the FLOPs of training (forward and backward) on one pair of srcLen
	// source and tgtLen target positions.
	TrainingFLOPs(srcLen, tgtLen int) float64
}

// Special are the ids of the special tokens in the target vocabulary: BOS begins the decoder's input,
// EOS ends a target; Pad fills sources and decoder inputs after their ends (any id of the
// vocabularies: padding positions are masked).
type Special struct{ BOS, EOS, Pad int32 }

// Pair is one training or test example: a source sentence and its target.
type Pair struct{ Source, Target []int32 }

// Batch is a padded batch of pairs, the inputs of [Model.Logits] and [Loss].
type Batch struct {
	Source        [][]int32 // [batch, srcLen], padded with Special.Pad
	SourceLengths []int32   // [batch]
	TargetIn      [][]int32 // [batch, tgtLen]: BOS y1 … yn, padded with Special.Pad
	TargetOut     [][]int32 // [batch, tgtLen]: y1 … yn EOS, padded with -1 (no loss)
	// Tokens counts the real positions: source tokens plus target tokens with EOS.
	Tokens int
}

// Limits are what a batch must fit: the models' vocabularies and longest sequences (a [Model]'s
// Vocabs and MaxLens).
type Limits struct {
	SourceVocab, TargetVocab   int
	MaxSourceLen, MaxTargetLen int
}

// LimitsOf returns m's limits.
func LimitsOf(m Model) Limits {
	var l Limits
	l.SourceVocab, l.TargetVocab = m.Vocabs()
	l.MaxSourceLen, l.MaxTargetLen = m.MaxLens()
	return l
}

// CheckSpecial returns an error unless BOS, EOS and padding are ids of the target vocabulary and
// padding also of the source's.
func (l Limits) CheckSpecial(sp Special) error {
	if sp.BOS < 0 || int(sp.BOS) >= l.TargetVocab || sp.EOS < 0 || int(sp.EOS) >= l.TargetVocab ||
		sp.Pad < 0 || int(sp.Pad) >= l.TargetVocab || int(sp.Pad) >= l.SourceVocab {
		return fmt.Errorf("seq2seq: special ids %+v must be in the target vocabulary of %d (padding also in the source's %d)",
			sp, l.TargetVocab, l.SourceVocab)
	}
	return nil
}

// CheckSource returns an error when src does not fit: empty, longer than MaxSourceLen, or holding an
// id outside the source vocabulary.
func (l Limits) CheckSource(src []int32) error {
	if len(src) == 0 {
		return errors.New("empty source sentence")
	}
	if len(src) > l.MaxSourceLen {
		return fmt.Errorf("source of %d tokens is longer than the model's MaxSourceLen %d", len(src), l.MaxSourceLen)
	}
	if err := lm.CheckTokens(src, l.SourceVocab); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	return nil
}

// NewBatch pads pairs into a batch, padding every row to the longest source and target of the
// batch (with srcLen, tgtLen > 0: to those lengths, for graphs of one shape). It returns an error
// for an empty batch, a source that is empty or longer than MaxSourceLen, a target whose n+1
// positions exceed MaxTargetLen, an id outside a vocabulary (special ids included), or a pair longer
// than srcLen or tgtLen.
func NewBatch(pairs []Pair, sp Special, lim Limits, srcLen, tgtLen int) (Batch, error) {
	if len(pairs) == 0 {
		return Batch{}, errors.New("seq2seq: empty batch")
	}
	if err := lim.CheckSpecial(sp); err != nil {
		return Batch{}, err
	}
	longestSrc, longestTgt := 0, 0
	for i, p := range pairs {
		if err := lim.CheckSource(p.Source); err != nil {
			return Batch{}, fmt.Errorf("seq2seq: pair %d: %w", i, err)
		}
		if len(p.Target)+1 > lim.MaxTargetLen {
			return Batch{}, fmt.Errorf("seq2seq: pair %d: target of %d tokens and EOS is longer than the model's MaxTargetLen %d",
				i, len(p.Target), lim.MaxTargetLen)
		}
		if err := lm.CheckTokens(p.Target, lim.TargetVocab); err != nil {
			return Batch{}, fmt.Errorf("seq2seq: pair %d: target: %w", i, err)
		}
		longestSrc, longestTgt = max(longestSrc, len(p.Source)), max(longestTgt, len(p.Target)+1)
	}
	if srcLen <= 0 {
		srcLen = longestSrc
	} else if longestSrc > srcLen {
		return Batch{}, fmt.Errorf("seq2seq: a source of %d tokens does not fit the batch's %d", longestSrc, srcLen)
	}
	if tgtLen <= 0 {
		tgtLen = longestTgt
	} else if longestTgt > tgtLen {
		return Batch{}, fmt.Errorf("seq2seq: a target of %d positions does not fit the batch's %d", longestTgt, tgtLen)
	}
	b := Batch{Source: make([][]int32, len(pairs)), SourceLengths: make([]int32, len(pairs)),
		TargetIn: make([][]int32, len(pairs)), TargetOut: make([][]int32, len(pairs))}
	for i, p := range pairs {
		b.Source[i] = pad(p.Source, srcLen, sp.Pad)
		b.SourceLengths[i] = int32(len(p.Source))
		b.TargetIn[i] = pad(append([]int32{sp.BOS}, p.Target...), tgtLen, sp.Pad)
		b.TargetOut[i] = pad(append(append([]int32(nil), p.Target...), sp.EOS), tgtLen, -1)
		b.Tokens += len(p.Source) + len(p.Target) + 1
	}
	return b, nil
}

func pad(ids []int32, n int, fill int32) []int32 {
	out := make([]int32, n)
	copy(out, ids)
	for i := len(ids); i < n; i++ {
		out[i] = fill
	}
	return out
}

// Loss is the mean cross-entropy in nats over the real target positions: logits
// `[batch, tgtLen, vocab]` against targetOut Int32 `[batch, tgtLen]`, whose padding (-1, or any id
// outside the vocabulary) counts for nothing, neither in the sum nor in the count.
func Loss(logits, targetOut *graph.Node) *graph.Node {
	losses := lm.TokenLosses(logits, targetOut) // 0 where the target is padding
	g := logits.Graph()
	t := graph.ConvertDType(targetOut, dtypes.Int32)
	vocab := logits.Shape().Dimensions[2]
	real := graph.LogicalAnd(graph.GreaterOrEqual(t, graph.ScalarZero(g, dtypes.Int32)), graph.LessThan(t, graph.Scalar(g, dtypes.Int32, vocab)))
	count := graph.ReduceAllSum(graph.ConvertDType(real, losses.DType()))
	return graph.Div(graph.ReduceAllSum(losses), graph.Max(count, graph.OnesLike(count)))
}

// CheckShapes panics, naming model, unless source is integer `[batch, srcLen]` with srcLen at most
// MaxSourceLen, sourceLengths integer `[batch]` and targetIn (when not nil) integer `[batch, tgtLen]`
// with tgtLen at most MaxTargetLen: the shape checks of a [Model]'s graph methods.
func CheckShapes(model string, lim Limits, source, sourceLengths, targetIn *graph.Node) {
	if source.Rank() != 2 || !source.DType().IsInt() || sourceLengths.Rank() != 1 || !sourceLengths.DType().IsInt() ||
		sourceLengths.Shape().Dimensions[0] != source.Shape().Dimensions[0] {
		panic(fmt.Sprintf("%s: source must be integer [batch, srcLen] and sourceLengths integer [batch], got %s and %s",
			model, source.Shape(), sourceLengths.Shape()))
	}
	if n := source.Shape().Dimensions[1]; n > lim.MaxSourceLen {
		panic(fmt.Sprintf("%s: source length %d exceeds MaxSourceLen %d", model, n, lim.MaxSourceLen))
	}
	if targetIn == nil {
		return
	}
	if targetIn.Rank() != 2 || !targetIn.DType().IsInt() || targetIn.Shape().Dimensions[0] != source.Shape().Dimensions[0] {
		panic(fmt.Sprintf("%s: targetIn must be integer [batch=%d, tgtLen], got %s", model, source.Shape().Dimensions[0], targetIn.Shape()))
	}
	if n := targetIn.Shape().Dimensions[1]; n > lim.MaxTargetLen {
		panic(fmt.Sprintf("%s: target length %d exceeds MaxTargetLen %d", model, n, lim.MaxTargetLen))
	}
}

// SourceMask returns the mask `[batch, srcLen]` (true at a real token) of a padded source of
// sourceLengths Int32 `[batch]` tokens.
func SourceMask(sourceLengths *graph.Node, srcLen int) *graph.Node {
	batch := sourceLengths.Shape().Dimensions[0]
	pos := graph.Iota(sourceLengths.Graph(), shapesInt32(batch, srcLen), 1)
	return graph.LessThan(pos, graph.BroadcastToDims(graph.InsertAxes(graph.ConvertDType(sourceLengths, dtypes.Int32), -1), batch, srcLen))
}

func shapesInt32(dims ...int) shapes.Shape { return shapes.Make(dtypes.Int32, dims...) }
