package positional

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// maxTableElements bounds [SinusoidalTable]: 2^30 values, 8 GiB of float64, far above any model's
// table, where seqLen × dim would otherwise overflow or the allocation fail.
const maxTableElements = 1 << 30

// SinusoidalTable returns the sinusoidal encoding as a row-major `[seqLen, dim]` table, computed in
// float64: PE[p, 2i] = sin(p / 10000^(2i/dim)) and PE[p, 2i+1] = cos(p / 10000^(2i/dim)).
// An odd dim ends with a sine column. It returns an error for non-positive sizes and for a table of
// more than 2^30 values.
func SinusoidalTable(seqLen, dim int) ([]float64, error) {
	if seqLen <= 0 || dim <= 0 {
		return nil, fmt.Errorf("positional.Sinusoidal: seqLen (%d) and dim (%d) must be positive", seqLen, dim)
	}
	if seqLen > maxTableElements/dim {
		return nil, fmt.Errorf("positional.Sinusoidal: seqLen %d × dim %d is more than a table of %d values", seqLen, dim, maxTableElements)
	}
	table := make([]float64, seqLen*dim)
	for p := range seqLen {
		for j := range dim {
			i2 := j - j%2 // 2i
			angle := float64(p) / math.Pow(10000, float64(i2)/float64(dim))
			if j%2 == 0 {
				table[p*dim+j] = math.Sin(angle)
			} else {
				table[p*dim+j] = math.Cos(angle)
			}
		}
	}
	return table, nil
}

// Sinusoidal returns the fixed sinusoidal position encoding of Vaswani et al. 2017 as a constant
// `[seqLen, dim]` of the given float dtype (computed in float64, then converted).
// It panics for non-positive sizes or a non-float dtype.
func Sinusoidal(g *graph.Graph, dtype dtypes.DType, seqLen, dim int) *graph.Node {
	if !dtype.IsFloat() {
		panic(fmt.Sprintf("positional.Sinusoidal: dtype %s is not a float type", dtype))
	}
	table, err := SinusoidalTable(seqLen, dim)
	if err != nil {
		panic(err.Error())
	}
	pe := graph.Const(g, tensors.FromFlatDataAndDimensions(table, seqLen, dim))
	if dtype != dtypes.Float64 {
		pe = graph.ConvertDType(pe, dtype)
	}
	return pe
}
