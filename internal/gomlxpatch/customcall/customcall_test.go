package customcall

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCUDAPlugin(t *testing.T) {
	for desc, want := range map[string]bool{
		`xla:cuda - PJRT "cuda" plugin (/usr/local/lib/gomlx/pjrt/pjrt_c_api_cuda_plugin.so) v0.83 [StableHLO] [1 device(s)]`:                                                                       true,
		`xla:/usr/lib/python3/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so - PJRT plugin (/usr/lib/python3/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so) v0.83 [1 device(s)]`: true,
		`xla:cpu - PJRT "cpu" plugin (/usr/local/cuda/lib/pjrt_c_api_cpu_plugin.so) v0.83 [1 device(s)]`:                                                                                            false,
		`xla:/opt/cuda/pjrt_c_api_cpu_plugin.so - PJRT plugin (/opt/cuda/pjrt_c_api_cpu_plugin.so) v0.83 [1 device(s)]`:                                                                             false,
	} {
		if got := CUDAPlugin(desc); got != want {
			t.Errorf("CUDAPlugin(%q) = %v, want %v", desc, got, want)
		}
	}
}

// TestWriteModules writes the modules' copies and checks what a build with them needs: the modfile
// replaces GoMLX and go-xla with the copies, each added file is in its package folder, the copies'
// other files are the module cache's; a folder it did not write is refused, one it wrote replaced.
func TestWriteModules(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	dir := filepath.Join(t.TempDir(), "cc")
	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	mod, err := WriteModules(dir, filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, Modfile), mod)
	text, err := os.ReadFile(mod)
	require.NoError(t, err)
	for _, a := range additions {
		cp := filepath.Join(dir, filepath.Base(a.module))
		require.Contains(t, string(text), "replace "+a.module+" => "+cp)
		added, err := os.ReadFile(filepath.Join(cp, filepath.FromSlash(a.folder), addedName))
		require.NoError(t, err)
		src, _ := overlayFiles.ReadFile("overlay/" + a.file)
		require.Equal(t, string(src), string(added))
		info, err := os.Lstat(filepath.Join(cp, "go.mod"))
		require.NoError(t, err)
		require.NotZero(t, info.Mode()&os.ModeSymlink, "%s's go.mod is a link to the module cache's", a.module)
	}
	_, err = os.Stat(filepath.Join(dir, "customcall.sum"))
	require.NoError(t, err)
	// Written again over its own folder: fine. Over a folder of anything else: refused, untouched.
	_, err = WriteModules(dir, filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	other := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(other, "keep.txt"), []byte("mine"), 0o644))
	_, err = WriteModules(other, filepath.Join(root, "go.mod"))
	require.ErrorContains(t, err, "not empty")
	_, err = os.Stat(filepath.Join(other, "keep.txt"))
	require.NoError(t, err)
}

// TestUnavailableWithoutTheTag: a build without custom calls fails every call, naming the way to
// build one, and finds no custom call anywhere.
func TestUnavailableWithoutTheTag(t *testing.T) {
	if Built() {
		t.Skip("built with custom calls")
	}
	_, err := Call(nil, Spec{Target: "x"}, nil)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Contains(t, err.Error(), "-tags "+Tag)
	require.Equal(t, "", Target(nil))
}
