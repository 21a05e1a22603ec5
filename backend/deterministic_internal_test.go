package backend

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWithDeterministicOps(t *testing.T) {
	for flags, want := range map[string]string{
		"":                                   "--xla_gpu_deterministic_ops=true",
		"--xla_dump_to=/tmp/d":               "--xla_dump_to=/tmp/d --xla_gpu_deterministic_ops=true",
		" --xla_gpu_autotune_level=0 ":       "--xla_gpu_autotune_level=0 --xla_gpu_deterministic_ops=true",
		"--xla_gpu_deterministic_ops=false":  "--xla_gpu_deterministic_ops=false", // the user's choice stands
		"--xla_gpu_deterministic_ops":        "--xla_gpu_deterministic_ops",
		"--xla_gpu_deterministic_ops_x=true": "--xla_gpu_deterministic_ops_x=true --xla_gpu_deterministic_ops=true",
	} {
		require.Equal(t, want, withDeterministicOps(flags), "XLA_FLAGS=%q", flags)
	}
}

func TestDeterministicEnvVar(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "1": true, " 1 ": true} {
		t.Setenv(DeterministicEnvVar, v)
		got, err := deterministic()
		require.NoError(t, err, v)
		require.Equal(t, want, got, v)
	}
	t.Setenv(DeterministicEnvVar, "yes")
	_, err := deterministic()
	require.ErrorContains(t, err, `BITTER_DETERMINISTIC="yes"`)
	_, err = NewWithConfig("go")
	require.ErrorContains(t, err, "BITTER_DETERMINISTIC", "a bad value stops the backend with the variable's name")
}
