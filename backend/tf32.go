package backend

import (
	"os"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

// EmulateTF32EnvVar, when set to 1, makes [New] and [NewWithConfig] wrap the backend with
// [EmulateTF32]: `BITTER_EMULATE_TF32=1 go test ./...` runs the tests on the CPU with the matmul
// precision they get from XLA on an NVIDIA GPU.
const EmulateTF32EnvVar = "BITTER_EMULATE_TF32"

// TF32 reports whether float32 matmuls on b take their operands in TensorFloat-32:
// 10 explicit mantissa bits instead of 23, a relative rounding of 2⁻¹¹ ≈ 4.9e-4, with float32
// accumulation. XLA does this on NVIDIA GPUs (Ampere and later) at the default precision, which is
// what GoMLX v0.26 asks for, as JAX does and PyTorch does not (torch.backends.cuda.matmul.allow_tf32).
// Tests compare float32 results with their references at tolerances that allow for it when TF32
// reports true. It is also true for a backend made by [EmulateTF32].
func TF32(b backends.Backend) bool {
	for w := b; w != nil; w = unwrap(w) {
		if _, ok := w.(tf32Backend); ok {
			return true
		}
	}
	u := underlying(b)
	return u.Name() == "xla" && customcall.CUDAPlugin(u.Description())
}

// EmulateTF32 returns b with the operands of every float32 matmul (Dot, DotGeneral) rounded to
// TF32, to nearest, by Veltkamp splitting (hi = c - (c - x) with c = x·(2¹³+1)): the precision XLA
// gives float32 matmuls on an NVIDIA GPU (see [TF32]). It is for checking on a CPU that a model, or
// a test's tolerance, stands that precision; its results are those of b otherwise. Operands above
// 4e34 in magnitude overflow the split.
func EmulateTF32(b backends.Backend) backends.Backend {
	if _, ok := b.(tf32Backend); ok {
		return b
	}
	return tf32Backend{b}
}

type tf32Backend struct{ backends.Backend }

func (b tf32Backend) Builder(name string) backends.Builder {
	return tf32Builder{b.Backend.Builder(name)}
}

func (b tf32Backend) Description() string {
	return b.Backend.Description() + " (float32 matmul operands rounded to TF32)"
}

type tf32Builder struct{ backends.Builder }

func (b tf32Builder) Dot(lhs, rhs backends.Op) (backends.Op, error) {
	lhs, rhs, err := b.roundOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return b.Builder.Dot(lhs, rhs)
}

func (b tf32Builder) DotGeneral(lhs backends.Op, lhsContractingAxes, lhsBatchAxes []int,
	rhs backends.Op, rhsContractingAxes, rhsBatchAxes []int) (backends.Op, error) {
	lhs, rhs, err := b.roundOperands(lhs, rhs)
	if err != nil {
		return nil, err
	}
	return b.Builder.DotGeneral(lhs, lhsContractingAxes, lhsBatchAxes, rhs, rhsContractingAxes, rhsBatchAxes)
}

// roundOperands returns both operands of a matmul through roundTF32.
func (b tf32Builder) roundOperands(lhs, rhs backends.Op) (backends.Op, backends.Op, error) {
	lhs, err := b.roundTF32(lhs)
	if err != nil {
		return nil, nil, err
	}
	rhs, err = b.roundTF32(rhs)
	return lhs, rhs, err
}

// roundTF32 rounds a float32 x to 11 significant bits (TF32's 10 explicit ones); other dtypes pass.
func (b tf32Builder) roundTF32(x backends.Op) (backends.Op, error) {
	shape, err := b.OpShape(x)
	if err != nil || shape.DType != dtypes.Float32 {
		return x, err
	}
	k, err := b.Constant([]float32{1<<13 + 1})
	if err != nil {
		return nil, err
	}
	if shape.Rank() > 0 {
		if k, err = b.BroadcastInDim(k, shapes.Make(dtypes.Float32, shape.Dimensions...), nil); err != nil {
			return nil, err
		}
	}
	c, err := b.Mul(x, k)
	if err != nil {
		return nil, err
	}
	d, err := b.Sub(c, x)
	if err != nil {
		return nil, err
	}
	return b.Sub(c, d)
}

// emulateTF32FromEnv wraps b with EmulateTF32 when EmulateTF32EnvVar is 1.
func emulateTF32FromEnv(b backends.Backend) backends.Backend {
	if os.Getenv(EmulateTF32EnvVar) == "1" {
		return EmulateTF32(b)
	}
	return b
}
