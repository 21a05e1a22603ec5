package rnn

import (
	"fmt"

	"github.com/bitterlesson/bitter/lm"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Generator samples from a recurrent model by carrying its state ([Config.Step]): the prompt is fed
// one token at a time, as a recurrent network must, then each new token costs one step.
type Generator struct {
	cfg  Config
	exec *context.Exec
}

// NewGenerator is [NewGenerator] for the model c describes, as the [lm.Model] interface has it.
func (c Config) NewGenerator(b backends.Backend, ctx *context.Context) (lm.Generator, error) {
	return NewGenerator(b, ctx, c)
}

// NewGenerator returns a generator for the model whose variables are in ctx.
func NewGenerator(backend backends.Backend, ctx *context.Context, cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	exec, err := context.NewExec(backend, ctx.Reuse(), func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		logits, states := cfg.Step(ctx, in[0], in[1:])
		return append([]*graph.Node{logits}, states...)
	})
	if err != nil {
		return nil, err
	}
	return &Generator{cfg: cfg, exec: exec}, nil
}

// Generate returns n tokens sampled after prompt (sampling as lm.Sampling describes).
func (gen *Generator) Generate(prompt []int32, n int, s lm.Sampling) ([]int32, error) {
	out := make([]int32, 0, max(n, 0))
	if err := gen.Stream(prompt, n, s, func(t int32) error { out = append(out, t); return nil }); err != nil {
		return nil, err
	}
	return out, nil
}

// Stream is Generate handing each token to emit as soon as it is sampled; an error from emit stops
// it and is returned.
func (gen *Generator) Stream(prompt []int32, n int, s lm.Sampling, emit func(token int32) error) (err error) {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := lm.ValidatePrompt(prompt, n, gen.cfg.VocabSize); err != nil {
		return err
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("generate: %v", r)
		}
	}()
	rng := s.NewRand()
	states := make([]any, gen.cfg.NumStates())
	for i := range states {
		states[i] = tensors.FromShape(tensorsShape(gen.cfg))
	}
	token := prompt[0]
	for pos := 1; pos < len(prompt)+n; pos++ {
		outs, err := gen.exec.Exec(append([]any{[]int32{token}}, states...)...)
		if err != nil {
			return err
		}
		for i := range states {
			states[i] = outs[1+i]
		}
		if pos < len(prompt) {
			outs[0].FinalizeAll()
			token = prompt[pos]
			continue
		}
		var logits []float64
		switch v := outs[0].Value().(type) {
		case [][]float32:
			for _, x := range v[0] {
				logits = append(logits, float64(x))
			}
		case [][]float64:
			logits = v[0]
		}
		outs[0].FinalizeAll()
		token = lm.Sample(logits, s, rng)
		if err := emit(token); err != nil {
			return err
		}
	}
	return nil
}

// tensorsShape is the shape of one state tensor at batch 1 (zeros at the start).
func tensorsShape(cfg Config) shapes.Shape { return shapes.Make(cfg.dtype(), 1, cfg.HiddenDim) }
