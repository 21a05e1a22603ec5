package backend

import (
	"sync"

	"github.com/gomlx/gomlx/backends"
)

// CompiledMemory is a compiler's account of the device memory one compiled program needs, in bytes
// (XLA's CompiledMemoryStats, read through PJRT): its arguments, its outputs, the part of the
// outputs that reuses argument buffers, its temporaries (activations kept for the backward pass,
// gradients, workspace) and its generated code.
type CompiledMemory struct {
	Arguments, Outputs, Aliases, Temporary, Code int64
}

// Total is what the program needs on the device while it runs: arguments + outputs - aliases +
// temporaries + code. For a training step that is the step's peak, the number to compare with
// PyTorch's torch.cuda.max_memory_allocated.
func (m CompiledMemory) Total() int64 {
	return m.Arguments + m.Outputs - m.Aliases + m.Temporary + m.Code
}

// MemoryTracker collects the CompiledMemory of every program compiled through a backend that
// [TrackMemory] returned. Safe for concurrent use.
type MemoryTracker struct {
	mu       sync.Mutex
	max      CompiledMemory
	programs int
}

// Max returns the largest program (by Total) compiled since the last Reset, and whether any
// program reported its memory. The pure-Go backend reports none.
func (t *MemoryTracker) Max() (CompiledMemory, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.max, t.programs > 0
}

// Reset forgets the programs compiled so far (between benchmark cells, say).
func (t *MemoryTracker) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.max, t.programs = CompiledMemory{}, 0
}

func (t *MemoryTracker) add(m CompiledMemory) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.programs == 0 || m.Total() > t.max.Total() {
		t.max = m
	}
	t.programs++
}

// compiledMemory reads a compiled program's memory statistics; set by the XLA backend's file of this
// package where it is built, nil otherwise.
var compiledMemory func(backends.Executable) (CompiledMemory, bool)

// TrackMemory returns b, wrapped so that every program compiled through it reports its compiled
// memory to the returned tracker, when b is the XLA backend; any other backend comes back as it is,
// with a tracker that stays empty. Use the returned backend in b's place.
func TrackMemory(b backends.Backend) (backends.Backend, *MemoryTracker) {
	t := &MemoryTracker{}
	if compiledMemory == nil || !isXLA(underlying(b)) {
		return b, t
	}
	return &trackedBackend{Backend: b, tracker: t}, t
}

// unwrap returns the backend one of bitter's own wrappers ([EmulateTF32], [TrackMemory]) holds, or
// nil when b is none of them.
func unwrap(b backends.Backend) backends.Backend {
	switch w := b.(type) {
	case tf32Backend:
		return w.Backend
	case *trackedBackend:
		return w.Backend
	}
	return nil
}

// underlying returns the backend under all of bitter's own wrappers.
func underlying(b backends.Backend) backends.Backend {
	for u := unwrap(b); u != nil; u = unwrap(b) {
		b = u
	}
	return b
}

// isXLA says whether b is GoMLX's XLA backend; set with compiledMemory.
var isXLA = func(backends.Backend) bool { return false }

type trackedBackend struct {
	backends.Backend
	tracker *MemoryTracker
}

func (b *trackedBackend) Builder(name string) backends.Builder {
	return &trackedBuilder{Builder: b.Backend.Builder(name), tracker: b.tracker}
}

type trackedBuilder struct {
	backends.Builder
	tracker *MemoryTracker
}

func (b *trackedBuilder) Compile(outputs []backends.Op, shardings []*backends.ShardingSpec) (backends.Executable, error) {
	e, err := b.Builder.Compile(outputs, shardings)
	if err == nil {
		if m, ok := compiledMemory(e); ok {
			b.tracker.add(m)
		}
	}
	return e, err
}
