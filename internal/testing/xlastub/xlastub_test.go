package xlastub_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/xlastub"
)

var (
	stubOnce sync.Once
	stub     *xlastub.Stub
	stubErr  error
	stubDir  string
)

// start returns the process's one stub, skipping where it cannot start: no C compiler, or a build
// without XLA (CGO_ENABLED=0, -tags noxla).
func start(t *testing.T) *xlastub.Stub {
	t.Helper()
	if _, err := xlastub.Compiler(); err != nil {
		t.Skip(err)
	}
	if !slices.Contains(backends.List(), "xla") {
		t.Skip("built without XLA")
	}
	stubOnce.Do(func() {
		dir, err := os.MkdirTemp("", "xlastub")
		if err != nil {
			stubErr = err
			return
		}
		stubDir = dir
		stub, stubErr = xlastub.Start(dir)
	})
	require.NoError(t, stubErr)
	return stub
}

// TestMain removes the stub's folder (the plugin and the programs it was given, program-N.mlir)
// after the tests; with XLASTUB_KEEP=1 it keeps it and prints where it is, to read the programs.
func TestMain(m *testing.M) {
	code := m.Run()
	if stubDir != "" && os.Getenv("XLASTUB_KEEP") == "1" {
		fmt.Println("xlastub: programs kept in", stubDir)
	} else if stubDir != "" {
		os.RemoveAll(stubDir)
	}
	os.Exit(code)
}

func TestStubCompilesAMatmulGradient(t *testing.T) {
	s := start(t)
	require.Contains(t, s.Backend.Description(), "xlastub")
	g := graph.NewGraph(s.Backend, "matmul")
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 8, 16))
	w := graph.Parameter(g, "w", shapes.Make(dtypes.Float32, 16, 4))
	loss := graph.ReduceAllSum(graph.DotGeneral(x, []int{1}, nil, w, []int{0}, nil))
	grad := graph.Gradient(loss, w)[0]
	program, err := s.Compile(g, loss, grad)
	require.NoError(t, err)
	require.Contains(t, program, "func.func @main")
	require.GreaterOrEqual(t, strings.Count(program, "stablehlo.dot_general"), 2, "forward and gradient matmuls:\n%s", program)
}

// TestDeterministicOnAGPUPlugin: with BITTER_DETERMINISTIC=1, starting XLA on a GPU plugin (one
// whose path names cuda, as the stand-in's does here) adds XLA's switch for deterministic ops to
// XLA_FLAGS before the plugin starts, keeping the flags already there; on a plugin that is not a
// GPU's, XLA_FLAGS is left alone.
func TestDeterministicOnAGPUPlugin(t *testing.T) {
	start(t) // skips where the stand-in cannot be built
	for _, tc := range []struct{ dir, want string }{
		{"cuda", "--xla_dump_to=/tmp/d --xla_gpu_deterministic_ops=true"},
		{"cpu", "--xla_dump_to=/tmp/d"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), tc.dir)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			plugin, err := xlastub.Build(dir)
			require.NoError(t, err)
			t.Setenv("XLA_FLAGS", "--xla_dump_to=/tmp/d")
			t.Setenv(backend.DeterministicEnvVar, "1")
			t.Setenv("GOPJRT_CUDA_CHECKS", "0") // go-xla looks for CUDA libraries beside a plugin named cuda
			b, err := backend.NewWithConfig("xla:" + plugin)
			require.NoError(t, err)
			defer b.Finalize()
			require.Equal(t, tc.want, os.Getenv("XLA_FLAGS"))
		})
	}
}
