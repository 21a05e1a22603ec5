package xlastub_test

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/internal/xlastub"
	"github.com/bitterlesson/bitter/optim"
	"github.com/bitterlesson/bitter/rnn"
	"github.com/bitterlesson/bitter/transformer"
)

// trainStep builds a whole training step on the stub (the loss, every gradient, an AdamW update with
// clipping and the schedule, as train.Trainer runs it) and returns the StableHLO program XLA would
// be given. The outputs are the loss and every variable the step changes, as context.Exec makes them.
func trainStep(t *testing.T, s *xlastub.Stub, name string, loss func(ctx *context.Context, g *graph.Graph) *graph.Node) string {
	t.Helper()
	g := graph.NewGraph(s.Backend, name)
	ctx := context.New()
	l := loss(ctx, g)
	opt, err := optim.New(optim.DefaultAdamW(6e-4))
	require.NoError(t, err)
	opt.UpdateGraph(ctx, g, l)
	outputs := []*graph.Node{l}
	for v := range ctx.IterVariables() {
		if v.ChangedInGraph(g) {
			outputs = append(outputs, v.ValueGraph(g))
		}
	}
	program, err := s.Compile(g, outputs...)
	require.NoError(t, err, "%s: the XLA backend's StableHLO builder or go-xla refused the step", name)
	return program
}

// dotSignature matches the type line closing a dot_general: its operand and result tensor types.
var dotSignature = regexp.MustCompile(`\} : \((tensor<[^>]*>), (tensor<[^>]*>)\) -> (tensor<[^>]*>)`)

// dots returns the operand and result types of each dot_general in program, in order.
func dots(program string) [][3]string {
	var out [][3]string
	for _, part := range strings.Split(program, `"stablehlo.dot_general"`)[1:] {
		m := dotSignature.FindStringSubmatch(part)
		if m != nil {
			out = append(out, [3]string{m[1], m[2], m[3]})
		}
	}
	return out
}

// opCounts counts a program's StableHLO ops by name.
type opCounts struct {
	total  int
	byName map[string]int
}

func (c opCounts) top(n int) string {
	names := make([]string, 0, len(c.byName))
	for name := range c.byName {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		if c.byName[names[i]] != c.byName[names[j]] {
			return c.byName[names[i]] > c.byName[names[j]]
		}
		return names[i] < names[j]
	})
	var parts []string
	for _, name := range names[:min(n, len(names))] {
		parts = append(parts, fmt.Sprintf("%s %d", name, c.byName[name]))
	}
	return strings.Join(parts, ", ")
}

var (
	opName     = regexp.MustCompile(`"stablehlo\.([a-z_]+)"`)
	lineResult = regexp.MustCompile(`"stablehlo\.[a-z_]+".*-> tensor<([^>]*)>\s*$`)
)

// census counts the ops of program, and those written on one line whose result has at least
// minElements elements (the attention scores' size, in the GPT-2 step).
func census(program string, minElements int) (ops opCounts, large int) {
	ops.byName = map[string]int{}
	for _, m := range opName.FindAllStringSubmatch(program, -1) {
		ops.byName[m[1]]++
		ops.total++
	}
	for _, line := range strings.Split(program, "\n") {
		m := lineResult.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		dims := strings.Split(m[1], "x")
		n := 1
		for _, d := range dims[:len(dims)-1] {
			v, err := strconv.Atoi(d)
			if err != nil {
				n = 0
				break
			}
			n *= v
		}
		if n >= minElements {
			large++
		}
	}
	return ops, large
}

func elementType(tensorType string) string {
	i := strings.LastIndex(tensorType, "x")
	return strings.TrimSuffix(tensorType[i+1:], ">")
}

// TestGPT2SmallStepOnXLABuilder builds the training step that benchmarks/gpu.sh measures first
// (GPT-2 small, untied, T=1024, 16 sequences) with XLA's builder, in float32 and in bf16 mixed
// precision, with and without causal query blocks, and checks what XLA would be given: in bf16 every
// matmul takes bf16 operands (TF32 and float32 matmuls would not reach the card's bf16 peak), and the
// parameters stay float32 (master weights).
func TestGPT2SmallStepOnXLABuilder(t *testing.T) {
	s := start(t)
	const batch, seq = 16, 1024
	for _, tc := range []struct {
		name    string
		compute dtypes.DType
		block   int
	}{
		{"float32", dtypes.InvalidDType, 0},
		{"bf16", dtypes.BFloat16, 0},
		{"bf16_causal_blocks_256", dtypes.BFloat16, 256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := transformer.GPT2Small()
			cfg.TieEmbeddings, cfg.ComputeDType = false, tc.compute
			require.NoError(t, cfg.Validate())
			t.Setenv(attention.CausalBlockEnvVar, strconv.Itoa(tc.block))
			program := trainStep(t, s, "gpt2_"+tc.name, func(ctx *context.Context, g *graph.Graph) *graph.Node {
				tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, seq))
				labels := graph.Parameter(g, "labels", shapes.Make(dtypes.Int32, batch, seq))
				return transformer.Loss(cfg.Logits(ctx, tokens), labels)
			})
			ds := dots(program)
			require.Equal(t, strings.Count(program, `"stablehlo.dot_general"`), len(ds), "every dot_general's types read")
			// Forward: 4 projections + 2 MLP per layer, scores and values per layer (per block with
			// blocks), the head; each has two gradient matmuls.
			layers := cfg.NumLayers
			attn := 2
			if tc.block > 0 {
				attn = 2 * (seq / tc.block)
			}
			require.Equal(t, 3*(layers*(6+attn)+1), len(ds), "matmuls in the step")
			byType := map[string]int{}
			for _, d := range ds {
				byType[elementType(d[0])+","+elementType(d[1])]++
			}
			if tc.compute == dtypes.BFloat16 {
				require.Equal(t, map[string]int{"bf16,bf16": len(ds)}, byType, "bf16 operands for every matmul")
			} else {
				require.Equal(t, map[string]int{"f32,f32": len(ds)}, byType)
			}
			main := program[strings.Index(program, "func.func @main"):]
			main = main[:strings.Index(main, "{")]
			require.NotContains(t, main, "bf16>", "master weights and optimizer state stay float32: %s", main)
			ops, scoreSized := census(program, batch*cfg.NumHeads*seq*seq/2)
			t.Logf("%s: %d bytes of StableHLO, %d ops, %d dot_general; %d ops with a result of at least half a "+
				"[%d, %d, %d, %d] score tensor; most common: %s", tc.name, len(program), ops.total, len(ds), scoreSized,
				batch, cfg.NumHeads, seq, seq, ops.top(6))
		})
	}
}

// TestRecurrentStepsOnXLABuilder builds the RNN baselines' training steps with XLA's builder, as
// the GPU grid runs them (the fused input projection, ForBackend("xla")): unrolled, and the graph
// of one chunk of rnn.ChunkedTrainer's backward pass (the chunk's forward from given states, the loss
// plus ⟨final states, their gradients⟩, gradients of the variables and of the first states).
func TestRecurrentStepsOnXLABuilder(t *testing.T) {
	s := start(t)
	const batch, seq = 8, 16
	for _, cell := range []rnn.Cell{rnn.LSTM, rnn.GRU} {
		cfg := rnn.Baseline(cell).ForBackend("xla")
		require.NoError(t, cfg.Validate())
		t.Run(string(cell)+"/unrolled", func(t *testing.T) {
			trainStep(t, s, "rnn_"+string(cell), func(ctx *context.Context, g *graph.Graph) *graph.Node {
				tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, seq))
				labels := graph.Parameter(g, "labels", shapes.Make(dtypes.Int32, batch, seq))
				return transformer.Loss(cfg.Logits(ctx, tokens), labels)
			})
		})
		t.Run(string(cell)+"/chunk", func(t *testing.T) {
			g := graph.NewGraph(s.Backend, "rnn_chunk_"+string(cell))
			ctx := context.New()
			tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, seq))
			labels := graph.Parameter(g, "labels", shapes.Make(dtypes.Int32, batch, seq))
			var states, dStates []*graph.Node
			for i := range cfg.NumStates() {
				shape := shapes.Make(dtypes.Float32, batch, cfg.HiddenDim)
				states = append(states, graph.Parameter(g, "state"+strconv.Itoa(i), shape))
				dStates = append(dStates, graph.Parameter(g, "dstate"+strconv.Itoa(i), shape))
			}
			logits, final := cfg.Forward(ctx, tokens, states)
			objective := transformer.Loss(logits, labels)
			for i := range final {
				objective = graph.Add(objective, graph.ReduceAllSum(graph.Mul(final[i], graph.StopGradient(dStates[i]))))
			}
			grads := ctx.BuildTrainableVariablesGradientsGraph(objective)
			grads = append(grads, graph.Gradient(objective, states...)...)
			program, err := s.Compile(g, grads...)
			require.NoError(t, err)
			require.Contains(t, program, "stablehlo.dot_general")
		})
	}
}

// TestDecodeOnXLABuilder builds the generator's graphs (transformer.DecodeLogits on the KV cache:
// a 64-token prefill and a one-token decode step) for GPT-2 small in bf16, as the end-to-end GPU
// run samples, with the cache variables' updates as outputs.
func TestDecodeOnXLABuilder(t *testing.T) {
	s := start(t)
	cfg := transformer.GPT2Small()
	cfg.ComputeDType = dtypes.BFloat16
	for _, n := range []int{64, 1} {
		g := graph.NewGraph(s.Backend, "decode"+strconv.Itoa(n))
		ctx := context.New()
		tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, 1, n))
		position := graph.Parameter(g, "position", shapes.Make(dtypes.Int32))
		outputs := []*graph.Node{transformer.DecodeLogits(ctx, cfg, tokens, position)}
		changed := 0
		for v := range ctx.IterVariables() {
			if v.ChangedInGraph(g) {
				outputs = append(outputs, v.ValueGraph(g))
				changed++
			}
		}
		require.Equal(t, 2*cfg.NumLayers, changed, "a key and a value cache per layer")
		program, err := s.Compile(g, outputs...)
		require.NoError(t, err, "decode %d", n)
		require.Contains(t, program, "stablehlo.dot_general")
	}
}

// TestVariableInitializationOnXLABuilder builds and compiles on the stub the graph with which GoMLX
// initialises a model's variables (random normal weights drawn from the context's RNG state): the
// first program a fresh training run gives XLA.
func TestVariableInitializationOnXLABuilder(t *testing.T) {
	s := start(t)
	cfg := transformer.Tiny()
	ctx := context.New()
	require.NoError(t, ctx.SetRNGStateFromSeed(1))
	g := graph.NewGraph(s.Backend, "variables")
	cfg.Logits(ctx, graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, 1, 8))) // creates them, without values
	err := ctx.InitializeVariables(s.Backend, nil)
	require.ErrorContains(t, err, xlastub.CompileOnly)
}
