package backend_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
)

func TestConfig(t *testing.T) {
	t.Setenv(backend.EnvVar, "")
	require.Equal(t, backend.DefaultConfig, backend.Config())
	t.Setenv(backend.EnvVar, "  go:parallelism=-1 ")
	require.Equal(t, "go:parallelism=-1", backend.Config())
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
	require.ErrorContains(t, err, `backend "go:no_such_option" failed to start`)
}
