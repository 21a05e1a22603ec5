package data

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/train"
)

// Windows yields seeded random windows of a token sequence as training batches, and implements
// GoMLX's train.Dataset: each Yield returns inputs {tokens Int32 [batch, seq]} and labels
// {targets Int32 [batch, seq]}, the same windows shifted by one token. Windows start uniformly at
// random in [0, len-seq-1]. It never ends (Reset does nothing): train for a number of steps.
// Its random state can be saved and restored ([Windows.State], [Windows.SetState]) so a resumed run
// sees the same batches as an uninterrupted one.
type Windows struct {
	tokens     []Token
	batch, seq int
	pcg        *rand.PCG
	rng        *rand.Rand
}

var _ train.Dataset = (*Windows)(nil)

// NewWindows returns batches of batch windows of seq tokens from tokens, seeded with seed.
// It fails when tokens hold fewer than seq+1 tokens or sizes are not positive.
func NewWindows(tokens []Token, batch, seq int, seed uint64) (*Windows, error) {
	if batch < 1 || seq < 1 {
		return nil, fmt.Errorf("batch (%d) and sequence length (%d) must be positive", batch, seq)
	}
	if batch > math.MaxInt32/seq {
		return nil, fmt.Errorf("batch (%d) x sequence length (%d) is more than 2^31-1 tokens per step", batch, seq)
	}
	if len(tokens) < seq+1 {
		return nil, fmt.Errorf("%d tokens are fewer than one window of %d+1", len(tokens), seq)
	}
	pcg := rand.NewPCG(seed, 0x6269747465720a) // second word: "bitter\n"
	return &Windows{tokens: tokens, batch: batch, seq: seq, pcg: pcg, rng: rand.New(pcg)}, nil
}

// Name implements train.Dataset.
func (w *Windows) Name() string { return fmt.Sprintf("windows[%dx%d]", w.batch, w.seq) }

// Reset implements train.Dataset; the stream is endless, so it does nothing.
func (w *Windows) Reset() {}

// Next returns the next batch as Go slices: inputs and targets, each [batch][seq].
func (w *Windows) Next() (inputs, targets [][]int32) {
	inputs, targets = make([][]int32, w.batch), make([][]int32, w.batch)
	for b := range w.batch {
		start := w.rng.IntN(len(w.tokens) - w.seq)
		inputs[b] = toInt32(w.tokens[start : start+w.seq])
		targets[b] = toInt32(w.tokens[start+1 : start+w.seq+1])
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
	if seq < 1 {
		return nil, nil
	}
	for start := 0; start < len(tokens)-1; {
		end := start + min(seq, len(tokens)-1-start) // no overflow for any seq
		inputs = append(inputs, toInt32(tokens[start:end]))
		targets = append(targets, toInt32(tokens[start+1:end+1]))
		start = end
	}
	return inputs, targets
}

func toInt32(t []Token) []int32 {
	out := make([]int32, len(t))
	for i, x := range t {
		out[i] = int32(x)
	}
	return out
}
