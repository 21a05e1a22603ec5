package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bitterlesson/bitter/internal/testing/xlastub"
)

// goXLADir is the go-xla module folder this build uses, skipping the test where it cannot be found.
func goXLADir(t *testing.T) string {
	t.Helper()
	dir, err := xlastub.GoXLADir()
	if err != nil {
		t.Skip(err)
	}
	return dir
}

// compiler returns the C compiler, skipping the test where there is none: cgo needs one too, so a
// machine without it builds bitter without XLA.
func compiler(t *testing.T) string {
	t.Helper()
	cc, err := xlastub.Compiler()
	if err != nil {
		t.Skip(err)
	}
	return cc
}

var traitsRe = regexp.MustCompile(`PJRT_DEFINE_STRUCT_TRAITS\(\s*(PJRT_\w+),`)

// structSizes compiles a C program against the header in dir and returns each struct's STRUCT_SIZE,
// sizeof and (for those in withStructSize) the offset of its struct_size field.
func structSizes(t *testing.T, dir string, names []string, withStructSize map[string]bool) map[string][3]int {
	t.Helper()
	var b strings.Builder
	b.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include \"pjrt_c_api.h\"\nint main(void) {\n")
	for _, n := range names {
		offset := "0"
		if withStructSize[n] {
			offset = fmt.Sprintf("offsetof(struct %s, struct_size)", n)
		}
		fmt.Fprintf(&b, "  printf(\"%s %%zu %%zu %%zu\\n\", (size_t)%s_STRUCT_SIZE, sizeof(struct %s), (size_t)%s);\n", n, n, n, offset)
	}
	b.WriteString("  return 0;\n}\n")
	src := filepath.Join(dir, "sizes.c")
	require.NoError(t, os.WriteFile(src, []byte(b.String()), 0o644))
	bin := filepath.Join(dir, "sizes")
	if out, err := exec.Command(compiler(t), "-std=c11", "-Wall", "-Werror", "-I", dir, "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("compiling against %s: %v\n%s", dir, err, out)
	}
	out, err := exec.Command(bin).Output()
	require.NoError(t, err)
	sizes := map[string][3]int{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 4)
		var v [3]int
		for i := range v {
			v[i], err = strconv.Atoi(f[i+1])
			require.NoError(t, err)
		}
		sizes[f[0]] = v
	}
	return sizes
}

// TestPadHeaderSizes compiles go-xla's own header and the padded one and compares every struct:
// the padded ones say PadBytes more (or more, alignment) in struct_size and cover all of their
// memory; the others are byte for byte as they were.
func TestPadHeaderSizes(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(goXLADir(t), HeaderPath))
	require.NoError(t, err)
	var all []string
	for _, m := range traitsRe.FindAllStringSubmatch(string(src), -1) {
		all = append(all, m[1])
	}
	require.Greater(t, len(all), 100, "the header's structs")

	text, names, err := PadHeader(string(src))
	require.NoError(t, err)
	isPadded := map[string]bool{}
	for _, n := range names {
		isPadded[n] = true
	}
	require.True(t, isPadded["PJRT_ExecuteOptions"])
	require.True(t, isPadded["PJRT_LoadedExecutable_Execute_Args"])
	require.True(t, isPadded["PJRT_Client_Create_Args"])
	require.False(t, isPadded["PJRT_KeyValueGetCallback_Args"], "the plugin allocates callback args")
	require.False(t, isPadded["PJRT_NamedValue"], "passed in arrays: its layout must not change")

	origDir, padDir := t.TempDir(), t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(origDir, "pjrt_c_api.h"), src, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(padDir, "pjrt_c_api.h"), []byte(text), 0o644))
	orig, pad := structSizes(t, origDir, all, isPadded), structSizes(t, padDir, all, isPadded)
	require.Len(t, pad, len(all))
	for _, n := range all {
		o, p := orig[n], pad[n]
		require.Equal(t, 0, p[2], "%s: struct_size stays the first field", n)
		if !isPadded[n] {
			require.Equal(t, o, p, "%s is not padded and must not change", n)
			continue
		}
		require.Equal(t, p[1], p[0], "%s: STRUCT_SIZE covers the whole padded struct", n)
		require.GreaterOrEqual(t, p[0], o[0]+PadBytes, "%s: the room comes after every field", n)
		require.LessOrEqual(t, p[0], o[1]+PadBytes+8, "%s: no more than the room and alignment", n)
	}
}

func TestZeroStackArgs(t *testing.T) {
	src := "\tPJRT_Event_Destroy_Args efree_args;\n\tPJRT_Event_Await_Args event_args = {0};\n\tvar args *C.PJRT_Buffer_Destroy_Args\n"
	got, n := ZeroStackArgs(src)
	require.Equal(t, 1, n)
	require.Equal(t, "\tPJRT_Event_Destroy_Args efree_args = {0};\n\tPJRT_Event_Await_Args event_args = {0};\n\tvar args *C.PJRT_Buffer_Destroy_Args\n", got)
}

func TestPadHeaderRejectsOtherFiles(t *testing.T) {
	_, _, err := PadHeader("int x;\n")
	require.Error(t, err)
	_, _, err = Rewrite(t.TempDir(), filepath.Join(t.TempDir(), "out"))
	require.ErrorContains(t, err, "is not the go-xla module")
}

// TestRewriteKeepsOtherFolders: -out names a folder that gets replaced, so one holding anything
// pjrtpad did not write is refused and left as it was; an earlier copy is replaced.
func TestRewriteKeepsOtherFolders(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, filepath.Dir(HeaderPath)), 0o755))
	header, err := os.ReadFile(filepath.Join(goXLADir(t), HeaderPath))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(src, HeaderPath), header, 0o644))

	out := t.TempDir()
	precious := filepath.Join(out, "notes.txt")
	require.NoError(t, os.WriteFile(precious, []byte("mine"), 0o644))
	_, _, err = Rewrite(src, out)
	require.ErrorContains(t, err, "did not write")
	got, err := os.ReadFile(precious)
	require.NoError(t, err)
	require.Equal(t, "mine", string(got))

	fresh := filepath.Join(t.TempDir(), "copy")
	_, _, err = Rewrite(src, fresh)
	require.NoError(t, err)
	_, _, err = Rewrite(src, fresh) // again: an earlier copy of ours
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(fresh, HeaderPath))
	require.NoError(t, err)
}

// TestPaddedGoXLAReachesANewerPlugin rewrites the module, builds xlaprobe (bitter's backend, GoMLX's
// XLA backend and go-xla's cgo PJRT wrapper) against it through a modfile, as benchmarks/gpu.sh
// does, and also as it is; then runs both on internal/testing/xlastub's stand-in plugin playing a newer one
// (XLASTUB_NEWER=1: every argument struct grew by 16 bytes, checked as XLA's plugins check). Stock
// go-xla is refused at the first call with XLA's message; padded go-xla passes every check through
// client creation and device listing, the added fields zero, and stops only where the stand-in
// stops (it holds no buffers).
func TestPaddedGoXLAReachesANewerPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds go-xla's cgo package twice")
	}
	compiler(t)
	goxla := goXLADir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "go-xla")
	names, zeroed, err := Rewrite(goxla, out)
	require.NoError(t, err)
	require.NotEmpty(t, names)
	require.Positive(t, zeroed, "go-xla v0.1.4 declares PJRT_Event_Destroy_Args on the stack uninitialised")
	plugin, err := xlastub.Build(dir)
	require.NoError(t, err)

	root, err := filepath.Abs("../../..")
	require.NoError(t, err)
	mod, err := WriteModfile(filepath.Join(root, "go.mod"), out)
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(out, "padded.sum"))
	require.NoError(t, err, "the go.sum beside the modfile")
	run := func(env []string, name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), env...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	build := func(args ...string) {
		b, err := run([]string{"CGO_ENABLED=1"}, "go", args...)
		require.NoError(t, err, "go %v:\n%s", args, b)
	}
	stock, padded := filepath.Join(dir, "stock"), filepath.Join(dir, "padded")
	build("build", "-o", stock, "./benchmarks/cmd/xlaprobe")
	build("build", "-modfile="+mod, "-o", padded, "./benchmarks/cmd/xlaprobe")

	env := []string{"GOMLX_BACKEND=xla:" + plugin, "GOMLX_NO_AUTO_INSTALL=1", "XLASTUB_NEWER=1"}
	got, err := run(env, stock)
	require.Error(t, err, "stock go-xla cannot start the newer plugin:\n%s", got)
	require.Contains(t, got, "Unexpected PJRT_Plugin_Initialize_Args size: expected 32, got 16.")
	got, err = run(env, padded)
	require.Error(t, err, "the stand-in holds no buffers:\n%s", got)
	require.NotContains(t, got, "Unexpected")
	require.NotContains(t, got, "not zero")
	require.Contains(t, got, "backend: xla:"+plugin, "the client started:\n%s", got)
	require.Contains(t, got, "not implemented by the compile-only stand-in", "it stopped where the stand-in stops:\n%s", got)
}
