package backend

import (
	"fmt"
	"os"
	"strings"
)

// DeterministicEnvVar, when set to 1, asks XLA on a GPU for deterministic results: [New] adds
// --xla_gpu_deterministic_ops=true to XLA_FLAGS before the plugin starts, unless XLA_FLAGS sets that
// flag already. With XLA's defaults a GPU run is not reproducible bit for bit (a resumed GPT run's
// loss differed from the uninterrupted run's in the 7th digit on an H200): XLA may sum a scatter
// such as the embedding gradient with atomics in any order. Deterministic ops cost speed. XLA reads
// XLA_FLAGS once per process, so it must be set before the first XLA backend starts. The pure-Go
// backend is deterministic without it.
const DeterministicEnvVar = "BITTER_DETERMINISTIC"

// deterministicOpsFlag is XLA's switch for deterministic GPU ops.
const deterministicOpsFlag = "--xla_gpu_deterministic_ops"

// deterministic reports whether DeterministicEnvVar asks for deterministic ops; a value other than
// empty, 0 or 1 is an error naming the variable.
func deterministic() (bool, error) {
	switch v := strings.TrimSpace(os.Getenv(DeterministicEnvVar)); v {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, fmt.Errorf("backend: %s=%q: want 1 (deterministic ops on an XLA GPU) or 0", DeterministicEnvVar, v)
	}
}

// withDeterministicOps returns XLA_FLAGS with XLA's switch for deterministic GPU ops turned on,
// unless the flags already set it, either way.
func withDeterministicOps(flags string) string {
	for _, f := range strings.Fields(flags) {
		if f == deterministicOpsFlag || strings.HasPrefix(f, deterministicOpsFlag+"=") {
			return flags
		}
	}
	return strings.TrimSpace(strings.TrimSpace(flags) + " " + deterministicOpsFlag + "=true")
}
