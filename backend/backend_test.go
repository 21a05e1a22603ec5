package backend_test

import (
	"io"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/purego"
)

func TestConfig(t *testing.T) {
	fast := "," + backend.FastDotOption
	if purego.Installed() != nil { // BITTER_STOCK_DOT=1
		fast = ""
	}
	t.Setenv(backend.EnvVar, "")
	require.Equal(t, backend.DefaultConfig+fast, backend.Config())
	t.Setenv(backend.EnvVar, "  go:ops_sequential ")
	require.Equal(t, "go:ops_sequential"+fast, backend.Config())
	// A bare "go" would run GoMLX's deadlocking default mode: it means DefaultConfig.
	t.Setenv(backend.EnvVar, "go")
	require.Equal(t, backend.DefaultConfig+fast, backend.Config())
	// A configuration that picks simplego's DotGeneral path keeps it; XLA's gets nothing added.
	t.Setenv(backend.EnvVar, "go:dotgeneral_large")
	require.Equal(t, "go:dotgeneral_large", backend.Config())
	t.Setenv(backend.EnvVar, "xla:cuda")
	require.Equal(t, "xla:cuda", backend.Config())
}

func TestDefaultIsPureGo(t *testing.T) {
	t.Setenv(backend.EnvVar, "")
	b, err := backend.New()
	require.NoError(t, err)
	defer b.Finalize()
	require.Equal(t, "go", b.String())
	out, err := graph.ExecOnce(b, func(x *graph.Node) *graph.Node { return graph.MulScalar(x, 2) }, []float32{1, 2})
	require.NoError(t, err)
	require.Equal(t, []float32{2, 4}, out.Value())
}

func TestBadConfigIsAnError(t *testing.T) {
	_, err := backend.NewWithConfig("nosuch:thing")
	require.ErrorContains(t, err, `backend "nosuch" (from GOMLX_BACKEND="nosuch:thing") is not compiled in; available:`)
	_, err = backend.NewWithConfig("go:no_such_option")
	require.ErrorContains(t, err, `backend "go:no_such_option`) // (bitter's FastDotOption may follow)
	require.ErrorContains(t, err, `failed to start: unknown configuration option "no_such_option"`)
}

// TestDefaultDoesNotDeadlock runs the training step of a small causal attention layer under
// backend.DefaultConfig (and under a bare "go", which means the same), with a deadline. In GoMLX
// v0.26's default parallel mode (GoMLX's own reading of "go") it can hang: the weight gradients
// make several DotGenerals ready at once, each op holds one of the pool's 2·NumCPU slots while its
// DotGeneral waits in workersPool.WaitToStart for more (goroutine dump taken here on 2 cores: 4 ops
// in execDotGeneral, 5 waiters, nothing running). To see it hang, BITTER_DEADLOCK_CONFIG=go starts
// the backend through GoMLX directly.
func TestDefaultDoesNotDeadlock(t *testing.T) {
	for _, config := range []string{backend.DefaultConfig, "go"} {
		b, err := backend.NewWithConfig(config)
		require.NoError(t, err)
		if raw := os.Getenv("BITTER_DEADLOCK_CONFIG"); raw != "" {
			config = raw
			b, err = backends.NewWithConfig(raw)
			require.NoError(t, err)
		}
		trainStepWithin(t, b, config, 60*time.Second)
	}
}

func trainStepWithin(t *testing.T, b backends.Backend, config string, deadline time.Duration) {
	cfg := attention.Config{ModelDim: 16, NumHeads: 4, NumKVHeads: 2, RoPE: true, QKNorm: true}
	x := make([][][]float32, 2)
	for i := range x {
		x[i] = make([][]float32, 5)
		for j := range x[i] {
			x[i][j] = make([]float32, 16)
			for k := range x[i][j] {
				x[i][j][k] = float32((i*31+j*17+k*7)%13)/13 - 0.5
			}
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := context.ExecOnceN(b, context.New(), func(ctx *context.Context, x *graph.Node) []*graph.Node {
			y := attention.MultiHead(ctx, cfg, x, attention.Args{Causal: true})
			wrt := []*graph.Node{x} // Gradients of every weight: many DotGenerals ready at once.
			for v := range ctx.IterVariables() {
				wrt = append(wrt, v.ValueGraph(x.Graph()))
			}
			return graph.Gradient(graph.ReduceAllSum(graph.Square(y)), wrt...)
		}, x)
		done <- err
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(deadline):
		t.Fatalf("backend %q hung on a training step with concurrent DotGenerals", config)
	}
}

func TestNewKeepsStdoutClean(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stdout
	os.Stdout = w
	b, err := backend.NewWithConfig(backend.DefaultConfig)
	os.Stdout = saved
	require.NoError(t, w.Close())
	require.NoError(t, err)
	b.Finalize()
	printed, err := io.ReadAll(r)
	require.NoError(t, err)
	require.Empty(t, string(printed))
}

// TestTrackMemoryOnPureGo: the pure-Go backend reports no compiled memory, so TrackMemory gives it
// back unwrapped with a tracker that stays empty. (Through XLA: internal/testing/xlastub's
// TestTrackMemoryThroughXLA.)
func TestTrackMemoryOnPureGo(t *testing.T) {
	b, err := backend.NewWithConfig(backend.DefaultConfig)
	require.NoError(t, err)
	defer b.Finalize()
	tracked, mem := backend.TrackMemory(b)
	require.Equal(t, b, tracked)
	out, err := graph.ExecOnce(tracked, func(x *graph.Node) *graph.Node { return graph.MulScalar(x, 2) }, []float32{1, 2})
	require.NoError(t, err)
	require.Equal(t, []float32{2, 4}, out.Value())
	_, ok := mem.Max()
	require.False(t, ok)
	require.Equal(t, int64(10+4-3+7+1), backend.CompiledMemory{Arguments: 10, Outputs: 4, Aliases: 3, Temporary: 7, Code: 1}.Total())
}

// TestHostMemory: on Linux the available memory is known and plausible (between 16 MB and 64 TB).
func TestHostMemory(t *testing.T) {
	m, ok := backend.HostMemory()
	if runtime.GOOS != "linux" {
		t.Skipf("HostMemory on %s: %d, %v", runtime.GOOS, m, ok)
	}
	require.True(t, ok)
	require.Greater(t, m, uint64(16<<20))
	require.Less(t, m, uint64(64<<40))
}
