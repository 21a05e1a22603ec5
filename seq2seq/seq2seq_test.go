package seq2seq_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/seq2seq"
	"github.com/bitterlesson/bitter/transformer"
)

var sp = seq2seq.Special{BOS: 1, EOS: 2, Pad: 0}

// models returns small float64 models of both families: vocabularies 7 (source) and 6 (target).
func models() map[string]seq2seq.Model {
	tr := transformer.EncoderDecoder{SourceVocabSize: 7, TargetVocabSize: 6, MaxSourceLen: 6, MaxTargetLen: 5,
		EncoderLayers: 2, DecoderLayers: 2, ModelDim: 16, NumHeads: 2, FFNDim: 32, Activation: transformer.ReLU,
		Norm: transformer.LayerNorm, Positional: transformer.Learned, UseBias: true, DType: dtypes.Float64}
	gru := rnn.Seq2Seq{Cell: rnn.GRU, SourceVocabSize: 7, TargetVocabSize: 6, MaxSourceLen: 6, MaxTargetLen: 5,
		EmbedDim: 8, HiddenDim: 8, EncoderLayers: 2, DecoderDim: 12, AttentionDim: 8, DType: dtypes.Float64}
	lstm := gru
	lstm.Cell, lstm.EncoderLayers = rnn.LSTM, 1
	return map[string]seq2seq.Model{"transformer": tr, "gru": gru, "lstm": lstm}
}

// initialised returns a context holding m's variables, initialised from seed.
func initialised(t *testing.T, m seq2seq.Model, seed int64, eos float64) *context.Context {
	ctx := context.New()
	require.NoError(t, ctx.SetRNGStateFromSeed(seed))
	exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return []*graph.Node{m.Logits(ctx, in[0], in[1], in[2])}
	})
	require.NoError(t, err)
	_, err = exec.Exec([][]int32{{3}}, []int32{1}, [][]int32{{1}})
	require.NoError(t, err)
	// Initialised for training, the models' next-token distributions are close to uniform and
	// hardly depend on the source, and the best translation of any search is then EOS at once.
	// Weights of N(0, 4/fan-in) (the head's 9/fan-in, for logits of a standard deviation near 3)
	// and vectors of N(0, 1/4) make distributions as peaked as a trained model's, whose best
	// hypotheses differ from source to source.
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	for v := range ctx.IterVariables() {
		if !v.Trainable {
			continue
		}
		dims := v.Shape().Dimensions
		std := 0.5
		if len(dims) == 2 {
			std = 2 / math.Sqrt(float64(dims[0]))
			if v.Scope() == "/head" {
				std *= 1.5
			}
		}
		w := make([]float64, v.Shape().Size())
		for i := range w {
			w[i] = rng.NormFloat64() * std
			if v.Scope() == "/head" && i%dims[len(dims)-1] == int(sp.EOS) {
				w[i] *= eos // 0.1: EOS's logit near 0, among others of ±3, so that long hypotheses win too
			}
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(w, dims...))
	}
	return ctx.Reuse()
}

// teacherForced returns a function giving the log-probabilities [tgtLen][vocab] that Logits
// computes for one pair (remembering each).
func teacherForced(t *testing.T, ctx *context.Context, m seq2seq.Model) func(src, tgtIn []int32) [][]float64 {
	exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return []*graph.Node{graph.LogSoftmax(m.Logits(ctx, in[0], in[1], in[2]), -1)}
	})
	require.NoError(t, err)
	memo := map[string][][]float64{}
	return func(src, tgtIn []int32) [][]float64 {
		key := fmt.Sprint(src, tgtIn)
		if logp, ok := memo[key]; ok {
			return logp
		}
		outs, err := exec.Exec([][]int32{src}, []int32{int32(len(src))}, [][]int32{tgtIn})
		require.NoError(t, err)
		memo[key] = outs[0].Value().([][][]float64)[0]
		return memo[key]
	}
}

var sources = [][]int32{{3, 4, 5}, {6}, {5, 5, 3, 4, 6, 0}, {4, 3}}

// TestStepMatchesLogits decodes the pairs' decoder inputs one token at a time with Encode and Step
// and checks each step's log-probabilities against the teacher-forced Logits at that position:
// Step and Logits are two routes through the same model.
func TestStepMatchesLogits(t *testing.T) {
	for name, m := range models() {
		t.Run(name, func(t *testing.T) {
			ctx := initialised(t, m, 1, 1)
			exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
				src, lengths, tgtIn := in[0], in[1], in[2]
				state := m.Encode(ctx, src, lengths)
				var outs []*graph.Node
				for pos := range tgtIn.Shape().Dimensions[1] {
					tok := graph.Reshape(graph.Slice(tgtIn, graph.AxisRange(), graph.AxisElem(pos)), tgtIn.Shape().Dimensions[0])
					var logits *graph.Node
					logits, state = m.Step(ctx, state, tok, graph.Const(src.Graph(), int32(pos)))
					outs = append(outs, graph.InsertAxes(graph.LogSoftmax(logits, -1), 1))
				}
				return []*graph.Node{graph.Concatenate(outs, 1)}
			})
			require.NoError(t, err)
			tgtIn := []int32{1, 3, 5, 4, 0}
			logp := teacherForced(t, ctx, m)
			for _, src := range sources {
				want := logp(src, tgtIn)
				outs, err := exec.Exec([][]int32{src}, []int32{int32(len(src))}, [][]int32{tgtIn})
				require.NoError(t, err)
				got := outs[0].Value().([][][]float64)[0]
				for pos := range want {
					require.InDeltaSlice(t, want[pos], got[pos], 1e-12, "source %v, position %d", src, pos)
				}
			}
		})
	}
}

// score is log p(hyp, EOS unless it fills maxLen | src) by teacher forcing, and its positions.
func score(logProbs func(src, tgtIn []int32) [][]float64, src, hyp []int32, maxLen int) (float64, int) {
	tgtIn := append([]int32{sp.BOS}, hyp...)
	out := append(append([]int32(nil), hyp...), sp.EOS)
	if len(hyp) == maxLen {
		tgtIn, out = tgtIn[:maxLen], out[:maxLen]
	}
	// Padded to maxLen positions, so that hypotheses share inputs: the decoder is causal, and a
	// position's log-probabilities do not depend on the inputs after it (TestStepMatchesLogits).
	for len(tgtIn) < maxLen {
		tgtIn = append(tgtIn, sp.Pad)
	}
	logp := logProbs(src, tgtIn)
	total := 0.0
	for pos, tok := range out {
		total += logp[pos][tok]
	}
	return total, len(out)
}

// TestBeamSearch checks beam search three ways: beam 1 is greedy decoding; a beam wide enough to
// keep every hypothesis finds the best of all of them by brute force (every sequence of up to 3
// positions over the 6 target ids), with and without the length penalty.
func TestBeamSearch(t *testing.T) {
	for name, m := range models() {
		t.Run(name, func(t *testing.T) {
			ctx := initialised(t, m, 7, 0.1)
			dec, err := seq2seq.NewDecoder(backend.MustShared(), ctx, m, sp)
			require.NoError(t, err)
			greedy, err := dec.Greedy(sources, 0)
			require.NoError(t, err)
			beam1, err := dec.Beam(sources, 1, 0.6, 0)
			require.NoError(t, err)
			require.Equal(t, greedy, beam1, "beam 1 is greedy")

			logp := teacherForced(t, ctx, m)
			const maxLen = 3
			var all [][]int32 // every hypothesis: up to maxLen-1 tokens then EOS, or maxLen tokens
			var grow func(prefix []int32)
			grow = func(prefix []int32) {
				all = append(all, append([]int32(nil), prefix...))
				if len(prefix) == maxLen {
					return
				}
				for v := int32(0); v < 6; v++ {
					if v != sp.EOS {
						grow(append(prefix, v))
					}
				}
			}
			grow(nil)
			for _, alpha := range []float64{0, 0.6} {
				wide, err := dec.Beam(sources, 100, alpha, maxLen)
				require.NoError(t, err)
				for i, src := range sources {
					best, bestScore := []int32(nil), math.Inf(-1)
					for _, h := range all {
						lp, n := score(logp, src, h, maxLen)
						if s := lp / seq2seq.LengthPenalty(n, alpha); s > bestScore {
							best, bestScore = h, s
						}
					}
					got, n := score(logp, src, wide[i], maxLen)
					require.InDelta(t, bestScore, got/seq2seq.LengthPenalty(n, alpha), 1e-9,
						"alpha %g, source %v: beam found %v, brute force %v", alpha, src, wide[i], best)
				}
			}
		})
	}
}

// TestBadInput: each input that cannot work is one error that names it.
func TestBadInput(t *testing.T) {
	m := models()["gru"]
	lim := seq2seq.LimitsOf(m)
	ok := seq2seq.Pair{Source: []int32{3, 4}, Target: []int32{5}}
	cases := map[string]struct {
		pairs []seq2seq.Pair
		sp    seq2seq.Special
		want  string
	}{
		"empty batch":     {nil, sp, "empty batch"},
		"empty source":    {[]seq2seq.Pair{ok, {Target: []int32{3}}}, sp, "pair 1: empty source"},
		"long source":     {[]seq2seq.Pair{{Source: make([]int32, 7)}}, sp, "source of 7 tokens is longer than the model's MaxSourceLen 6"},
		"long target":     {[]seq2seq.Pair{{Source: []int32{3}, Target: []int32{3, 3, 3, 3, 3}}}, sp, "target of 5 tokens and EOS is longer than the model's MaxTargetLen 5"},
		"source vocab":    {[]seq2seq.Pair{{Source: []int32{3, 7}}}, sp, "source: token id 7 at position 1 is outside the model's vocabulary of 7"},
		"target vocab":    {[]seq2seq.Pair{{Source: []int32{3}, Target: []int32{6}}}, sp, "target: token id 6 at position 0 is outside the model's vocabulary of 6"},
		"negative id":     {[]seq2seq.Pair{{Source: []int32{-1}}}, sp, "token id -1 at position 0"},
		"special outside": {[]seq2seq.Pair{ok}, seq2seq.Special{BOS: 6, EOS: 2}, "special ids"},
	}
	for name, c := range cases {
		_, err := seq2seq.NewBatch(c.pairs, c.sp, lim, 0, 0)
		require.ErrorContains(t, err, c.want, name)
	}
	_, err := seq2seq.NewBatch([]seq2seq.Pair{ok, {Source: []int32{3, 4, 5}}}, sp, lim, 2, 0)
	require.ErrorContains(t, err, "a source of 3 tokens does not fit the batch's 2")

	b, err := seq2seq.NewBatch([]seq2seq.Pair{ok, {Source: []int32{3, 4, 5}}}, sp, lim, 0, 0)
	require.NoError(t, err)
	require.Equal(t, seq2seq.Batch{Source: [][]int32{{3, 4, 0}, {3, 4, 5}}, SourceLengths: []int32{2, 3},
		TargetIn: [][]int32{{1, 5}, {1, 0}}, TargetOut: [][]int32{{5, 2}, {2, -1}}, Tokens: 2 + 2 + 3 + 1}, b)

	ctx := initialised(t, m, 1, 1)
	_, err = seq2seq.NewDecoder(backend.MustShared(), ctx, m, seq2seq.Special{BOS: 1, EOS: 9})
	require.ErrorContains(t, err, "special ids")
	dec, err := seq2seq.NewDecoder(backend.MustShared(), ctx, m, sp)
	require.NoError(t, err)
	for want, fn := range map[string]func() error{
		"seq2seq: empty batch": func() error { _, err := dec.Greedy(nil, 0); return err },
		"seq2seq: sentence 1: source of 7 tokens is longer than the model's MaxSourceLen 6": func() error {
			_, err := dec.Beam([][]int32{{3}, make([]int32, 7)}, 4, 0.6, 0)
			return err
		},
		"seq2seq: sentence 0: empty source sentence":     func() error { _, err := dec.Greedy([][]int32{{}}, 0); return err },
		"seq2seq: beam 0 must be at least 1":             func() error { _, err := dec.Beam(sources, 0, 0.6, 0); return err },
		"seq2seq: maxLen 6 is outside 1..MaxTargetLen=5": func() error { _, err := dec.Greedy(sources, 6); return err },
		"seq2seq: length penalty alpha NaN must be a finite number, not negative": func() error {
			_, err := dec.Beam(sources, 2, math.NaN(), 0)
			return err
		},
		"source: token id 9 at position 0 is outside the model's vocabulary of 7": func() error {
			_, err := dec.Alignment([]int32{9}, nil)
			return err
		},
	} {
		require.ErrorContains(t, fn(), want)
	}
}

// referenceBeam is the beam search Decoder.Beam documents, written for one sentence with every
// hypothesis scored by teacher forcing (no states, no rows): the reference that the decoder's
// bookkeeping (rows, parents, finished lists) is checked against.
func referenceBeam(logProbs func(src, tgtIn []int32) [][]float64, src []int32, k int, alpha float64, maxLen int) []int32 {
	type hyp struct {
		tokens []int32
		logp   float64
	}
	type cand struct {
		h     hyp
		token int32
	}
	live, finished := []hyp{{}}, []hyp(nil)
	for pos := 0; pos < maxLen && len(live) > 0; pos++ {
		var cands []cand
		for _, h := range live {
			for v, lp := range logProbs(src, append([]int32{sp.BOS}, h.tokens...))[pos] {
				cands = append(cands, cand{hyp{h.tokens, h.logp + lp}, int32(v)})
			}
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].h.logp > cands[j].h.logp })
		var next []hyp
		for r, c := range cands[:min(2*k, len(cands))] {
			switch {
			case c.token == sp.EOS && r < k:
				finished = append(finished, c.h)
			case c.token != sp.EOS && len(next) < k:
				next = append(next, hyp{append(append([]int32(nil), c.h.tokens...), c.token), c.h.logp})
			}
		}
		if len(finished) >= k || pos == maxLen-1 {
			if len(finished) < k {
				finished = append(finished, next...)
			}
			next = nil
		}
		live = next
	}
	best, bestScore := []int32(nil), math.Inf(-1)
	for _, h := range finished {
		n := len(h.tokens) + 1
		if len(h.tokens) == maxLen {
			n--
		}
		if s := h.logp / seq2seq.LengthPenalty(n, alpha); s > bestScore {
			best, bestScore = h.tokens, s
		}
	}
	return best
}

// TestBeamMatchesReference decodes with beams of 2 and 3, narrow enough to prune, and compares each
// translation with referenceBeam's, with EOS's head weights scaled by 0.1, 1 and 2 (EOS rare,
// ordinary, frequent).
func TestBeamMatchesReference(t *testing.T) {
	more := append(sources, []int32{6, 5, 4, 3}, []int32{3, 3, 3, 3, 3, 3}, []int32{0, 6})
	for name, m := range models() {
		t.Run(name, func(t *testing.T) {
			for _, eos := range []float64{0.1, 1, 2} {
				ctx := initialised(t, m, 5, eos)
				dec, err := seq2seq.NewDecoder(backend.MustShared(), ctx, m, sp)
				require.NoError(t, err)
				logp := teacherForced(t, ctx, m)
				for _, k := range []int{2, 3} {
					got, err := dec.Beam(more, k, 0.6, 0)
					require.NoError(t, err)
					for i, src := range more {
						require.Equal(t, referenceBeam(logp, src, k, 0.6, 5), got[i], "EOS weights x%g, beam %d, source %v", eos, k, src)
					}
				}
			}
		})
	}
}

// TestAlignment: Decoder.Alignment gives one row per decoder input position and one column per
// source token, each row a distribution over the source, for every model.
func TestAlignment(t *testing.T) {
	for name, m := range models() {
		t.Run(name, func(t *testing.T) {
			dec, err := seq2seq.NewDecoder(backend.MustShared(), initialised(t, m, 2, 1), m, sp)
			require.NoError(t, err)
			for _, src := range sources {
				a, err := dec.Alignment(src, []int32{4, 5, 3})
				require.NoError(t, err)
				require.Len(t, a, 4)
				for _, row := range a {
					require.Len(t, row, len(src))
					sum := 0.0
					for _, p := range row {
						require.GreaterOrEqual(t, p, 0.0)
						sum += p
					}
					require.InDelta(t, 1, sum, 1e-12)
				}
			}
		})
	}
}
