// Package backend is the one place where bitter's programs, tests and benchmarks get a GoMLX
// backend. Library packages never import a backend; programs call [New].
//
// The choice, in order:
//
//  1. GOMLX_BACKEND when set, exactly as GoMLX reads it: `xla:cuda`, `xla:/abs/path/xla_cuda_plugin.so`
//     (a JAX install ships one as `jax_plugins/xla_cuda*/xla_cuda_plugin.so`), `go:ops_sequential`, ...;
//     a bare `go` means [DefaultConfig] (see [Config]).
//  2. Otherwise the pure-Go backend in [DefaultConfig], which cannot deadlock and needs no C library.
//
// It never falls through to `xla` on its own: with no plugin installed XLA tries to download one, and
// offline that fails. Set GOMLX_NO_AUTO_INSTALL=1 on machines without network.
//
// Importing this package installs bitter's patches of GoMLX v0.26 (internal/gomlxpatch, whose README
// lists each with the test that says when it can go): gradients for matmuls, Slice and the ops v0.26
// has none for, and the pure-Go backend's float32 kernels (see [FastDotOption]). Model packages do not
// import the patches themselves; a program that builds bitter's graphs on a backend of its own should
// import this package too.
package backend

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // The pure-Go backend, registered as "go".

	_ "github.com/bitterlesson/bitter/internal/gomlxpatch/gradients"
	"github.com/bitterlesson/bitter/internal/gomlxpatch/purego"
)

// EnvVar is the environment variable that selects a backend; it is GoMLX's own.
const EnvVar = backends.ConfigEnvVar

// DefaultConfig is the pure-Go backend configuration used when GOMLX_BACKEND is unset.
//
// GoMLX v0.26's pure-Go backend runs independent ops in parallel by default, and its bounded worker
// pool deadlocks when several DotGenerals run at once (all goroutines in workersPool.WaitToStart;
// reproduced here: the attention benchmark with GOMLX_BACKEND=go never finished its first step).
// Two settings avoid the bounded wait: `ops_sequential` (one op at a time) and `parallelism=-1`
// (unbounded goroutines, so nothing ever waits for a worker). The second is the faster, for more
// memory (benchmarks/CPU-NOTES.md), so it is the default.
const DefaultConfig = "go:parallelism=-1"

// Config returns the backend configuration [New] would use: GOMLX_BACKEND when set and non-empty,
// else [DefaultConfig]; a pure-Go one gets [FastDotOption] added. A bare `go` names the pure-Go
// backend and gets [DefaultConfig] too: with no options GoMLX v0.26 runs it in the mode that
// deadlocks (seen here: a training step that never finished, and the benchmark grid's first cell
// under GOMLX_BACKEND=go). Options after the colon (`go:ops_sequential`) are passed on as given.
func Config() string {
	if c := strings.TrimSpace(os.Getenv(EnvVar)); c != "" {
		return resolve(c)
	}
	return resolve(DefaultConfig)
}

// resolve turns a bare "go" into DefaultConfig, and adds [FastDotOption] to a pure-Go configuration
// that names no DotGeneral path itself when bitter's float32 kernels are installed.
func resolve(config string) string {
	if config == "go" {
		config = DefaultConfig
	}
	name, opts, _ := strings.Cut(config, ":")
	if name != "go" || purego.Installed() != nil || strings.Contains(opts, "dotgeneral_") {
		return config
	}
	if opts == "" {
		return name + ":" + FastDotOption
	}
	return config + "," + FastDotOption
}

// FastDotOption is the pure-Go backend option bitter adds when its float32 matmul kernels are
// installed (package internal/gomlxpatch/purego; BITTER_STOCK_DOT=1 keeps GoMLX's): it sends every
// DotGeneral down simplego's path for small products, which hands bitter's kernel whole rows, where
// its path for large products copies operands into 32x32 blocks and calls the kernel per block.
// bitter's DotGeneral executor (internal/gomlxpatch/purego, dot.go) takes float32 and bfloat16
// products whole, so the option steers the other dtypes' products, and GoMLX's own path when that
// executor is not installed.
const FastDotOption = "dotgeneral_small"

// New returns a new backend for [Config]. It fails with a message that names the configuration
// when the backend is unknown (for instance `xla` in a binary built with `-tags noxla`) or cannot
// start (a missing plugin).
func New() (backends.Backend, error) {
	return NewWithConfig(Config())
}

// NewWithConfig returns a new backend for an explicit configuration such as "go:ops_sequential"
// ("go" alone gets [DefaultConfig], see [Config]).
func NewWithConfig(config string) (b backends.Backend, err error) {
	if _, err := deterministic(); err != nil {
		return nil, err
	}
	config = resolve(config)
	name, _, _ := strings.Cut(config, ":")
	known := backends.List()
	found := false
	for _, k := range known {
		if k == name {
			found = true
		}
	}
	if !found {
		return nil, fmt.Errorf("backend %q (from %s=%q) is not compiled in; available: %s",
			name, EnvVar, config, strings.Join(known, ", "))
	}
	defer func() {
		// Some backends panic instead of returning errors (a plugin that fails to load).
		if r := recover(); r != nil {
			b, err = nil, explainPluginVersion(fmt.Errorf("backend %q failed to start: %v", config, r))
		}
	}()
	if _, rest, _ := strings.Cut(config, ":"); name == "xla" && newXLA != nil {
		b, err = newXLA(rest)
	} else if name == "go" {
		// GoMLX's pure-Go backend prints a line to stdout when parallelism is set; keep stdout clean
		// for programs whose output is their result (and for Example tests).
		withoutStdout(func() { b, err = backends.NewWithConfig(config) })
	} else {
		b, err = backends.NewWithConfig(config)
	}
	if err != nil {
		return nil, explainPluginVersion(fmt.Errorf("backend %q failed to start: %w", config, err))
	}
	return emulateTF32FromEnv(b), nil
}

// newerPluginMessage is how XLA's PJRT plugins refuse an argument struct from an older C API.
const newerPluginMessage = "likely built with a later version than the framework"

// explainPluginVersion adds what to do to the error of a plugin that refused go-xla's argument
// structs for being from an older PJRT C API: go-xla v0.1.4 speaks 0.83.
func explainPluginVersion(err error) error {
	if err == nil || !strings.Contains(err.Error(), newerPluginMessage) {
		return err
	}
	return fmt.Errorf("%w\nThis plugin speaks a newer PJRT C API than go-xla v0.1.4 (0.83). Build with go-xla "+
		"padded for newer plugins: internal/gomlxpatch/pjrtpad (README, Backends)", err)
}

// newXLA starts the XLA backend with bitter's options (see xla.go); nil in builds without XLA.
var newXLA func(config string) (backends.Backend, error)

var (
	shared    backends.Backend
	sharedErr error
	once      sync.Once
)

// Shared returns one backend for the whole process, created by [New] on first use. Tests and
// examples share it so each compiles against one backend instance.
func Shared() (backends.Backend, error) {
	once.Do(func() { shared, sharedErr = New() })
	return shared, sharedErr
}

// MustShared is [Shared] for tests and examples: it panics with the error.
func MustShared() backends.Backend {
	b, err := Shared()
	if err != nil {
		panic(err)
	}
	return b
}

// withoutStdout runs fn with os.Stdout pointed at the null device.
func withoutStdout(fn func()) {
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		fn()
		return
	}
	saved := os.Stdout
	os.Stdout = devNull
	defer func() {
		os.Stdout = saved
		_ = devNull.Close()
	}()
	fn()
}
