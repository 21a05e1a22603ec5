// Package xlastub starts GoMLX's XLA backend on a compile-only stand-in PJRT plugin (csrc/stubplugin.c),
// so that a machine with no GPU and no XLA plugin can build bitter's graphs with the XLA backend's
// StableHLO builder (which checks every op's shapes and dtypes as SimpleGo does not), take them
// through go-xla's C API up to PJRT_Client_Compile, and read the StableHLO program that XLA would be
// given. Nothing is compiled or run: Compile fails, on purpose, with [CompileOnly] in its message.
//
// A process that loads the plugin with XLASTUB_RUN=1 set gets executables instead, whose outputs are
// all zeros, and buffers in host memory: whole programs (training, checkpoints, generation) then
// take the XLA backend's code paths end to end, with meaningless numbers.
//
// It needs cgo (a binary built with XLA), a C compiler, and the go command, which names the go-xla
// module folder whose pjrt_c_api.h the plugin is built against.
package xlastub

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/bitterlesson/bitter/backend"
)

//go:embed csrc/stubplugin.c
var source []byte

// CompileOnly starts the message with which the stand-in refuses to compile.
const CompileOnly = "xlastub: compile-only"

// OutEnvVar names the folder the stand-in saves programs to, as program-N.mlir.
const OutEnvVar = "BITTER_XLA_STUB_OUT"

// GoXLADir returns the folder of the go-xla module this build uses (go list -m, so the go command
// is needed).
func GoXLADir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/gomlx/go-xla").Output()
	if err != nil {
		return "", fmt.Errorf("xlastub: finding go-xla (go list -m): %w", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("xlastub: go-xla is not in the module cache")
	}
	return dir, nil
}

// Compiler returns the C compiler: CC, else gcc, as cgo picks it; an error where there is none.
func Compiler() (string, error) {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		return "", fmt.Errorf("xlastub: no C compiler: %w", err)
	}
	return cc, nil
}

// Build compiles the stand-in plugin into dir and returns its path.
func Build(dir string) (string, error) {
	goxla, err := GoXLADir()
	if err != nil {
		return "", err
	}
	include := filepath.Join(goxla, "pkg", "pjrt")
	if _, err := os.Stat(filepath.Join(include, "pjrt_c_api.h")); err != nil {
		return "", fmt.Errorf("xlastub: go-xla's header: %w", err)
	}
	cc, err := Compiler()
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "stubplugin.c")
	if err := os.WriteFile(src, source, 0o644); err != nil {
		return "", err
	}
	plugin := filepath.Join(dir, "pjrt_c_api_xlastub_plugin.so")
	if b, err := exec.Command(cc, "-std=c11", "-Wall", "-Werror", "-shared", "-fPIC", "-I", include, "-o", plugin, src).CombinedOutput(); err != nil {
		return "", fmt.Errorf("xlastub: %s: %w\n%s", cc, err, b)
	}
	return plugin, nil
}

// Stub is the XLA backend on the stand-in plugin.
type Stub struct {
	Backend backends.Backend
	Plugin  string // the stand-in's path, for GOMLX_BACKEND=xla:<Plugin> in another process
	out     string // where programs are saved
}

// Start builds the stand-in in dir and starts the XLA backend on it; the programs it is given are
// saved in dir too. One per process: the stand-in counts programs across clients.
func Start(dir string) (*Stub, error) {
	plugin, err := Build(dir)
	if err != nil {
		return nil, err
	}
	if err := os.Setenv(OutEnvVar, dir); err != nil {
		return nil, err
	}
	b, err := backend.NewWithConfig("xla:" + plugin)
	if err != nil {
		return nil, err
	}
	return &Stub{Backend: b, Plugin: plugin, out: dir}, nil
}

// Compile compiles g with the given outputs on the stand-in and returns the StableHLO program it
// was given. Any other failure (an op the XLA builder rejects, say) is returned as an error.
func (s *Stub) Compile(g *graph.Graph, outputs ...*graph.Node) (program string, err error) {
	before, err := s.programs()
	if err != nil {
		return "", err
	}
	func() {
		defer func() {
			if r := recover(); r != nil { // GoMLX reports failures by panicking
				err = fmt.Errorf("%v", r)
			}
		}()
		g.Compile(outputs...)
	}()
	if err == nil {
		return "", errors.New("xlastub: compile succeeded: the stand-in was loaded with XLASTUB_RUN=1, " +
			"where it makes executables instead of refusing (Stub.Compile wants it without)")
	}
	if !strings.Contains(err.Error(), CompileOnly) {
		return "", err
	}
	after, lerr := s.programs()
	if lerr != nil {
		return "", lerr
	}
	if len(after) != len(before)+1 {
		return "", fmt.Errorf("xlastub: want one new program in %s, found %d (%w)", s.out, len(after)-len(before), err)
	}
	b, rerr := os.ReadFile(after[len(after)-1])
	if rerr != nil {
		return "", rerr
	}
	return string(b), nil
}

// programs lists the saved programs, oldest first.
func (s *Stub) programs() ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(s.out, "program-*.mlir"))
	if err != nil {
		return nil, err
	}
	num := func(p string) int {
		var n int
		fmt.Sscanf(strings.TrimSuffix(filepath.Base(p), ".mlir"), "program-%d", &n)
		return n
	}
	sort.Slice(paths, func(i, j int) bool { return num(paths[i]) < num(paths[j]) })
	return paths, nil
}
