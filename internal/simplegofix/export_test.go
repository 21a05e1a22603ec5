package simplegofix

// Uses returns how many times the block-kernel builder and the small-product kernel have been called.
func Uses() (block, small int64) { return uses[0].Load(), uses[1].Load() }

// OpUses returns how many times the replaced reduction, transposition and broadcast have run.
func OpUses() (reduce, transpose, broadcast int64) {
	return opUses[0].Load(), opUses[1].Load(), opUses[2].Load()
}

// BinaryInstalled reports whether the broadcasting binary ops are replaced, and if not, why.
func BinaryInstalled() error { return binaryErr }

// BinaryUses returns how many broadcasting binary ops have run here, and how many of them wrote
// into an operand's buffer.
func BinaryUses() (uses, reuses int64) { return binaryUses.Load(), binaryReuses.Load() }

// GoMLXVersion is the GoMLX release the executor table's layout is known for.
const GoMLXVersion = gomlxVersion
