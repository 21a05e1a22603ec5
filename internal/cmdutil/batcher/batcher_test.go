package batcher

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEpochsArePermutations(t *testing.T) {
	b := New(10, 5, 1)
	for range 3 {
		var epoch []int
		epoch = append(epoch, b.Next()...)
		epoch = append(epoch, b.Next()...)
		slices.Sort(epoch)
		require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, epoch)
	}
	c, d := New(10, 3, 7), New(10, 3, 7)
	for range 5 {
		require.Equal(t, c.Next(), d.Next(), "same seed, same batches")
	}
	require.Len(t, New(4, 10, 1).Next(), 4, "a batch larger than the set is the set")
}
