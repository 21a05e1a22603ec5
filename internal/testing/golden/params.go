package golden

import (
	"sort"
	"strings"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// LoadParams creates a variable in ctx for each of params, keyed by its scope path from the root
// ("layer_0/attention/query/weights"; a key without a slash names a variable at the root), with its
// value in dtype. It returns the keys sorted and the number of scalars they hold.
func LoadParams(ctx *context.Context, params map[string]Array, dtype dtypes.DType) (keys []string, scalars int) {
	for key, a := range params {
		scope, name := splitKey(key)
		ctx.InAbsPath(scope).VariableWithValue(name, a.Tensor(dtype))
		keys = append(keys, key)
		scalars += len(a.Data)
	}
	sort.Strings(keys)
	return keys, scalars
}

// ParamNodes returns the values in g of the variables LoadParams made for keys: what a test takes
// gradients with respect to.
func ParamNodes(ctx *context.Context, keys []string, g *graph.Graph) []*graph.Node {
	nodes := make([]*graph.Node, len(keys))
	for i, key := range keys {
		scope, name := splitKey(key)
		nodes[i] = ctx.InAbsPath(scope).GetVariable(name).ValueGraph(g)
	}
	return nodes
}

// splitKey splits "a/b/name" into the absolute scope "/a/b" and "name".
func splitKey(key string) (scope, name string) {
	i := strings.LastIndex(key, "/")
	return "/" + key[:max(i, 0)], key[i+1:]
}
