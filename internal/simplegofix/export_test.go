package simplegofix

// Uses returns how many times the block-kernel builder and the small-product kernel have been called.
func Uses() (block, small int64) { return uses[0].Load(), uses[1].Load() }
