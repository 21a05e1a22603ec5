//go:build bitter_customcall

package customcall

import "github.com/gomlx/gomlx/pkg/core/graph"

// graph.BitterCustomCall exists only in the modules' copies (WriteModules): a build with the tag
// and without them fails here, naming it.
func init() { impl, target = graph.BitterCustomCall, graph.BitterCustomCallTarget }
