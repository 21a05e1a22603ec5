// Package benchmarks measures the claim bitter is named after: a Transformer trains all positions
// in parallel, a recurrent network must take T dependent steps. See README.md and RESULTS.md.
//
//	go test -run '^$' -bench TrainStep -benchtime 2x ./benchmarks
//	go test -run '^$' -bench TrainStep/transformer -benchtime 5x ./benchmarks -args -tokens 8192 -peak-tflops 790
package benchmarks

import (
	"errors"
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/benchmarks/bench"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
)

var (
	tokensFlag = flag.Int("tokens", 4096, "tokens per training step (batch = tokens / T)")
	peakFlag   = flag.Float64("peak-tflops", 0, "the device's peak TFLOP/s, to report MFU (0 = no MFU)")
	sizes      bench.Sizes
)

func init() { sizes.RegisterFlags(flag.CommandLine) }

// checkSizes validates the size flags and takes the attention kernels the environment asks for
// (BITTER_CAUSAL_BLOCK, BITTER_CUDNN_ATTENTION).
func checkSizes(b *testing.B) {
	k, err := cli.AttentionKernels()
	if err = errors.Join(sizes.Validate(), err); err != nil {
		b.Fatal(err)
	}
	sizes.Kernels = k
}

// BenchmarkTrainStep/<model>/T=<len> times full training steps (forward, backward, AdamW) at a
// fixed number of tokens per step, reporting tokens/s, ms/step, compile-s, params, MFU and, on
// XLA, mem-GB (the step's compiled memory, backend.CompiledMemory.Total).
func BenchmarkTrainStep(b *testing.B) {
	checkSizes(b)
	bk, mem := backend.TrackMemory(backend.MustShared())
	for _, model := range bench.Models {
		for _, seq := range bench.SeqLens {
			b.Run(fmt.Sprintf("%s/T=%d", model, seq), func(b *testing.B) {
				mem.Reset()
				run, err := bench.NewTrainRun(bk, model, seq, *tokensFlag, sizes)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if err := run.Step(); err != nil {
					b.Fatal(err)
				}
				first := time.Since(start).Seconds()
				b.ResetTimer()
				for range b.N {
					if err := run.Step(); err != nil {
						b.Fatal(err)
					}
				}
				res := run.Result(model, first, b.Elapsed().Seconds()/float64(b.N), b.N, *peakFlag)
				if m, ok := mem.Max(); ok {
					res.PeakMemGB = float64(m.Total()) / 1e9
				}
				report(b, res)
			})
		}
	}
}

func report(b *testing.B, r bench.Result) {
	b.ReportMetric(r.TokensPerSec, "tokens/s")
	b.ReportMetric(r.MsPerStep, "ms/step")
	b.ReportMetric(r.CompileSec, "compile-s")
	b.ReportMetric(float64(r.Params), "params")
	if r.MFU > 0 {
		b.ReportMetric(r.MFU, "MFU")
	}
	if r.PeakMemGB > 0 {
		b.ReportMetric(r.PeakMemGB, "mem-GB")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkGenerate/<model> times greedy generation, batch 1: time to first token after a
// 64-token prompt, and tokens/s of the next 64.
func BenchmarkGenerate(b *testing.B) {
	checkSizes(b)
	bk := backend.MustShared()
	for _, model := range bench.Models {
		b.Run(model, func(b *testing.B) {
			var ttft, rate []float64
			for range b.N {
				r, err := bench.MeasureGenerate(bk, model, 64, 64, sizes)
				if err != nil {
					b.Fatal(err)
				}
				ttft, rate = append(ttft, r.TTFTms), append(rate, r.TokensPerSec)
			}
			b.ReportMetric(bench.Median(ttft), "ttft-ms")
			b.ReportMetric(bench.Median(rate), "tokens/s")
			b.ReportMetric(0, "ns/op")
		})
	}
}
