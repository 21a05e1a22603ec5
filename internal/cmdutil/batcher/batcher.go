// Package batcher draws seeded mini-batches of example indices for the examples that train on a
// fixed set (grokking, double descent): each epoch a new permutation, no example twice in an epoch.
package batcher

import "math/rand/v2"

// Batcher draws batches of indices in [0, n).
type Batcher struct {
	n, size int
	rng     *rand.Rand
	perm    []int
	pos     int
}

// New returns a batcher of batches of size (at most n) over n examples, seeded.
func New(n, size int, seed uint64) *Batcher {
	return &Batcher{n: n, size: min(size, n), rng: rand.New(rand.NewPCG(seed, 0x6261746368))}
}

// Next returns the next batch; the slice is valid until the following call.
func (b *Batcher) Next() []int {
	if b.perm == nil || b.pos+b.size > b.n {
		b.perm, b.pos = b.rng.Perm(b.n), 0
	}
	out := b.perm[b.pos : b.pos+b.size]
	b.pos += b.size
	return out
}
