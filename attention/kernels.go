package attention

import (
	"fmt"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

// Kernels chooses how attention is computed, never what: settings that change speed and memory,
// whose results agree up to rounding. The zero value picks each backend's default. Commands take
// them from environment variables (BITTER_CAUSAL_BLOCK, BITTER_CUDNN_ATTENTION; internal/cmdutil/cli);
// library code takes them as fields.
type Kernels struct {
	// CausalBlock is the query block of causal self-attention (see the [CausalBlock] option): 0 takes
	// [DefaultCausalBlock] for the graph's backend, a negative value turns blocks off, and n > 0
	// takes queries n at a time (e.g. 64).
	CausalBlock int
	// CuDNN chooses cuDNN's fused attention on XLA: [CuDNNAuto] (the zero value), [CuDNNNever] or
	// [CuDNNAlways].
	CuDNN CuDNN
}

// CuDNN chooses whether [ScaledDotProduct] runs on cuDNN's fused (flash) attention, in a binary
// built with custom calls (internal/gomlxpatch/customcall: the tag bitter_customcall and its copies
// of GoMLX and go-xla; benchmarks/gpu.sh builds one).
//
// The fused kernel computes softmax(scale·q·kᵀ)·v in blocks that never write the [batch, heads,
// qLen, kvLen] scores to memory, forward and backward (Dao et al. 2022); XLA reaches it, as JAX
// does, through the custom calls "__cudnn$fmhaSoftmax" and "__cudnn$fmhaSoftmaxBackward". It fits
// attention in bfloat16 or float16 with no [Mask], [Bias] or [Dropout] (while training), headDim =
// valueDim ≤ 128 and a multiple of 8, and, when [Causal], as many queries as keys; grouped-query heads
// as [ScaledDotProduct] takes them (query head h reads kv head h / (heads/kvHeads)), as cuDNN does.
type CuDNN string

// CuDNN settings.
const (
	// CuDNNAuto uses the fused kernel where the attention fits it, on XLA with a CUDA plugin, in a
	// binary built with custom calls; elsewhere it has no effect.
	CuDNNAuto CuDNN = ""
	// CuDNNNever keeps attention on this package's own graph.
	CuDNNNever CuDNN = "never"
	// CuDNNAlways uses the fused kernel wherever the attention fits, on any XLA backend (the
	// stand-in plugin of the tests, say); graph building panics when the kernel's custom call fails.
	// [Kernels.Validate] refuses it in a binary built without custom calls.
	CuDNNAlways CuDNN = "always"
)

// Validate returns an error naming a bad value, or nil.
func (k Kernels) Validate() error {
	switch k.CuDNN {
	case CuDNNAuto, CuDNNNever:
	case CuDNNAlways:
		if !customcall.Built() {
			return fmt.Errorf("CuDNN %q: this binary was built without custom calls: build it with "+
				"-tags %s -modfile \"$(go run ./internal/gomlxpatch/customcall/cmd/modules DIR)\" (see internal/gomlxpatch/customcall)",
				k.CuDNN, customcall.Tag)
		}
	default:
		return fmt.Errorf("CuDNN %q is not %q (auto), %q or %q", k.CuDNN, CuDNNAuto, CuDNNNever, CuDNNAlways)
	}
	return nil
}

// CausalBlockFor returns the query block causal self-attention takes on a backend by name (its
// String(): "go", "xla"), 0 for none: CausalBlock resolved against [DefaultCausalBlock].
func (k Kernels) CausalBlockFor(backendName string) int {
	switch {
	case k.CausalBlock > 0:
		return k.CausalBlock
	case k.CausalBlock < 0:
		return 0
	}
	return DefaultCausalBlock(backendName)
}

// options returns the [ScaledDotProduct] options that carry k.
func (k Kernels) options() []Option {
	opts := []Option{FusedCuDNN(k.CuDNN)}
	if k.CausalBlock != 0 {
		opts = append(opts, CausalBlock(max(k.CausalBlock, 0)))
	}
	return opts
}
