package backend

import "testing"

func TestCUDAPlugin(t *testing.T) {
	for desc, want := range map[string]bool{
		`xla:cuda - PJRT "cuda" plugin (/usr/local/lib/gomlx/pjrt/pjrt_c_api_cuda_plugin.so) v0.83 [StableHLO] [1 device(s)]`:                                                                       true,
		`xla:/usr/lib/python3/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so - PJRT plugin (/usr/lib/python3/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so) v0.83 [1 device(s)]`: true,
		`xla:cpu - PJRT "cpu" plugin (/usr/local/cuda/lib/pjrt_c_api_cpu_plugin.so) v0.83 [1 device(s)]`:                                                                                            false,
		`xla:/opt/cuda/pjrt_c_api_cpu_plugin.so - PJRT plugin (/opt/cuda/pjrt_c_api_cpu_plugin.so) v0.83 [1 device(s)]`:                                                                             false,
	} {
		if got := cudaPlugin(desc); got != want {
			t.Errorf("cudaPlugin(%q) = %v, want %v", desc, got, want)
		}
	}
}
