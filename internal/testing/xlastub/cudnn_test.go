//go:build bitter_customcall

package xlastub_test

// Run with the modules' copies that give graphs custom calls (internal/gomlxpatch/customcall):
//
//	go test -tags bitter_customcall -modfile "$(go run ./internal/gomlxpatch/customcall/cmd/modules /tmp/cc)" ./internal/testing/xlastub

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/lm"
	"github.com/bitterlesson/bitter/transformer"
)

// customCall matches a custom call: its results, operands, attributes and types, on one line or
// several (the StableHLO builder writes one attribute per line).
var customCall = regexp.MustCompile(`(?s)(%[^=]*) = "stablehlo\.custom_call"\(([^)]*)\) \{(.*?)\n\s*\} : \(([^)]*)\) -> \(([^)]*)\)`)

// TestGPT2SmallStepWithCuDNNAttention builds the GPT-2 small bf16 step of TestGPT2SmallStepOnXLABuilder
// with cuDNN's fused attention (attention.CuDNNAlways, as auto on a CUDA plugin) and checks the program
// XLA would be given: one forward and one backward custom call per layer, with JAX's operands,
// results, layouts and backend config, and no score-sized tensor anywhere.
func TestGPT2SmallStepWithCuDNNAttention(t *testing.T) {
	s := start(t)
	const batch, seq = 16, 1024
	cfg := transformer.GPT2Small()
	cfg.TieEmbeddings, cfg.ComputeDType = false, dtypes.BFloat16
	cfg.Kernels.CuDNN = attention.CuDNNAlways
	require.NoError(t, cfg.Validate())
	before := attention.CuDNNCalls()
	program := trainStep(t, s, "gpt2_cudnn", func(ctx *context.Context, g *graph.Graph) *graph.Node {
		tokens := graph.Parameter(g, "tokens", shapes.Make(dtypes.Int32, batch, seq))
		labels := graph.Parameter(g, "labels", shapes.Make(dtypes.Int32, batch, seq))
		return lm.Loss(cfg.Logits(ctx, tokens), labels)
	})
	require.Equal(t, int64(cfg.NumLayers), attention.CuDNNCalls()-before, "attentions built on cuDNN's kernel")
	heads, hd := cfg.NumHeads, cfg.ModelDim/cfg.NumHeads
	btnh := fmt.Sprintf("tensor<%dx%dx%dx%dxbf16>", batch, seq, heads, hd)
	bnth := fmt.Sprintf("tensor<%dx%dx%dx%dxbf16>", batch, heads, seq, hd)
	stats := fmt.Sprintf("tensor<%dx%dx%dxf32>", batch, heads, seq)
	row4 := "dense<[3, 2, 1, 0]> : tensor<4xindex>"
	row3 := "dense<[2, 1, 0]> : tensor<3xindex>"
	seqMajor := "dense<[3, 1, 2, 0]> : tensor<4xindex>"
	work := "dense<[0]> : tensor<1xindex>"

	calls := customCall.FindAllStringSubmatch(program, -1)
	require.Equal(t, strings.Count(program, `"stablehlo.custom_call"`), len(calls), "every custom call read")
	byTarget := map[string]int{}
	for _, c := range calls {
		attrs, operands, results := c[3], strings.Split(c[4], ", "), strings.Split(c[5], ", ")
		target := regexp.MustCompile(`call_target_name = "([^"]*)"`).FindStringSubmatch(attrs)
		require.NotNil(t, target, attrs)
		byTarget[target[1]]++
		require.Contains(t, attrs, "api_version = 2 : i32")
		raw := regexp.MustCompile(`backend_config = ("(?:[^"\\]|\\.)*")`).FindStringSubmatch(attrs)
		require.NotNil(t, raw, attrs)
		var text string
		require.NoError(t, json.Unmarshal([]byte(raw[1]), &text), "the config is a quoted string")
		var config struct {
			Fmha map[string]any `json:"cudnn_fmha_backend_config"`
		}
		require.NoError(t, json.Unmarshal([]byte(text), &config), text)
		require.Equal(t, "CAUSAL", config.Fmha["mask_type"])
		require.Equal(t, true, config.Fmha["is_flash_attention"])
		require.InDelta(t, 0.125, config.Fmha["fmha_scale"], 1e-12, "1/sqrt(64)")
		switch target[1] {
		case "__cudnn$fmhaSoftmax":
			require.Equal(t, []string{btnh, btnh, btnh}, operands, "q, k, v")
			require.Equal(t, []string{bnth, stats, "tensor<0xui8>"}, results, "output, softmax statistics, workspace")
			require.Contains(t, attrs, "operand_layouts = ["+strings.Join([]string{row4, row4, row4}, ", ")+"]")
			require.Contains(t, attrs, "result_layouts = ["+strings.Join([]string{seqMajor, row3, work}, ", ")+"]")
			require.Contains(t, config.Fmha, "bmm1_dot_dimension_numbers")
		case "__cudnn$fmhaSoftmaxBackward":
			require.Equal(t, []string{btnh, btnh, btnh, stats, btnh, btnh}, operands, "q, k, v, statistics, dO, O")
			require.Equal(t, []string{bnth, bnth, bnth, "tensor<0xui8>"}, results, "dq, dk, dv, workspace")
			require.Contains(t, attrs, "operand_layouts = ["+strings.Join([]string{row4, row4, row4, row3, row4, row4}, ", ")+"]")
			require.Contains(t, attrs, "result_layouts = ["+strings.Join([]string{seqMajor, seqMajor, seqMajor, work}, ", ")+"]")
			require.Contains(t, config.Fmha, "bmm2_grad_gemm2_dot_dimension_numbers")
		default:
			t.Fatalf("unexpected custom call %q", target[1])
		}
	}
	require.Equal(t, map[string]int{"__cudnn$fmhaSoftmax": cfg.NumLayers, "__cudnn$fmhaSoftmaxBackward": cfg.NumLayers}, byTarget)

	// Attention's two products are gone from the dot_generals, and nothing is score-sized.
	require.Equal(t, 3*(cfg.NumLayers*6+1), len(dots(program)), "matmuls: projections, MLP and head, with their gradients")
	scores := fmt.Sprintf("tensor<%dx%dx%dx%dx", batch, heads, seq, seq)
	require.NotContains(t, program, scores, "no tensor of the scores' shape")
	ops, large := census(program, batch*heads*seq*seq/2)
	t.Logf("%d bytes of StableHLO, %d ops, %d of them with a result of half the scores' size or more (the logits'); most common: %s",
		len(program), ops.total, large, ops.top(6))

	// What the backward still reads from the forward pass (the custom calls' own results, on lines of
	// several results, are not counted): for GPU-NOTES' account of the step's traffic.
	kept, total := keptForBackward(program, 20<<20)
	var lines []string
	for _, k := range kept {
		lines = append(lines, k.String())
		require.False(t, strings.HasPrefix(k.tensorType, scores), "score-sized tensor kept: %s", k.tensorType)
	}
	t.Logf("%.2f GB of forward results (20 MB or more each) read by the backward:\n%s", float64(total)/1e9, strings.Join(lines, "\n"))

	// Where LLVM's mlir-opt is installed (Debian: mlir-16-tools), the program must parse as MLIR.
	opt, err := exec.LookPath("mlir-opt")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/llvm-*/bin/mlir-opt")
		if len(matches) == 0 {
			t.Log("mlir-opt not installed: the program's syntax is not checked")
			return
		}
		opt = matches[len(matches)-1]
	}
	f := filepath.Join(t.TempDir(), "step.mlir")
	require.NoError(t, os.WriteFile(f, []byte(program), 0o644))
	out, err := exec.Command(opt, "--allow-unregistered-dialect", "--mlir-print-op-generic", "-o", os.DevNull, f).CombinedOutput()
	require.NoError(t, err, "%s does not parse the program: %s", opt, out)
	t.Logf("%s parses the program", opt)
}

// TestCuDNNGroupedQueryOnXLABuilder: with fewer kv heads than query heads, the custom calls take k
// and v with their own heads and the backward gives dk and dv with them.
func TestCuDNNGroupedQueryOnXLABuilder(t *testing.T) {
	s := start(t)
	g := graph.NewGraph(s.Backend, "gqa_cudnn")
	q := graph.Parameter(g, "q", shapes.Make(dtypes.BFloat16, 2, 16, 8, 64))
	k := graph.Parameter(g, "k", shapes.Make(dtypes.BFloat16, 2, 16, 2, 64))
	v := graph.Parameter(g, "v", shapes.Make(dtypes.BFloat16, 2, 16, 2, 64))
	out := attention.ScaledDotProduct(q, k, v, attention.Causal(), attention.FusedCuDNN(attention.CuDNNAlways))
	loss := graph.ReduceAllSum(graph.ConvertDType(out, dtypes.Float32))
	grads := graph.Gradient(loss, q, k, v)
	program, err := s.Compile(g, append([]*graph.Node{loss}, grads...)...)
	require.NoError(t, err)
	calls := customCall.FindAllStringSubmatch(program, -1)
	require.Len(t, calls, 2)
	require.Equal(t, "tensor<2x16x8x64xbf16>, tensor<2x16x2x64xbf16>, tensor<2x16x2x64xbf16>", calls[0][4])
	require.Equal(t, "tensor<2x8x16x64xbf16>, tensor<2x8x16xf32>, tensor<0xui8>", calls[0][5])
	require.Equal(t, "tensor<2x8x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<2x2x16x64xbf16>, tensor<0xui8>", calls[1][5], "dq, dk, dv")
	require.Contains(t, calls[0][3], `\"dimensions\":[\"2\",\"8\",\"16\",\"16\"]`, "the scores' shape has the query heads")
}
