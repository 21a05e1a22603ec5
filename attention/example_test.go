package attention_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
)

// One sequence of three tokens, one head of width 2. With a causal mask the first query can only
// see the first key, so its output is the first value; later queries average the values they see,
// weighted by softmax(q·k / sqrt(2)): the third query scores the first two keys equally (1/√2) and the
// third at 0, so it lands halfway between them and the third value, [5, 5].
func ExampleScaledDotProduct() {
	b, err := backend.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	q := [][][][]float32{{{{1, 0}}, {{0, 1}}, {{1, 1}}}} // [batch=1, seq=3, heads=1, headDim=2]
	k := [][][][]float32{{{{1, 0}}, {{0, 1}}, {{0, 0}}}}
	v := [][][][]float32{{{{10, 0}}, {{0, 10}}, {{5, 5}}}}
	out, err := graph.ExecOnce(b, func(q, k, v *graph.Node) *graph.Node {
		return attention.ScaledDotProduct(q, k, v, attention.Causal())
	}, q, k, v)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, row := range out.Value().([][][][]float32)[0] {
		fmt.Printf("query %d: [%.2f %.2f]\n", i, row[0][0], row[0][1])
	}
	// Output:
	// query 0: [10.00 0.00]
	// query 1: [3.30 6.70]
	// query 2: [5.00 5.00]
}
