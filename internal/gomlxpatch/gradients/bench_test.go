package gradients_test

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/gradients"
)

// BenchmarkDenseGradient compares the gradient of a Transformer MLP's first projection,
// [32, 128, 128] x [128, 512] (batch 32, T=128, 128 wide, FFN 512), built with this package's
// DotGeneral gradient and with GoMLX v0.26's own.
//
//	go test -run '^$' -bench DenseGradient -benchtime 3x ./internal/gomlxpatch/gradients
func BenchmarkDenseGradient(b *testing.B) {
	for _, v := range []struct {
		name string
		vjp  graph.VJP
	}{{"fixed", gradients.DotGeneralVJP}, {"stock", gradients.StockDotGeneralVJP}} {
		b.Run(v.name, func(b *testing.B) {
			benchGradient(b, graph.NodeTypeDotGeneral, v.vjp, func(x, w *graph.Node) []*graph.Node {
				y := graph.DotGeneral(x, []int{2}, nil, w, []int{0}, nil)
				return graph.Gradient(graph.ReduceAllSum(graph.Square(y)), x, w)
			}, randTensor32(32, 128, 128), randTensor32(128, 512))
		})
	}
}

// BenchmarkMatMulGradient compares the gradient of graph.MatMul([512, 128], [128, 512]) (a Dot
// node), built with this package's Dot gradient and with GoMLX v0.26's own ([512, 128, 512] cube).
//
//	go test -run '^$' -bench MatMulGradient -benchtime 3x ./internal/gomlxpatch/gradients
func BenchmarkMatMulGradient(b *testing.B) {
	for _, v := range []struct {
		name string
		vjp  graph.VJP
	}{{"fixed", gradients.DotVJP}, {"stock", gradients.StockDotVJP}} {
		b.Run(v.name, func(b *testing.B) {
			benchGradient(b, graph.NodeTypeDot, v.vjp, func(x, w *graph.Node) []*graph.Node {
				return graph.Gradient(graph.ReduceAllSum(graph.Square(graph.MatMul(x, w))), x, w)
			}, randTensor32(512, 128), randTensor32(128, 512))
		})
	}
}

// benchGradient times a graph (a gradient) built with vjp registered for nodeType, compiled
// outside the timer, reporting ms/step.
func benchGradient(b *testing.B, nodeType graph.NodeType, vjp graph.VJP, fn func(x, w *graph.Node) []*graph.Node, x, w *tensors.Tensor) {
	saved := graph.VJPRegistration[nodeType]
	graph.VJPRegistration[nodeType] = vjp
	defer func() { graph.VJPRegistration[nodeType] = saved }()
	exec, err := graph.NewExec(backend.MustShared(), fn)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := exec.Exec(x, w); err != nil { // Compile outside the timer.
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		outs, err := exec.Exec(x, w)
		if err != nil {
			b.Fatal(err)
		}
		for _, o := range outs {
			o.FinalizeAll()
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N), "ms/step")
	b.ReportMetric(0, "ns/op")
}

func randTensor32(dims ...int) *tensors.Tensor {
	size := 1
	for _, d := range dims {
		size *= d
	}
	data := make([]float32, size)
	for i := range data {
		data[i] = float32((i*7919)%1000)/1000 - 0.5
	}
	return tensors.FromFlatDataAndDimensions(data, dims...)
}
