// Command quickstart is the README's snippet: build, train and sample a small model in about twenty
// lines (2 minutes on 2 CPU cores). go run ./examples/quickstart
package main

import (
	"fmt"
	"log"
	"runtime"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/train"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/data"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/transformer"
)

func main() {
	b, err := backend.New() // GOMLX_BACKEND, else the pure-Go backend
	check(err)
	text, err := data.LoadCorpus([]string{runtime.GOROOT() + "/src/strings"}, ".go")
	check(err)
	batches, err := data.NewWindows(data.Bytes{}.Encode(text), 16, 64, 1) // 16 windows of 64 bytes, seed 1
	check(err)
	cfg := transformer.Tiny()
	opt, err := optim.New(optim.DefaultAdamW(2e-3))
	check(err)
	ctx := context.New()
	trainer := train.NewTrainer(b, ctx,
		func(ctx *context.Context, _ any, in []*graph.Node) []*graph.Node {
			return []*graph.Node{transformer.Logits(ctx, cfg, in[0])}
		},
		func(labels, logits []*graph.Node) *graph.Node { return lm.Loss(logits[0], labels[0]) },
		opt, nil, nil)
	for step := 1; step <= 60; step++ {
		_, inputs, labels, _ := batches.Yield()
		metrics, err := trainer.TrainStep(nil, inputs, labels)
		check(err)
		if step%10 == 0 {
			fmt.Printf("step %d: loss %.3f\n", step, metrics[0].Value())
		}
	}
	gen, err := transformer.NewGenerator(b, ctx, cfg)
	check(err)
	out, err := gen.Generate([]int32{'f', 'u', 'n', 'c', ' '}, 80, lm.Sampling{Temperature: 0.8, Seed: 1})
	check(err)
	fmt.Printf("func %s\n", string(toBytes(out)))
}

func toBytes(ids []int32) []byte {
	b := make([]byte, len(ids))
	for i, id := range ids {
		b[i] = byte(id)
	}
	return b
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
