package positional_test

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/positional"
)

// RoPE rotates each pair (x[i], x[i+headDim/2]) by the angle p·base^(-2i/headDim): position 0 is
// left as it is, and the rotation preserves the vector's norm.
func ExampleRoPE() {
	b, err := backend.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	x := [][][][]float32{{{{1, 0, 0, 1}}, {{1, 0, 0, 1}}, {{1, 0, 0, 1}}}} // [batch=1, seq=3, heads=1, headDim=4]
	positions := []int32{0, 1, 2}
	out, err := graph.ExecOnce(b, func(x, p *graph.Node) *graph.Node {
		return positional.RoPE(x, p, 10000)
	}, x, positions)
	if err != nil {
		fmt.Println(err)
		return
	}
	for p, row := range out.Value().([][][][]float32)[0] {
		r := row[0]
		fmt.Printf("position %d: [%.4f %.4f %.4f %.4f]\n", p, r[0], r[1], r[2], r[3])
	}
	// Output:
	// position 0: [1.0000 0.0000 0.0000 1.0000]
	// position 1: [0.5403 -0.0100 0.8415 0.9999]
	// position 2: [-0.4161 -0.0200 0.9093 0.9998]
}
