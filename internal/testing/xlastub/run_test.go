package xlastub_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/examples/doubledescent/dd"
	"github.com/bitterlesson/bitter/examples/grokking/grok"
	"github.com/bitterlesson/bitter/examples/reinforce/rl"
	"github.com/bitterlesson/bitter/trainer"
)

// TestTrainerRunsThroughXLA runs the example trainer (trainer.Run: training, validation, checkpoints,
// resume, sampling) for the transformer in float32 and bf16 and the LSTM (in chunks) and GRU, and
// the grokking, double-descent and RL (REINFORCE and GRPO) examples, in a child process that loads
// the stand-in with XLASTUB_RUN=1: every graph goes through GoMLX's XLA backend and go-xla (compile,
// buffers, execution, read-back) as on a GPU, with zeros for results.
func TestTrainerRunsThroughXLA(t *testing.T) {
	if os.Getenv("XLASTUB_CHILD") == "1" {
		trainerRuns(t)
		return
	}
	out := inChild(t, "TestTrainerRunsThroughXLA", "XLASTUB_CHILD=1", "XLASTUB_RUN=1")
	require.Equal(t, 8, strings.Count(out, "--- PASS: TestTrainerRunsThroughXLA/"), "every run passed:\n%s", out)
}

// inChild runs test again in a child process of this test binary, on the stand-in plugin with the
// given environment (read when the plugin loads), and returns its output; it fails t if the child
// fails.
func inChild(t *testing.T, test string, env ...string) string {
	t.Helper()
	s := start(t)
	cmd := exec.Command(os.Args[0], "-test.run", "^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), append(env, "GOMLX_BACKEND=xla:"+s.Plugin, "GOMLX_NO_AUTO_INSTALL=1",
		"BITTER_XLA_STUB_OUT=")...) // the child's programs are not the parent's to count
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "--- PASS: "+test)
	return string(out)
}

func trainerRuns(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "corpus.txt")
	require.NoError(t, os.WriteFile(corpus, []byte(strings.Repeat("To be, or not to be, that is the question.\n", 200)), 0o644))
	for _, tc := range []struct {
		name   string
		change func(o *trainer.Options)
	}{
		{"transformer", func(o *trainer.Options) {}},
		{"transformer_bf16", func(o *trainer.Options) { o.Precision = "bfloat16" }},
		{"lstm_chunks", func(o *trainer.Options) { o.Model, o.RNNChunk = "lstm", 8 }},
		{"gru", func(o *trainer.Options) { o.Model = "gru" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := trainer.DefaultOptions()
			o.Data, o.Out, o.Quiet = corpus, t.TempDir(), true
			o.Steps, o.Warmup, o.Batch, o.Seq, o.EvalEvery, o.EvalTokens, o.Sample = 4, 1, 2, 32, 2, 256, 16
			tc.change(&o)
			var log strings.Builder
			res, err := trainer.Run(o, io.Discard, &log)
			require.NoError(t, err)
			require.Equal(t, 4, res.Step)
			require.Regexp(t, `step 1: \d+\.\d s, compiling the training graph included; its largest program needs \d+\.\d\d GB on the device`, log.String())
			require.True(t, strings.HasPrefix(res.Sample, o.Prompt), "the sample continues the prompt: %q", res.Sample)
			require.Greater(t, len(res.Sample), len(o.Prompt), "and adds to it")
			for _, f := range []string{"checkpoint.bin", "loss.csv", "loss.png"} {
				info, err := os.Stat(filepath.Join(o.Out, f))
				require.NoError(t, err)
				require.Positive(t, info.Size(), f)
			}
			o.Steps, o.Resume = 6, true
			res, err = trainer.Run(o, io.Discard, io.Discard)
			require.NoError(t, err, "resume")
			require.Equal(t, 6, res.Step)
		})
	}

	b, err := backend.New()
	require.NoError(t, err)
	require.Contains(t, b.Description(), "xlastub", "the child runs on the stand-in")
	t.Run("grokking", func(t *testing.T) {
		p := grok.CPUDefault()
		p.Steps, p.EvalEvery, p.P = 6, 3, 7
		_, err := grok.Run(b, p, io.Discard)
		require.NoError(t, err)
	})
	t.Run("doubledescent", func(t *testing.T) {
		p := dd.CPUDefault()
		p.Steps, p.Widths, p.Train, p.Test = 3, []int{4}, 32, 32
		pts, err := dd.Sweep(b, p, io.Discard)
		require.NoError(t, err)
		require.Len(t, pts, 1)
	})
	for _, algo := range []string{rl.Reinforce, rl.GRPO} {
		t.Run("rl_"+algo, func(t *testing.T) {
			p := rl.CPUDefault()
			p.Algo, p.Steps, p.PretrainSteps, p.EvalEvery, p.EvalPrompts, p.EvalSamples, p.Prompts, p.Group = algo, 2, 2, 2, 4, 1, 2, 2
			_, err := rl.Run(b, p, io.Discard)
			require.NoError(t, err)
		})
	}
}

// TestStockGoXLAOnANewerPlugin starts bitter's backend (stock go-xla, as every normal build) on the
// stand-in playing a newer plugin, in a child process: the error says why and what to do.
func TestStockGoXLAOnANewerPlugin(t *testing.T) {
	if os.Getenv("XLASTUB_CHILD") == "newer" {
		_, err := backend.New()
		require.Error(t, err)
		require.ErrorContains(t, err, "Unexpected PJRT_Plugin_Initialize_Args size")
		require.ErrorContains(t, err, "internal/gomlxpatch/pjrtpad")
		return
	}
	inChild(t, "TestStockGoXLAOnANewerPlugin", "XLASTUB_CHILD=newer", "XLASTUB_NEWER=1")
}

// TestTrackMemoryThroughXLA: backend.TrackMemory reads XLA's compiled memory of each program through
// GoMLX's XLA backend and go-xla (the stand-in reports its outputs' bytes, and its program text's
// bytes as temporaries), keeps the largest, and forgets on Reset; the programs still run.
func TestTrackMemoryThroughXLA(t *testing.T) {
	if os.Getenv("XLASTUB_CHILD") == "memory" {
		b, err := backend.New()
		require.NoError(t, err)
		tracked, mem := backend.TrackMemory(b)
		require.NotEqual(t, b, tracked, "the XLA backend is wrapped")
		_, ok := mem.Max()
		require.False(t, ok, "nothing compiled yet")

		small := graph.MustNewExec(tracked, func(x *graph.Node) (*graph.Node, *graph.Node) {
			return graph.AddScalar(x, 1), graph.ReduceAllSum(x) // f32[250] and f32[]: 1,004 bytes
		})
		outs, err := small.Exec(make([]float32, 250))
		require.NoError(t, err)
		require.Len(t, outs, 2)
		require.Equal(t, []int{250}, outs[0].Shape().Dimensions, "the program ran")
		m, ok := mem.Max()
		require.True(t, ok)
		require.Equal(t, int64(1004), m.Outputs)
		require.Positive(t, m.Temporary, "the stand-in's temporaries: the program text")
		require.Equal(t, m.Outputs+m.Temporary, m.Total())

		big := graph.MustNewExec(tracked, func(x *graph.Node) *graph.Node {
			return graph.BroadcastPrefix(x, 1000) // f32[1000, 250]: 1,000,000 bytes
		})
		_, err = big.Exec(make([]float32, 250))
		require.NoError(t, err)
		m, ok = mem.Max()
		require.True(t, ok)
		require.Equal(t, int64(1_000_000), m.Outputs, "the largest program")

		mem.Reset()
		_, ok = mem.Max()
		require.False(t, ok)

		// Under bitter's TF32 emulation (CI's second pass sets it for every backend) as well.
		emulated, mem := backend.TrackMemory(backend.EmulateTF32(b))
		require.True(t, backend.TF32(emulated))
		_, err = graph.MustNewExec(emulated, func(x *graph.Node) *graph.Node { return graph.AddScalar(x, 1) }).Exec(make([]float32, 250))
		require.NoError(t, err)
		m, ok = mem.Max()
		require.True(t, ok)
		require.Equal(t, int64(1000), m.Outputs)
		return
	}
	inChild(t, "TestTrackMemoryThroughXLA", "XLASTUB_CHILD=memory", "XLASTUB_RUN=1")
}
