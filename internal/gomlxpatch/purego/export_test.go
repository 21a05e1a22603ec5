package purego

import "github.com/gomlx/gomlx/backends"

// Uses returns how many times the block-kernel builder and the small-product kernel have been called.
func Uses() (block, small int64) { return uses[0].Load(), uses[1].Load() }

// OpUses returns how many times the replaced reduction, transposition, broadcast and slice have run.
func OpUses() (reduce, transpose, broadcast, slice int64) {
	return opUses[0].Load(), opUses[1].Load(), opUses[2].Load(), opUses[3].Load()
}

// BinaryInstalled reports whether the broadcasting binary ops are replaced, and if not, why.
func BinaryInstalled() error { return binaryErr }

// BinaryUses returns how many broadcasting binary ops have run here, and how many of them wrote
// into an operand's buffer.
func BinaryUses() (uses, reuses int64) { return binaryUses.Load(), binaryReuses.Load() }

// GoMLXVersion is the GoMLX release the executor table's layout is known for.
const GoMLXVersion = gomlxVersion

// WithStockDot runs f with simplego's own DotGeneral executor (its block and small-product paths,
// which the replaced kernels serve).
func WithStockDot(f func()) {
	if dotErr != nil {
		f()
		return
	}
	*executorSlot(backends.OpTypeDotGeneral) = stockDot
	defer func() { *executorSlot(backends.OpTypeDotGeneral) = ourDot }()
	f()
}

// DotInstalled reports whether the DotGeneral executor is installed, and if not, why.
func DotInstalled() error { return dotErr }

// DotUses returns how many products the executor ran with DotNT, DotKN (a in rows), DotKN (a in columns).
func DotUses() [3]int64 { return [3]int64{dotUses[0].Load(), dotUses[1].Load(), dotUses[2].Load()} }

// EqualUses returns how many binary ops of equal shapes have run here.
func EqualUses() int64 { return equalUses.Load() }

// ScalarUses returns how many binary ops with a one-element operand have run here.
func ScalarUses() int64 { return scalarUses.Load() }

// UnaryInstalled reports whether the float32 unary ops are replaced, and if not, why.
func UnaryInstalled() error { return unaryErr }

// UnaryUses returns how many float32 unary ops have run here, and how many of them wrote into their
// operand's buffer.
func UnaryUses() (uses, reuses int64) { return unaryUses.Load(), unaryReuses.Load() }
