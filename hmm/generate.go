package hmm

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/lm"
)

// Generator samples from a trained HMM on the host, in float64: it keeps the filtered distribution
// over the hidden states, p(z_t | x_0..x_t), and each token costs two products with the tables.
type Generator struct {
	cfg         Config
	init        []float64   // π
	trans, emit [][]float64 // A and B, row by row
}

// NewGenerator reads the tables of the model in ctx ([Scope]) into a generator.
func (c Config) NewGenerator(_ backends.Backend, ctx *context.Context) (lm.Generator, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	read := func(name string, rows, cols int) ([][]float64, error) {
		v := ctx.In(Scope).GetVariable(name)
		if v == nil {
			return nil, fmt.Errorf("hmm: no variable %s/%s in the context: train or load the model first", Scope, name)
		}
		t, err := v.Value()
		if err != nil {
			return nil, err
		}
		flat, err := floats(t)
		if err != nil {
			return nil, err
		}
		if len(flat) != rows*cols {
			return nil, fmt.Errorf("hmm: %s holds %d values, not %d x %d", name, len(flat), rows, cols)
		}
		out := make([][]float64, rows)
		for i := range out {
			out[i] = softmax(flat[i*cols : (i+1)*cols])
		}
		return out, nil
	}
	g := &Generator{cfg: c}
	init, err := read("initial", 1, c.States)
	if err != nil {
		return nil, err
	}
	g.init = init[0]
	if g.trans, err = read("transition", c.States, c.States); err != nil {
		return nil, err
	}
	if g.emit, err = read("emission", c.States, c.VocabSize); err != nil {
		return nil, err
	}
	return g, nil
}

func floats(t *tensors.Tensor) ([]float64, error) {
	switch v := t.Value().(type) {
	case []float32:
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out, nil
	case []float64:
		return v, nil
	case [][]float32:
		var out []float64
		for _, row := range v {
			for _, x := range row {
				out = append(out, float64(x))
			}
		}
		return out, nil
	case [][]float64:
		var out []float64
		for _, row := range v {
			out = append(out, row...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("hmm: a table of %s", t.Shape())
}

func softmax(logits []float64) []float64 {
	m := math.Inf(-1)
	for _, x := range logits {
		m = max(m, x)
	}
	out := make([]float64, len(logits))
	var sum float64
	for i, x := range logits {
		out[i] = math.Exp(x - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Stream samples n tokens after prompt (sampling as lm.Sampling describes), handing each to emit.
func (g *Generator) Stream(prompt []int32, n int, s lm.Sampling, emit func(token int32) error) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := lm.ValidatePrompt(prompt, n, g.cfg.VocabSize); err != nil {
		return err
	}
	rng := s.NewRand()
	state := make([]float64, g.cfg.States) // p(z_t | x_0..x_t)
	for j := range state {
		state[j] = g.init[j] * g.emit[j][prompt[0]]
	}
	normalize(state)
	logits := make([]float64, g.cfg.VocabSize)
	for pos := 1; pos < len(prompt)+n; pos++ {
		next := make([]float64, g.cfg.States) // p(z_t+1 | x_0..x_t)
		for i, p := range state {
			for j, a := range g.trans[i] {
				next[j] += p * a
			}
		}
		var token int32
		if pos < len(prompt) {
			token = prompt[pos]
		} else {
			for w := range logits {
				var q float64
				for j, p := range next {
					q += p * g.emit[j][w]
				}
				logits[w] = math.Log(q)
			}
			token = lm.Sample(logits, s, rng)
			if err := emit(token); err != nil {
				return err
			}
		}
		for j := range next {
			next[j] *= g.emit[j][token]
		}
		normalize(next)
		state = next
	}
	return nil
}

func normalize(p []float64) {
	var sum float64
	for _, x := range p {
		sum += x
	}
	for i := range p {
		p[i] /= sum
	}
}
