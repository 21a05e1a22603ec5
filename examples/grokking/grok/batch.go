package grok

import "math/rand/v2"

// batcher draws seeded mini-batches of indices, each epoch a new permutation.
type batcher struct {
	n, size int
	rng     *rand.Rand
	perm    []int
	pos     int
}

func newBatcher(n, size int, seed uint64) *batcher {
	return &batcher{n: n, size: min(size, n), rng: rand.New(rand.NewPCG(seed, 0x6261746368))}
}

func (b *batcher) next() []int {
	if b.perm == nil || b.pos+b.size > b.n {
		b.perm, b.pos = b.rng.Perm(b.n), 0
	}
	out := b.perm[b.pos : b.pos+b.size]
	b.pos += b.size
	return out
}
