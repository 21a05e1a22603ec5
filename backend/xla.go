//go:build ((linux && amd64) || darwin) && cgo && !noxla

package backend

import (
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/gomlx/go-xla/pkg/pjrt"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla" // XLA/PJRT through go-xla: GOMLX_BACKEND=xla:cuda or xla:/path/plugin.so.
)

// PreallocateEnvVar, when set to 1, keeps XLA's own GPU memory policy (take 75% of the card at
// start). By default bitter asks a GPU plugin to allocate as it goes, so that another process (a
// PyTorch peer in the same benchmark, a second experiment) can share the card, and so that the
// card's memory in use tells how much a program needs.
const PreallocateEnvVar = "BITTER_XLA_PREALLOCATE"

func init() {
	newXLA = newXLABackend
	compiledMemory = xlaCompiledMemory
	isXLA = func(b backends.Backend) bool { _, ok := b.(*xla.Backend); return ok }
}

// loadedExecutableType is the type of the field of GoMLX's xla.Executable that holds go-xla's
// compiled program, whose memory statistics go-xla reads when it loads the program.
var loadedExecutableType = reflect.TypeFor[*pjrt.LoadedExecutable]()

// xlaCompiledMemory reads the device memory statistics of a program the XLA backend compiled.
// GoMLX v0.26.0 keeps go-xla's LoadedExecutable in an unexported field ("exec") of its Executable;
// it is read by reflection, and a GoMLX that names or types it differently gives no statistics
// rather than an error (TestTrackMemoryThroughXLA in internal/testing/xlastub checks this version).
func xlaCompiledMemory(e backends.Executable) (CompiledMemory, bool) {
	x, ok := e.(*xla.Executable)
	if !ok || x == nil {
		return CompiledMemory{}, false
	}
	f := reflect.ValueOf(x).Elem().FieldByName("exec")
	if !f.IsValid() || f.Type() != loadedExecutableType || f.IsNil() {
		return CompiledMemory{}, false
	}
	m := (*pjrt.LoadedExecutable)(f.UnsafePointer()).OnDeviceMemoryUsageStats
	return CompiledMemory{Arguments: m.Inputs, Outputs: m.Outputs, Aliases: m.Aliases, Temporary: m.Temporary, Code: m.GeneratedCode}, true
}

// newXLABackend starts the XLA backend for the part of the configuration after "xla:".
func newXLABackend(config string) (backends.Backend, error) {
	plugin, _, _ := strings.Cut(config, ",")
	gpu := strings.Contains(plugin, "cuda") || strings.Contains(plugin, "rocm") || strings.Contains(plugin, "gpu")
	if on, _ := deterministic(); on && gpu {
		if err := os.Setenv("XLA_FLAGS", withDeterministicOps(os.Getenv("XLA_FLAGS"))); err != nil {
			return nil, fmt.Errorf("backend: setting XLA_FLAGS for %s: %w", DeterministicEnvVar, err)
		}
	}
	if !gpu || os.Getenv(PreallocateEnvVar) == "1" {
		return xla.New(config)
	}
	b, err := xla.NewWithOptions(config, pjrt.NamedValuesMap{"preallocate": false})
	if err != nil {
		// A plugin that does not know the option: start it with its defaults, and say so.
		fmt.Fprintf(os.Stderr, "backend: %s without preallocate=false (%v)\n", config, err)
		return xla.New(config)
	}
	return b, nil
}
