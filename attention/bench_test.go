package attention_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
)

// BenchmarkMultiHeadTrainStep times the forward and backward pass (gradients with respect to the
// input and every weight) of one causal multi-head attention layer, 128 wide with 4 heads and RoPE,
// on 2048 tokens per step at several sequence lengths. It reports tokens/s and ms/step over the timed
// iterations, and compile-s: the first call (graph build, compile and one step, not timed) less one step.
// Each length runs twice: causal attention in the backend's default query blocks (blocks=default, 64
// on the pure-Go backend) and without blocks (blocks=off), in the same binary.
//
//	go test -run '^$' -bench MultiHeadTrainStep -benchtime 3x ./attention
func BenchmarkMultiHeadTrainStep(b *testing.B) {
	const tokens, dim, heads = 2048, 128, 4
	for _, seq := range []int{64, 256, 1024} {
		for _, blocks := range []struct {
			name  string
			block int
		}{{"default", 0}, {"off", -1}} {
			benchMultiHead(b, fmt.Sprintf("T=%d/blocks=%s", seq, blocks.name), tokens, seq,
				attention.Config{ModelDim: dim, NumHeads: heads, RoPE: true, Kernels: attention.Kernels{CausalBlock: blocks.block}})
		}
	}
}

func benchMultiHead(b *testing.B, name string, tokens, seq int, cfg attention.Config) {
	b.Run(name, func(b *testing.B) {
		dim := cfg.ModelDim
		batch := tokens / seq
		ctx := context.New()
		exec, err := context.NewExec(backend.MustShared(), ctx, func(ctx *context.Context, x *graph.Node) []*graph.Node {
			y := attention.MultiHead(ctx, cfg, x, attention.Args{Causal: true})
			loss := graph.ReduceAllMean(graph.Square(y))
			var wrt []*graph.Node
			for v := range ctx.IterVariables() {
				wrt = append(wrt, v.ValueGraph(x.Graph()))
			}
			return graph.Gradient(loss, append(wrt, x)...)
		})
		if err != nil {
			b.Fatal(err)
		}
		x := randomInput(1, batch, seq, dim)
		start := time.Now()
		if _, err := exec.Exec(x); err != nil {
			b.Fatal(err)
		}
		compile := time.Since(start)
		b.ResetTimer()
		for range b.N {
			outs, err := exec.Exec(x)
			if err != nil {
				b.Fatal(err)
			}
			for _, o := range outs {
				o.FinalizeAll()
			}
		}
		step := b.Elapsed().Seconds() / float64(b.N)
		b.ReportMetric(float64(tokens)/step, "tokens/s")
		b.ReportMetric(step*1000, "ms/step")
		// The first call builds, compiles and runs one step: count the step out.
		b.ReportMetric(max(0, compile.Seconds()-step), "compile-s")
		b.ReportMetric(0, "ns/op")
	})
}
