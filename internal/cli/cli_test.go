package cli

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPresetArg(t *testing.T) {
	require.Equal(t, "cpu", PresetArg(nil, "cpu"))
	require.Equal(t, "gpu", PresetArg([]string{"-steps", "3", "-preset", "gpu"}, "cpu"))
	require.Equal(t, "nanda", PresetArg([]string{"--preset=nanda"}, "cpu"))
	require.Equal(t, "x", PresetArg([]string{"-preset=x", "-preset", "y"}, "cpu"), "the first one")
	require.Equal(t, "cpu", PresetArg([]string{"-preset"}, "cpu"), "no value: the default (flag parsing reports it)")
}
