package positional

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/gomlx/gomlx/pkg/ml/context/initializers"
)

// LearnedVariable is the name of the learned position table inside the context scope given to
// [Learned]: a `[maxSeqLen, dim]` variable, initialised N(0, 0.02²) as in GPT-2.
const LearnedVariable = "embeddings"

// Learned returns trained absolute position embeddings for the Int32 positions, `[seq]` or
// `[batch, seq]`, as `[seq, dim]` or `[batch, seq, dim]`. The table is the variable
// [LearnedVariable] in ctx's scope, of shape `[maxSeqLen, dim]` and the given dtype.
//
// Positions are data, so their values can't be checked while the graph is built: callers check
// their sequence length against maxSeqLen first (transformer.Config does). Here the static length is
// checked: positions with more than maxSeqLen entries on their sequence axis panic with the shapes.
func Learned(ctx *context.Context, positions *graph.Node, maxSeqLen, dim int, dtype dtypes.DType) *graph.Node {
	if maxSeqLen < 1 || dim < 1 {
		panic(fmt.Sprintf("positional.Learned: maxSeqLen (%d) and dim (%d) must be positive", maxSeqLen, dim))
	}
	if !positions.DType().IsInt() || positions.Rank() < 1 || positions.Rank() > 2 {
		panic(fmt.Sprintf("positional.Learned: positions must be integer [seq] or [batch, seq], got %s", positions.Shape()))
	}
	if seq := positions.Shape().Dimensions[positions.Rank()-1]; seq > maxSeqLen {
		panic(fmt.Sprintf("positional.Learned: sequence length %d (positions %s) exceeds MaxSeqLen %d",
			seq, positions.Shape(), maxSeqLen))
	}
	table := ctx.WithInitializer(initializers.RandomNormalFn(ctx, 0.02)).
		VariableWithShape(LearnedVariable, shapes.Make(dtype, maxSeqLen, dim)).ValueGraph(positions.Graph())
	return graph.Gather(table, graph.InsertAxes(positions, -1))
}
