// Package golden reads the reference vectors that testdata/generate.py scripts write with PyTorch,
// and compares results against them. Test-only helpers; not part of the public API.
package golden

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/dtypes/bfloat16"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/bitterlesson/bitter/backend"
)

// Tolerances (relative error in the max norm, see [RelErr]) of float32 results against PyTorch's
// float64 where float32 matmuls run in TF32 (XLA on an NVIDIA GPU; see backend.TF32): operands with
// 10 mantissa bits instead of 23. Measured on the golden cases, largest values / gradients:
//   - `BITTER_EMULATE_TF32=1 go test ./...` (operands rounded to nearest), every package:
//     8.9e-4 / 3.3e-3;
//   - tf32.py beside this file (PyTorch, the transformer and attention cases, tf32.txt): rounded to
//     nearest 8.9e-4 / 3.9e-3, truncated (tensor cores fed raw float32) 2.7e-3 / 9.2e-3.
//
// The tolerances are about twice the truncated figures.
const (
	TF32Tol     = 5e-3
	TF32GradTol = 2e-2
)

// Tol returns the tolerances for values and gradients computed in dtype on b: tol and gradTol,
// raised to [TF32Tol] and [TF32GradTol] for float32 on a backend whose float32 matmuls run in TF32.
func Tol(b backends.Backend, dtype dtypes.DType, tol, gradTol float64) (float64, float64) {
	if dtype == dtypes.Float32 && backend.TF32(b) {
		return max(tol, TF32Tol), max(gradTol, TF32GradTol)
	}
	return tol, gradTol
}

// Array is a float64 tensor as the generators write it: a shape and row-major data.
type Array struct {
	Shape []int     `json:"shape"`
	Data  []float64 `json:"data"`
}

// Load decodes the JSON file at path into v.
func Load(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("golden: %w (regenerate with the testdata/generate.py beside it)", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("golden: decoding %s: %w", path, err)
	}
	return nil
}

// Tensor returns a as a tensor of the given dtype (Float32, Float64 or Bool; Bool is data != 0).
func (a Array) Tensor(dtype dtypes.DType) *tensors.Tensor {
	switch dtype {
	case dtypes.Float64:
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), a.Data...), a.Shape...)
	case dtypes.Float32:
		d := make([]float32, len(a.Data))
		for i, x := range a.Data {
			d[i] = float32(x)
		}
		return tensors.FromFlatDataAndDimensions(d, a.Shape...)
	case dtypes.Bool:
		d := make([]bool, len(a.Data))
		for i, x := range a.Data {
			d[i] = x != 0
		}
		return tensors.FromFlatDataAndDimensions(d, a.Shape...)
	case dtypes.Int32:
		d := make([]int32, len(a.Data))
		for i, x := range a.Data {
			d[i] = int32(x)
		}
		return tensors.FromFlatDataAndDimensions(d, a.Shape...)
	}
	panic(fmt.Sprintf("golden: unsupported dtype %s", dtype))
}

// Float64s returns the values of a float tensor as float64.
func Float64s(t *tensors.Tensor) []float64 {
	switch t.DType() {
	case dtypes.Float64:
		return tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x)
		}
		return out
	case dtypes.BFloat16:
		f := tensors.MustCopyFlatData[bfloat16.BFloat16](t)
		out := make([]float64, len(f))
		for i, x := range f {
			out[i] = float64(x.Float32())
		}
		return out
	}
	panic(fmt.Sprintf("golden: Float64s of %s", t.Shape()))
}

// RelErr is the relative error of got against want in the max norm:
// max|got - want| / max|want|. A reference that is zero up to rounding (max|want| < 1e-9: the
// gradient of key biases, which the softmax cancels, say) is compared in absolute terms,
// max|got - want|. It is +Inf when lengths differ or got has a NaN.
func RelErr(got, want []float64) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var maxDiff, maxWant float64
	for i := range want {
		d := math.Abs(got[i] - want[i])
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		maxDiff = max(maxDiff, d)
		maxWant = max(maxWant, math.Abs(want[i]))
	}
	if maxWant < 1e-9 {
		return maxDiff
	}
	return maxDiff / maxWant
}

// Check reports, through errorf, when got's shape differs from want's or RelErr exceeds tol.
func Check(errorf func(format string, args ...any), name string, got *tensors.Tensor, want Array, tol float64) {
	if fmt.Sprint(got.Shape().Dimensions) != fmt.Sprint(want.Shape) {
		errorf("%s: shape %v, want %v", name, got.Shape().Dimensions, want.Shape)
		return
	}
	if e := RelErr(Float64s(got), want.Data); e > tol {
		errorf("%s: relative error %.3g > %.3g", name, e, tol)
	}
}

// PanicMessage runs fn and returns the message it panicked with (a string, or an error's text),
// and whether it panicked at all.
func PanicMessage(fn func()) (msg string, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			switch v := r.(type) {
			case string:
				msg = v
			case error:
				msg = v.Error()
			default:
				msg = fmt.Sprint(v)
			}
		}
	}()
	fn()
	return "", false
}
