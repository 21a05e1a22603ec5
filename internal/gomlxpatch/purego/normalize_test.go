package purego

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/stretchr/testify/require"
)

func TestAsSwap(t *testing.T) {
	for _, c := range []struct {
		name            string
		dims            []int
		contract, batch []int
		want            swap
		ok              bool
	}{
		{"weight_gradient", []int{4, 16, 128}, []int{0, 1}, nil, swap{1, 64, 128, 1}, true},
		{"weight", []int{128, 512}, []int{0}, nil, swap{1, 128, 512, 1}, true},
		{"activation_in_order", []int{4, 16, 128}, []int{2}, nil, inOrder, true},
		{"attention_query", []int{2, 64, 4, 32}, []int{3}, []int{0, 2}, swap{2, 64, 4, 32}, true},
		{"attention_keys_contracted_over_q", []int{2, 64, 4, 32}, []int{1}, []int{0, 2}, swap{2, 64, 128, 1}, true},
		{"batch_axes_reversed", []int{3, 4, 5, 6}, []int{3}, []int{2, 0}, swap{1, 12, 5, 6}, true},
		{"three_groups_reversed", []int{3, 4, 5}, []int{0}, []int{2}, swap{}, false},
		{"size_one_axes_move_nothing", []int{1, 5, 1, 7}, []int{3}, []int{2}, inOrder, true},
		{"contracting_axes_reversed", []int{3, 4, 5}, []int{2, 1}, nil, swap{3, 4, 5, 1}, true},
	} {
		got, ok := asSwap(c.dims, c.contract, c.batch)
		require.Equal(t, c.ok, ok, c.name)
		if ok {
			require.Equal(t, c.want, got, c.name)
		}
	}
}

// TestNormalizerMatchesStock: on random layouts (ranks 1 to 5, axes randomly batch, contracting or
// cross, in random orders), the replacement gives exactly simplego's own normalised data, whether
// it copies, falls back or finds the data already in order.
func TestNormalizerMatchesStock(t *testing.T) {
	if stockNormalize == nil {
		t.Skip(installErr)
	}
	b, err := simplego.New("")
	require.NoError(t, err)
	backend := b.(*simplego.Backend)
	defer backend.Finalize()
	ours := normalizer(stockNormalize)
	rng := rand.New(rand.NewPCG(21, 22))
	swaps := 0
	for range 400 {
		rank := 1 + rng.IntN(5)
		dims := make([]int, rank)
		for i := range dims {
			dims[i] = []int{1, 2, 3, 5, 33, 70}[rng.IntN(6)]
		}
		var contract, batch []int
		for _, a := range rng.Perm(rank) {
			switch rng.IntN(3) {
			case 0:
				contract = append(contract, a)
			case 1:
				batch = append(batch, a)
			}
		}
		size := func(axes []int) int {
			n := 1
			for _, a := range axes {
				n *= dims[a]
			}
			return n
		}
		total := size(slices.Collect(func(yield func(int) bool) {
			for a := range rank {
				if !yield(a) {
					return
				}
			}
		}))
		batchSize, contractSize := size(batch), size(contract)
		crossSize := total / batchSize / contractSize
		if total > 1<<18 {
			continue
		}
		src := backend.NewBuffer(shapes.Make(dtypes.Float32, dims...))
		data := float32s(src)
		for i := range data {
			data[i] = float32(rng.NormFloat64())
		}
		flat := func(b *simplego.Buffer) []float32 {
			if b == nil {
				return data
			}
			return float32s(b)[:total]
		}
		want := flat(stockNormalize(backend, src, contract, batch, batchSize, crossSize, contractSize))
		got := flat(ours(backend, src, contract, batch, batchSize, crossSize, contractSize))
		require.Equal(t, want, got, "dims %v contracting %v batch %v", dims, contract, batch)
		if s, ok := asSwap(dims, contract, batch); ok && s != inOrder {
			swaps++
		}
	}
	require.Greater(t, swaps, 50, "layouts the fast copy handled")
}

// TestSwapCopyInParallel: large enough for the copy to split into bands and planes.
func TestSwapCopyInParallel(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, s := range []swap{{1, 300, 257, 1}, {3, 130, 70, 1}, {2, 100, 40, 9}} {
		n := s.outer * s.x * s.y * s.inner
		src, dst := make([]float32, n), make([]float32, n)
		for i := range src {
			src[i] = float32(rng.NormFloat64())
		}
		s.copy(dst, src)
		for o := range s.outer {
			for i := range s.x {
				for j := range s.y {
					for r := range s.inner {
						require.Equal(t, src[((o*s.x+i)*s.y+j)*s.inner+r], dst[((o*s.y+j)*s.x+i)*s.inner+r], "%+v", s)
					}
				}
			}
		}
	}
}

// BenchmarkSwapCopy: elements per second of the transpositions a 1M-parameter transformer step at
// T=64 hands over: the operands of weight gradients, and attention's [b, q, h, d] -> [b, h, q, d].
func BenchmarkSwapCopy(b *testing.B) {
	for _, s := range []swap{{1, 4096, 128, 1}, {1, 4096, 512, 1}, {64, 64, 4, 32}} {
		b.Run(fmt.Sprintf("%d_%d_%d_%d", s.outer, s.x, s.y, s.inner), func(b *testing.B) {
			n := s.outer * s.x * s.y * s.inner
			src, dst := make([]float32, n), make([]float32, n)
			for b.Loop() {
				s.copy(dst, src)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}
