// Command xlaprobe checks, in a few seconds, that the configured backend (GOMLX_BACKEND) starts,
// compiles and computes: a softmax cross-entropy over a matrix product, and its gradient with
// respect to the weights, on random inputs, against the same sums done here in float64.
//
//	GOMLX_BACKEND=xla:/path/to/xla_cuda_plugin.so go run ./benchmarks/cmd/xlaprobe
//
// It prints the backend's description (for XLA: the PJRT plugin, its path and C API version), the
// relative errors, compile and run times, and a last line "xlaprobe: PASS" or "xlaprobe: FAIL ...";
// the exit status is 0 only for PASS. benchmarks/gpu.sh runs it first, once with go-xla as it is
// and once padded (internal/gomlxpatch/pjrtpad), to pick the build that works with the card's plugin.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/internal/testing/golden"
)

// Tol bounds the relative errors (golden.RelErr, max norm): float32 matmuls run in TF32 on the GPU,
// as the golden tests allow for; a wrong result (unwritten memory, a misread argument) is off by
// order 1, a NaN infinitely.
const Tol = golden.TF32Tol

// Result is what one probe measured.
type Result struct {
	Description         string
	LossErr, GradErr    float64 // relative to the float64 reference
	Compile, Run        time.Duration
	Batch, Dim, Classes int
}

// Probe builds loss = mean_i(logsumexp(x_i·W) - (x_i·W)[label_i]) and d loss/dW on b, runs them on
// random inputs drawn from seed, and compares with the float64 computation.
func Probe(b backends.Backend, seed uint64) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil { // GoMLX reports graph and backend failures by panicking
			err = fmt.Errorf("%v", r)
		}
	}()
	const n, d, c = 64, 128, 96
	res = Result{Description: b.Description(), Batch: n, Dim: d, Classes: c}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	x, w := make([]float32, n*d), make([]float32, d*c)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	for i := range w {
		w[i] = float32(rng.NormFloat64() / math.Sqrt(d))
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(rng.IntN(c))
	}

	exec, err := graph.NewExec(b, func(x, w, labels *graph.Node) []*graph.Node {
		logits := graph.DotGeneral(x, []int{1}, nil, w, []int{0}, nil) // as the library multiplies (internal/gomlxpatch/gradients's gradient)
		onehot := graph.OneHot(labels, c, dtypes.Float32)
		loss := graph.Neg(graph.ReduceAllSum(graph.Mul(graph.LogSoftmax(logits, -1), onehot)))
		loss = graph.DivScalar(loss, n)
		return []*graph.Node{loss, graph.Gradient(loss, w)[0]}
	})
	if err != nil {
		return res, err
	}
	xt := tensors.FromFlatDataAndDimensions(x, n, d)
	wt := tensors.FromFlatDataAndDimensions(w, d, c)
	lt := tensors.FromFlatDataAndDimensions(labels, n)
	start := time.Now()
	outs, err := exec.Exec(xt, wt, lt)
	if err != nil {
		return res, err
	}
	loss := tensors.MustCopyFlatData[float32](outs[0])
	grad := tensors.MustCopyFlatData[float32](outs[1])
	res.Compile = time.Since(start)
	var runs []time.Duration
	for range 10 {
		start = time.Now()
		o, err := exec.Exec(xt, wt, lt)
		if err != nil {
			return res, err
		}
		tensors.MustCopyFlatData[float32](o[1])
		runs = append(runs, time.Since(start))
	}
	slices.Sort(runs)
	res.Run = runs[len(runs)/2]

	wantLoss, wantGrad := reference(x, w, labels, n, d, c)
	res.LossErr = golden.RelErr([]float64{float64(loss[0])}, []float64{wantLoss})
	res.GradErr = golden.RelErr(float64s(grad), wantGrad)
	return res, nil
}

// reference computes the loss and d loss/dW in float64.
func reference(x, w []float32, labels []int32, n, d, c int) (float64, []float64) {
	grad := make([]float64, d*c)
	var loss float64
	logits := make([]float64, c)
	for i := range n {
		mx := math.Inf(-1)
		for j := range c {
			var s float64
			for k := range d {
				s += float64(x[i*d+k]) * float64(w[k*c+j])
			}
			logits[j] = s
			mx = max(mx, s)
		}
		var z float64
		for j := range c {
			z += math.Exp(logits[j] - mx)
		}
		loss += mx + math.Log(z) - logits[labels[i]]
		for j := range c {
			p := math.Exp(logits[j]-mx) / z
			if int32(j) == labels[i] {
				p--
			}
			for k := range d {
				grad[k*c+j] += float64(x[i*d+k]) * p / float64(n)
			}
		}
	}
	return loss / float64(n), grad
}

// float64s widens xs.
func float64s(xs []float32) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

func main() {
	seed := flag.Uint64("seed", 1, "random seed of the inputs")
	flag.Parse()
	b, err := backend.New()
	if err != nil {
		fmt.Println("xlaprobe: FAIL:", err)
		os.Exit(1)
	}
	res, err := Probe(b, *seed)
	fmt.Println("backend:", res.Description)
	if err != nil {
		fmt.Println("xlaprobe: FAIL:", err)
		os.Exit(1)
	}
	fmt.Printf("softmax cross-entropy of [%d,%d]x[%d,%d]: loss rel. error %.2e, gradient rel. error %.2e (tolerance %.0e)\n",
		res.Batch, res.Dim, res.Dim, res.Classes, res.LossErr, res.GradErr, Tol)
	fmt.Printf("compile and first run %v, then %v a run (median of 10)\n", res.Compile.Round(time.Millisecond), res.Run.Round(time.Microsecond))
	if !(res.LossErr <= Tol && res.GradErr <= Tol) { // NaN fails
		fmt.Println("xlaprobe: FAIL: results differ from the float64 reference")
		os.Exit(1)
	}
	fmt.Println("xlaprobe: PASS")
}
