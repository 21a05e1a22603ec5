package linear_test

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/linear"
)

// TestDense: x·W + b in float64 against the sums written out here, the variables where the doc says
// (weights [in, out], biases [out]) in param's dtype, and with float32 master weights and a bfloat16
// input: the result in bfloat16, within bfloat16's rounding of the float64 sums.
func TestDense(t *testing.T) {
	const batch, seq, in, out = 2, 3, 4, 5
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float64, batch*seq*in)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for _, c := range []struct {
		name      string
		input     dtypes.DType
		param     dtypes.DType
		tolerance float64
	}{{"float64", dtypes.Float64, dtypes.Float64, 1e-12}, {"mixed_bfloat16", dtypes.BFloat16, dtypes.Float32, 0.05}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.New()
			require.NoError(t, ctx.SetRNGStateFromSeed(3))
			bias := []float64{0, 1, 2, 3, 4} // out of them
			if c.param == dtypes.Float32 {
				ctx.In("proj").VariableWithValue(linear.BiasesVar, []float32{0, 1, 2, 3, 4})
			} else {
				ctx.In("proj").VariableWithValue(linear.BiasesVar, bias)
			}
			outs, err := context.ExecOnceN(backend.MustShared(), ctx, func(ctx *context.Context, x *graph.Node) []*graph.Node {
				y := linear.Dense(ctx.In("proj").Checked(false), graph.ConvertDType(x, c.input), out, true, c.param)
				return []*graph.Node{graph.ConvertDType(y, dtypes.Float64), graph.ConvertDType(ctx.In("proj").GetVariable(linear.WeightsVar).ValueGraph(x.Graph()), dtypes.Float64)}
			}, tensors.FromFlatDataAndDimensions(x, batch, seq, in))
			require.NoError(t, err)
			require.Equal(t, c.param, ctx.In("proj").GetVariable(linear.WeightsVar).Shape().DType)
			require.Equal(t, []int{batch, seq, out}, outs[0].Shape().Dimensions)
			require.Equal(t, []int{in, out}, outs[1].Shape().Dimensions)
			y := tensors.MustCopyFlatData[float64](outs[0])
			w := tensors.MustCopyFlatData[float64](outs[1])
			for r := range batch * seq {
				for j := range out {
					want := bias[j]
					for k := range in {
						want += x[r*in+k] * w[k*out+j]
					}
					require.InDelta(t, want, y[r*out+j], c.tolerance*(1+abs(want)), "row %d, output %d", r, j)
				}
			}
		})
	}
}

func abs(x float64) float64 { return max(x, -x) }
