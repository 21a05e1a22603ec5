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

	"github.com/bitterlesson/bitter/internal/testing/xlastub"
	"github.com/bitterlesson/bitter/lm"
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
			cfg.Kernels.CausalBlock = tc.block // 0: XLA's default, no blocks
			require.NoError(t, cfg.Validate())
			program := trainStep(t, s, "gpt2_"+tc.name, func(ctx *context.Context, g *graph.Graph) *graph.Node {
				tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, seq))
				labels := graph.Parameter(g, "labels", shapes.Make(dtypes.Int32, batch, seq))
				return lm.Loss(cfg.Logits(ctx, tokens), labels)
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
			// What the backward reads from the forward pass: the probabilities attention keeps for it
			// must be in the compute dtype, never float32 (GoMLX's own softmax derivative kept
			// exp(scores) in float32, 805 MB a layer).
			kept, total := keptForBackward(program, 20<<20)
			require.NotEmpty(t, kept)
			var lines []string
			for _, k := range kept {
				lines = append(lines, k.String())
				if strings.HasPrefix(k.tensorType, fmt.Sprintf("tensor<%dx%dx%dx%dx", batch, cfg.NumHeads, seq, seq)) && tc.block == 0 {
					want := "bf16"
					if tc.compute != dtypes.BFloat16 {
						want = "f32"
					}
					require.Equal(t, want, elementType(k.tensorType), "score-sized tensors kept for the backward: %s", k.tensorType)
					require.Equal(t, cfg.NumLayers, k.count, "one score-sized tensor kept per layer: %s %s", k.op, k.tensorType)
				}
			}
			t.Logf("%s: %.2f GB of forward results (20 MB or more each) read by the backward:\n%s",
				tc.name, float64(total)/1e9, strings.Join(lines, "\n"))
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
				return lm.Loss(cfg.Logits(ctx, tokens), labels)
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
			objective := lm.Loss(logits, labels)
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

// keptTensor is a group of forward-pass results of one type and op that the backward pass reads.
type keptTensor struct {
	tensorType, op string
	count          int
	bytes          int64
}

// String is the group as the tests log it: its bytes, count, op and type.
func (k keptTensor) String() string {
	return fmt.Sprintf("%6.2f GB in %2d × %s %s", float64(k.bytes)/1e9, k.count, k.op, k.tensorType)
}

var (
	opDef     = regexp.MustCompile(`^    (%[\w#]+)(?::\d+)?\s*=\s*"?stablehlo\.([a-z_]+)`)
	opResult  = regexp.MustCompile(`->\s*(tensor<[^>]*>)\s*$`)
	valueRef  = regexp.MustCompile(`%[\w#]+`)
	tensorDim = regexp.MustCompile(`^tensor<((?:\d+x)*)(bf16|f32|f64|i32|i64|i1)>$`)
)

// keptForBackward reads a train step's StableHLO (the loss its first output) and returns the
// forward-pass results of at least minBytes that live backward ops read, grouped by type and op,
// largest first: what XLA must keep between the passes unless it recomputes it. Dead ops (GoMLX
// builds gradients through StopGradient before dropping them; XLA removes them) are left out, as are
// reshapes, broadcasts, constants, iotas and compares, which XLA recomputes or aliases.
func keptForBackward(program string, minBytes int64) (groups []keptTensor, total int64) {
	type def struct {
		line     int
		op, typ  string
		operands []string
	}
	defs := map[string]*def{}
	var cur *def
	var outputs []string
	for i, line := range strings.Split(program, "\n") {
		switch m := opDef.FindStringSubmatch(line); {
		case m != nil:
			cur = &def{line: i, op: m[2], operands: valueRef.FindAllString(line[strings.Index(line, "=")+1:], -1)}
			if r := opResult.FindStringSubmatch(line); r != nil {
				cur.typ = r[1]
			}
			defs[m[1]] = cur
		case strings.HasPrefix(line, `    "stablehlo.return"`):
			outputs, cur = valueRef.FindAllString(line, -1), nil
		case cur != nil && (strings.HasPrefix(line, "      ") || strings.HasPrefix(line, "    }")):
			// A region (a reduction's body) or the closing line of a multi-line op: its result type.
			if r := opResult.FindStringSubmatch(line); r != nil && strings.HasPrefix(line, "    }") {
				cur.typ = r[1]
			}
			cur.operands = append(cur.operands, valueRef.FindAllString(line, -1)...)
		}
	}
	if len(outputs) == 0 || defs[outputs[0]] == nil {
		return nil, 0
	}
	live := map[string]bool{}
	for stack := outputs; len(stack) > 0; {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if live[n] || defs[n] == nil {
			continue
		}
		live[n] = true
		stack = append(stack, defs[n].operands...)
	}
	lossLine := defs[outputs[0]].line
	kept := map[string]bool{}
	for n := range live {
		if defs[n].line <= lossLine {
			continue
		}
		for _, o := range defs[n].operands {
			if d := defs[o]; d != nil && d.line <= lossLine && live[o] {
				kept[o] = true
			}
		}
	}
	byKey := map[[2]string]*keptTensor{}
	for n := range kept {
		d := defs[n]
		switch d.op {
		case "reshape", "broadcast_in_dim", "constant", "iota", "compare":
			continue
		}
		m := tensorDim.FindStringSubmatch(d.typ)
		if m == nil {
			continue
		}
		size := map[string]int64{"bf16": 2, "f32": 4, "f64": 8, "i32": 4, "i64": 8, "i1": 1}[m[2]]
		for _, s := range strings.Split(strings.TrimSuffix(m[1], "x"), "x") {
			if s != "" {
				v, _ := strconv.ParseInt(s, 10, 64)
				size *= v
			}
		}
		if size < minBytes {
			continue
		}
		k := [2]string{d.typ, d.op}
		if byKey[k] == nil {
			byKey[k] = &keptTensor{tensorType: d.typ, op: d.op}
		}
		byKey[k].count++
		byKey[k].bytes += size
		total += size
	}
	for _, g := range byKey {
		groups = append(groups, *g)
	}
	sort.Slice(groups, func(i, j int) bool {
		if groups[i].bytes != groups[j].bytes {
			return groups[i].bytes > groups[j].bytes
		}
		return groups[i].tensorType < groups[j].tensorType
	})
	return groups, total
}
