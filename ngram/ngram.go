// Package ngram is a count-based byte language model: interpolated Kneser-Ney smoothing over byte
// n-grams (Kneser and Ney 1995, in the interpolated form of Chen and Goodman 1998, one absolute
// discount per order), the strongest of the models that came before neural ones, and the baseline
// examples/lineage sets the others against.
//
// For an order-n model and a context h of n-1 bytes, with c the counts of the training text,
//
//	P(w | h) = max(c(hw) - D_n, 0) / c(h) + D_n · N1+(h•) / c(h) · P(w | h')
//
// where h' drops h's first byte and N1+(h•) counts the distinct bytes seen after h; a context never
// seen gives P(w | h'). The lower orders replace counts by continuation counts, c'(g) = N1+(•g), the
// number of distinct bytes seen before g, so a byte that follows many contexts weighs more than one
// frequent after a single context; the unigrams interpolate with the uniform distribution over the 256
// bytes, so every byte has a probability above 0. D_k = n1 / (n1 + 2·n2) from the order's
// count-of-counts (Ney et al. 1994), at least 0.05. When fewer than n-1 bytes precede w (the start of a text with no
// context), the longest context available is the top order, with its plain counts.
package ngram

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// MaxOrder is the largest order Train accepts.
const MaxOrder = 16

// Model is a trained interpolated Kneser-Ney byte n-gram model. It is immutable and safe for
// concurrent use.
type Model struct {
	order int
	// raw[k-1][g] is the count of the k-gram g in the text (used at the top order: order, or a short
	// context's length plus one); cont[k-1][g], for k < order, its continuation count N1+(•g).
	raw, cont []map[string]int32
	// ctxRaw[k-1][h], ctxCont[k-1][h]: over the k-grams hw of context h (k-1 bytes), the sum of their
	// counts and how many there are (distinct w).
	ctxRaw, ctxCont   []map[string]stat
	discRaw, discCont []float64 // D_k for plain and continuation counts, k = 1..order
	updates           int64     // counting operations Train did
}

type stat struct{ total, types int32 }

// Train counts the k-grams of text for k = 1..order and estimates the discounts. order must be in
// [1, MaxOrder] and text at least order bytes.
func Train(text []byte, order int) (*Model, error) {
	if order < 1 || order > MaxOrder {
		return nil, fmt.Errorf("ngram: order %d must be in [1, %d]", order, MaxOrder)
	}
	if len(text) < order {
		return nil, fmt.Errorf("ngram: %d bytes of text are fewer than one %d-gram", len(text), order)
	}
	m := &Model{order: order}
	for range order {
		m.raw, m.cont = append(m.raw, map[string]int32{}), append(m.cont, map[string]int32{})
		m.ctxRaw, m.ctxCont = append(m.ctxRaw, map[string]stat{}), append(m.ctxCont, map[string]stat{})
	}
	for k := 1; k <= order; k++ {
		counts := m.raw[k-1]
		for i := 0; i+k <= len(text); i++ {
			counts[string(text[i:i+k])]++
		}
		m.updates += int64(len(text) - k + 1)
	}
	// Continuation counts: N1+(•g) for each g of order k < order, from the distinct (k+1)-grams.
	for k := 1; k < order; k++ {
		cont := m.cont[k-1]
		for g := range m.raw[k] {
			cont[g[1:]]++
		}
		m.updates += int64(len(m.raw[k]))
	}
	m.discRaw, m.discCont = make([]float64, order), make([]float64, order)
	for k := 1; k <= order; k++ {
		m.discRaw[k-1] = summarize(m.raw[k-1], m.ctxRaw[k-1])
		if k < order {
			m.discCont[k-1] = summarize(m.cont[k-1], m.ctxCont[k-1])
		}
		m.updates += int64(len(m.raw[k-1]) + len(m.cont[k-1]))
	}
	return m, nil
}

// summarize fills ctx with each context's total and types over counts and returns the discount
// n1 / (n1 + 2·n2): 0.5 when the counts have no 1s and 2s, and at least 0.05, so that every order
// leaves mass to the one below (counts all of 3 or more would otherwise give unseen bytes none).
func summarize(counts map[string]int32, ctx map[string]stat) float64 {
	var n1, n2 float64
	for g, c := range counts {
		s := ctx[g[:len(g)-1]]
		s.total += c
		s.types++
		ctx[g[:len(g)-1]] = s
		switch c {
		case 1:
			n1++
		case 2:
			n2++
		}
	}
	if n1+2*n2 == 0 {
		return 0.5
	}
	return max(n1/(n1+2*n2), 0.05)
}

// Order is the model's order n.
func (m *Model) Order() int { return m.order }

// CountingOps is the number of counting operations Train did (a k-gram counted, a continuation
// count raised, a context summed): the model's training compute, set beside a network's FLOPs.
func (m *Model) CountingOps() int64 { return m.updates }

// NumParams is the number of stored counts: the model's size.
func (m *Model) NumParams() int {
	n := 0
	for k := range m.order {
		n += len(m.raw[k]) + len(m.cont[k])
	}
	return n
}

// Prob returns P(w | context), using the last order-1 bytes of context (all of it when shorter).
func (m *Model) Prob(context []byte, w byte) float64 {
	if len(context) > m.order-1 {
		context = context[len(context)-(m.order-1):]
	}
	return m.prob(context, w, true)
}

// prob is P(w | h) at the order len(h)+1, with plain counts at the top order (top) and continuation
// counts below it.
func (m *Model) prob(h []byte, w byte, top bool) float64 {
	k := len(h) + 1
	counts, ctx, d := m.cont[k-1], m.ctxCont[k-1], m.discCont[k-1]
	if top {
		counts, ctx, d = m.raw[k-1], m.ctxRaw[k-1], m.discRaw[k-1]
	}
	var lower float64
	if k == 1 {
		lower = 1.0 / 256
	} else {
		lower = m.prob(h[1:], w, false)
	}
	s, ok := ctx[string(h)]
	if !ok || s.total == 0 {
		return lower
	}
	g := make([]byte, 0, k)
	g = append(append(g, h...), w)
	c := float64(counts[string(g)])
	total := float64(s.total)
	return max(c-d, 0)/total + d*float64(s.types)/total*lower
}

// Dist returns P(w | context) for every byte w; it sums to 1.
func (m *Model) Dist(context []byte) [256]float64 {
	var p [256]float64
	for w := range 256 {
		p[w] = m.Prob(context, byte(w))
	}
	return p
}

// CrossEntropy returns the mean of -log2 P(text[i] | the bytes before it) over text, in bits per
// byte, the bytes before text being context (its last order-1 bytes serve; nil for none).
func (m *Model) CrossEntropy(context, text []byte) (float64, error) {
	if len(text) == 0 {
		return 0, errors.New("ngram: no text to evaluate")
	}
	keep := m.order - 1
	if len(context) > keep {
		context = context[len(context)-keep:]
	}
	all := append(append(make([]byte, 0, len(context)+len(text)), context...), text...)
	var sum float64
	for i := len(context); i < len(all); i++ {
		sum -= math.Log2(m.Prob(all[max(0, i-keep):i], all[i]))
	}
	return sum / float64(len(text)), nil
}

// Sample continues prompt by n bytes drawn from the model with a seeded RNG, and returns them.
func (m *Model) Sample(prompt []byte, n int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x6e6772616d)) // "ngram"
	text := append([]byte(nil), prompt...)
	for range n {
		p := m.Dist(text)
		u, acc, w := rng.Float64(), 0.0, 255
		for i, q := range p {
			if acc += q; u < acc {
				w = i
				break
			}
		}
		text = append(text, byte(w))
	}
	return text[len(prompt):]
}
