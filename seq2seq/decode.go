package seq2seq

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Decoder translates with a trained [Model]: greedy decoding and beam search, on graphs compiled once
// per batch shape. Not safe for concurrent use.
type Decoder struct {
	model Model
	sp    Special
	lim   Limits
	// encode: source, lengths -> state. step: parents, tokens, position, state... -> log-probs, state...
	encode, step, align *context.Exec
}

// NewDecoder returns a decoder for the model whose trained variables are in ctx.
func NewDecoder(b backends.Backend, ctx *context.Context, m Model, sp Special) (*Decoder, error) {
	lim := LimitsOf(m)
	if err := lim.CheckSpecial(sp); err != nil {
		return nil, err
	}
	d := &Decoder{model: m, sp: sp, lim: lim}
	var err error
	ctx = ctx.Reuse()
	if d.encode, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return m.Encode(ctx, in[0], in[1])
	}); err != nil {
		return nil, err
	}
	if d.step, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		parents := graph.InsertAxes(in[0], -1)
		state := make([]*graph.Node, len(in)-3)
		for i, s := range in[3:] {
			state[i] = graph.Gather(s, parents) // beam search's reordering: row r takes row parents[r]
		}
		logits, next := m.Step(ctx, state, in[1], in[2])
		if logits.DType() != dtypes.Float64 {
			logits = graph.ConvertDType(logits, dtypes.Float32)
		}
		logp := graph.LogSoftmax(logits, -1)
		return append([]*graph.Node{logp}, next...)
	}); err != nil {
		return nil, err
	}
	if d.align, err = context.NewExec(b, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return []*graph.Node{m.Alignment(ctx, in[0], in[1], in[2])}
	}); err != nil {
		return nil, err
	}
	// A graph per batch shape (rows, and source width in multiples of 8): more than GoMLX's default
	// of 32 for a caller who decodes batches of many sizes.
	for _, e := range []*context.Exec{d.encode, d.step, d.align} {
		e.SetMaxCache(256)
	}
	return d, nil
}

// run calls fn, turning a panic of graph building or execution into an error.
func run(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("seq2seq: %v", r)
		}
	}()
	return fn()
}

// start checks the sources, encodes them padded together, and returns the state.
func (d *Decoder) start(sources [][]int32) ([]*tensors.Tensor, error) {
	if len(sources) == 0 {
		return nil, errors.New("seq2seq: empty batch")
	}
	longest := 0
	for i, s := range sources {
		if err := d.lim.CheckSource(s); err != nil {
			return nil, fmt.Errorf("seq2seq: sentence %d: %w", i, err)
		}
		longest = max(longest, len(s))
	}
	// Padded to a multiple of 8 positions: a few graph shapes serve every length.
	width := min((longest+7)/8*8, d.lim.MaxSourceLen)
	src, lengths := make([][]int32, len(sources)), make([]int32, len(sources))
	for i, s := range sources {
		src[i], lengths[i] = pad(s, width, d.sp.Pad), int32(len(s))
	}
	return d.encode.Exec(src, lengths)
}

// next runs one step: rows take the state of rows parents, read tokens at position; it returns the
// log-probabilities [rows][vocab] and the new state.
func (d *Decoder) next(state []*tensors.Tensor, parents, tokens []int32, position int) ([][]float64, []*tensors.Tensor, error) {
	in := []any{parents, tokens, int32(position)}
	for _, s := range state {
		in = append(in, s)
	}
	outs, err := d.step.Exec(in...)
	if err != nil {
		return nil, nil, err
	}
	for _, s := range state {
		s.FinalizeAll()
	}
	var logp [][]float64
	switch v := outs[0].Value().(type) {
	case [][]float32:
		logp = make([][]float64, len(v))
		for i, row := range v {
			logp[i] = make([]float64, len(row))
			for j, x := range row {
				logp[i][j] = float64(x)
			}
		}
	case [][]float64:
		logp = v
	default:
		return nil, nil, fmt.Errorf("seq2seq: step returned %s", outs[0].Shape())
	}
	outs[0].FinalizeAll()
	return logp, outs[1:], nil
}

// maxSteps resolves maxLen (positions, EOS included; 0 = MaxTargetLen).
func (d *Decoder) maxSteps(maxLen int) (int, error) {
	if maxLen == 0 {
		return d.lim.MaxTargetLen, nil
	}
	if maxLen < 1 || maxLen > d.lim.MaxTargetLen {
		return 0, fmt.Errorf("seq2seq: maxLen %d is outside 1..MaxTargetLen=%d", maxLen, d.lim.MaxTargetLen)
	}
	return maxLen, nil
}

// Greedy translates each source by taking the most likely token at each step (the lowest id among
// equals) until EOS or maxLen positions (0 = MaxTargetLen). The outputs exclude EOS.
func (d *Decoder) Greedy(sources [][]int32, maxLen int) (out [][]int32, err error) {
	steps, err := d.maxSteps(maxLen)
	if err != nil {
		return nil, err
	}
	err = run(func() error {
		state, err := d.start(sources)
		if err != nil {
			return err
		}
		n := len(sources)
		out = make([][]int32, n)
		done := make([]bool, n)
		parents, tokens := make([]int32, n), make([]int32, n)
		for i := range n {
			parents[i], tokens[i] = int32(i), d.sp.BOS
		}
		for pos := range steps {
			var logp [][]float64
			if logp, state, err = d.next(state, parents, tokens, pos); err != nil {
				return err
			}
			finished := true
			for i, row := range logp {
				if done[i] {
					continue
				}
				tokens[i] = int32(argmax(row))
				if tokens[i] == d.sp.EOS {
					done[i] = true
				} else {
					out[i] = append(out[i], tokens[i])
					finished = false
				}
			}
			if finished {
				break
			}
		}
		for _, s := range state {
			s.FinalizeAll()
		}
		return nil
	})
	return out, err
}

func argmax(row []float64) int {
	best := 0
	for j, x := range row {
		if x > row[best] {
			best = j
		}
	}
	return best
}

// LengthPenalty is Wu et al. (2016)'s ((5 + n) / 6)^alpha for a hypothesis of n positions, EOS
// included: beam search ranks finished hypotheses by log-probability over it (alpha 0.6 in Vaswani et al. 2017;
// 0 ranks by log-probability alone).
func LengthPenalty(n int, alpha float64) float64 { return math.Pow((5+float64(n))/6, alpha) }

// hypothesis is a beam entry: its tokens (no BOS, no EOS) and log-probability.
type hypothesis struct {
	tokens []int32
	logp   float64
}

// Beam translates each source by beam search with beam hypotheses per sentence: each step extends
// every live hypothesis by every token and keeps the best 2·beam candidates by log-probability;
// among them, a candidate ending in EOS and ranked within the first beam is finished, and the best
// beam others live on. A sentence is done when beam hypotheses have finished or after maxLen
// positions (0 = MaxTargetLen), when the live ones are finished as they are. The output is the
// finished hypothesis of the highest log-probability / [LengthPenalty](positions, alpha), EOS
// excluded. With beam 1 it is [Decoder.Greedy].
func (d *Decoder) Beam(sources [][]int32, beam int, alpha float64, maxLen int) (out [][]int32, err error) {
	if beam < 1 {
		return nil, fmt.Errorf("seq2seq: beam %d must be at least 1", beam)
	}
	if !(alpha >= 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("seq2seq: length penalty alpha %g must be a finite number, not negative", alpha)
	}
	steps, err := d.maxSteps(maxLen)
	if err != nil {
		return nil, err
	}
	err = run(func() error {
		state, err := d.start(sources)
		if err != nil {
			return err
		}
		n, k := len(sources), beam
		live := make([][]hypothesis, n) // each sentence's live hypotheses, in rows s·k ... s·k+len-1
		finished := make([][]hypothesis, n)
		parents, tokens := make([]int32, n*k), make([]int32, n*k)
		for s := range n {
			live[s] = []hypothesis{{}}
			for j := range k {
				parents[s*k+j], tokens[s*k+j] = int32(s), d.sp.BOS // every row reads sentence s's encoding
			}
		}
		type candidate struct {
			beam  int
			token int32
			logp  float64
		}
		for pos := range steps {
			var logp [][]float64
			if logp, state, err = d.next(state, parents, tokens, pos); err != nil {
				return err
			}
			active := false
			for s := range n {
				if len(live[s]) == 0 {
					continue
				}
				var cands []candidate
				for j, h := range live[s] {
					for v, lp := range logp[s*k+j] {
						cands = append(cands, candidate{j, int32(v), h.logp + lp})
					}
				}
				slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(b.logp, a.logp) })
				var next []hypothesis
				for r, c := range cands[:min(2*k, len(cands))] {
					prev := live[s][c.beam].tokens
					if c.token == d.sp.EOS {
						if r < k {
							finished[s] = append(finished[s], hypothesis{prev, c.logp})
						}
						continue
					}
					if len(next) < k {
						parents[s*k+len(next)], tokens[s*k+len(next)] = int32(s*k+c.beam), c.token
						next = append(next, hypothesis{append(slices.Clone(prev), c.token), c.logp})
					}
				}
				if len(finished[s]) >= k || pos == steps-1 {
					if len(finished[s]) < k {
						finished[s] = append(finished[s], next...)
					}
					next = nil
				}
				live[s] = next
				for j := len(next); j < k; j++ { // rows without a hypothesis run on a copy of row s·k
					parents[s*k+j], tokens[s*k+j] = int32(s*k), d.sp.EOS
				}
				active = active || len(next) > 0
			}
			if !active {
				break
			}
		}
		for _, s := range state {
			s.FinalizeAll()
		}
		out = make([][]int32, n)
		for s, hs := range finished {
			best, bestScore := -1, math.Inf(-1)
			for i, h := range hs {
				positions := len(h.tokens) + 1
				if len(h.tokens) == steps { // ended by maxLen, not by EOS
					positions--
				}
				if score := h.logp / LengthPenalty(positions, alpha); best < 0 || score > bestScore {
					best, bestScore = i, score
				}
			}
			out[s] = hs[best].tokens
		}
		return nil
	})
	return out, err
}

// Alignment returns the model's attention from each position of target's decoder input (BOS and
// target) to each source token, `[len(target)+1][len(source)]` (see [Model.Alignment]).
func (d *Decoder) Alignment(source, target []int32) (out [][]float64, err error) {
	b, err := NewBatch([]Pair{{source, target}}, d.sp, d.lim, 0, 0)
	if err != nil {
		return nil, err
	}
	err = run(func() error {
		outs, err := d.align.Exec(b.Source, b.SourceLengths, b.TargetIn)
		if err != nil {
			return err
		}
		defer outs[0].FinalizeAll()
		switch v := outs[0].Value().(type) {
		case [][][]float32:
			for _, row := range v[0] {
				r := make([]float64, len(row))
				for j, x := range row {
					r[j] = float64(x)
				}
				out = append(out, r)
			}
		case [][][]float64:
			out = v[0]
		default:
			return fmt.Errorf("alignment is %s", outs[0].Shape())
		}
		return nil
	})
	return out, err
}
