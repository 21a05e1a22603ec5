package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/train"
)

// Source is a sequence of token ids that windows are cut from: [Tokens] in memory, or a [Shard]
// mapped from disk.
type Source interface {
	// Len is the number of tokens.
	Len() int
	// Read copies tokens [start, start+len(dst)) into dst; the range must lie in [0, Len()).
	Read(dst []int32, start int)
}

// Tokens is a token sequence in memory, as a [Source].
type Tokens []Token

// Len is the number of tokens.
func (t Tokens) Len() int { return len(t) }

// Read copies t[start:start+len(dst)] into dst.
func (t Tokens) Read(dst []int32, start int) {
	for i, x := range t[start : start+len(dst)] {
		dst[i] = int32(x)
	}
}

// Windows yields seeded random windows of token sequences as training batches, and implements
// GoMLX's train.Dataset: each Yield returns inputs {tokens Int32 [batch, seq]} and labels
// {targets Int32 [batch, seq]}, the same windows shifted by one token. Over several sources (the
// shards of a corpus) a window lies within one source, and every window of every source is equally
// likely: a window is the k-th of all of them, k uniform. It never ends (Reset does nothing): train
// for a number of steps. Its random state can be saved and restored ([Windows.State],
// [Windows.SetState]) so a resumed run sees the same batches as an uninterrupted one.
type Windows struct {
	sources    []Source
	ends       []int // ends[i]: the windows in sources[:i+1]; a source of n tokens has n-seq
	batch, seq int
	pcg        *rand.PCG
	rng        *rand.Rand
}

var _ train.Dataset = (*Windows)(nil)

// NewWindows returns batches of batch windows of seq tokens from tokens, seeded with seed. Windows
// start uniformly at random in [0, len-seq-1]. It fails when tokens hold fewer than seq+1 tokens or
// sizes are not positive.
func NewWindows(tokens []Token, batch, seq int, seed uint64) (*Windows, error) {
	return NewWindowsFrom([]Source{Tokens(tokens)}, batch, seq, seed)
}

// NewWindowsFrom is [NewWindows] over several sources; a source shorter than seq+1 tokens gives no
// window. It fails when no source holds a window or sizes are not positive. Over one source it
// draws exactly the windows of NewWindows.
func NewWindowsFrom(sources []Source, batch, seq int, seed uint64) (*Windows, error) {
	if batch < 1 || seq < 1 {
		return nil, fmt.Errorf("batch (%d) and sequence length (%d) must be positive", batch, seq)
	}
	if batch > math.MaxInt32/seq {
		return nil, fmt.Errorf("batch (%d) x sequence length (%d) is more than 2^31-1 tokens per step", batch, seq)
	}
	w := &Windows{batch: batch, seq: seq}
	total, longest := 0, 0
	for _, s := range sources {
		longest = max(longest, s.Len())
		if n := s.Len() - seq; n > 0 {
			w.sources = append(w.sources, s)
			total += n
			w.ends = append(w.ends, total)
		}
	}
	if total == 0 {
		if len(sources) > 1 {
			return nil, fmt.Errorf("the longest of %d sources holds %d tokens, fewer than one window of %d+1", len(sources), longest, seq)
		}
		return nil, fmt.Errorf("%d tokens are fewer than one window of %d+1", longest, seq)
	}
	w.pcg = rand.NewPCG(seed, 0x6269747465720a) // second word: "bitter\n"
	w.rng = rand.New(w.pcg)
	return w, nil
}

// Name implements train.Dataset.
func (w *Windows) Name() string { return fmt.Sprintf("windows[%dx%d]", w.batch, w.seq) }

// Reset implements train.Dataset; the stream is endless, so it does nothing.
func (w *Windows) Reset() {}

// Next returns the next batch as Go slices: inputs and targets, each [batch][seq].
func (w *Windows) Next() (inputs, targets [][]int32) {
	inputs, targets = make([][]int32, w.batch), make([][]int32, w.batch)
	buf := make([]int32, w.seq+1)
	total := w.ends[len(w.ends)-1]
	for b := range w.batch {
		k := w.rng.IntN(total)
		i := sort.SearchInts(w.ends, k+1) // the first source whose windows reach past k
		start := k
		if i > 0 {
			start -= w.ends[i-1]
		}
		w.sources[i].Read(buf, start)
		inputs[b] = append([]int32(nil), buf[:w.seq]...)
		targets[b] = append([]int32(nil), buf[1:]...)
	}
	return inputs, targets
}

// Yield implements train.Dataset.
func (w *Windows) Yield() (spec any, inputs, labels []*tensors.Tensor, err error) {
	x, y := w.Next()
	return nil, []*tensors.Tensor{tensors.FromValue(x)}, []*tensors.Tensor{tensors.FromValue(y)}, nil
}

// State returns the random state, to store in a checkpoint.
func (w *Windows) State() ([]byte, error) { return w.pcg.MarshalBinary() }

// SetState restores a state returned by State.
func (w *Windows) SetState(state []byte) error {
	if err := w.pcg.UnmarshalBinary(state); err != nil {
		return fmt.Errorf("data: restoring the batch RNG: %w", err)
	}
	return nil
}

// EvalWindows cuts tokens into consecutive non-overlapping windows of seq inputs, each with its
// targets one token later, covering every token that has a next token: the last window is shorter
// when (len-1) is not a multiple of seq. It returns no windows for fewer than 2 tokens, or for a
// seq below 1.
func EvalWindows(tokens []Token, seq int) (inputs, targets [][]int32) {
	for _, s := range EvalSpans([]Source{Tokens(tokens)}, seq, 0) {
		x, y := s.Read()
		inputs, targets = append(inputs, x), append(targets, y)
	}
	return inputs, targets
}

// Span is one evaluation window: Len inputs from Start in Source, and the targets one token later.
type Span struct {
	Source     Source
	Start, Len int
}

// Read returns the span's inputs and targets.
func (s Span) Read() (inputs, targets []int32) {
	buf := make([]int32, s.Len+1)
	s.Source.Read(buf, s.Start)
	return buf[:s.Len], buf[1:]
}

// Targets is the number of targets spans score: the sum of their lengths.
func Targets(spans []Span) int {
	n := 0
	for _, s := range spans {
		n += s.Len
	}
	return n
}

// EvalSpans lays [EvalWindows]' windows over each source in turn (no window spans two), without
// reading a token: validation read sequentially, however large. With limit > 0 it stops once limit
// targets are covered, cutting the last window short. It returns nothing for a seq below 1.
func EvalSpans(sources []Source, seq, limit int) []Span {
	if seq < 1 {
		return nil
	}
	var spans []Span
	covered := 0
	for _, src := range sources {
		n := src.Len()
		for start := 0; start < n-1; {
			end := start + min(seq, n-1-start) // no overflow for any seq
			if limit > 0 && covered+end-start >= limit {
				end = start + limit - covered
				return append(spans, Span{src, start, end - start})
			}
			spans = append(spans, Span{src, start, end - start})
			covered += end - start
			start = end
		}
	}
	return spans
}
