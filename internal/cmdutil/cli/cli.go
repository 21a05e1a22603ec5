// Package cli holds what the commands (examples, benchmarks) share: reading their command lines and
// the environment variables that steer the library, and checking where they will write before they
// start.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/checkpoint"
)

// PresetArg returns the value of -preset (or --preset, either as "-preset x" or "-preset=x") in args,
// or def when there is none. Commands read it before defining their other flags, whose defaults
// the preset gives.
func PresetArg(args []string, def string) string {
	for i, a := range args {
		for _, name := range []string{"-preset", "--preset"} {
			if a == name && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, name+"="); ok {
				return v
			}
		}
	}
	return def
}

// OutputDir is checkpoint.PrepareDir for a command's -out flag: it makes the folder the command will
// write its results to and checks that a file can be created in it, so that a long run cannot end
// by losing its results to a bad -out.
func OutputDir(dir string) error {
	if err := checkpoint.PrepareDir(dir); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	return nil
}

// Environment variables the commands read into attention.Kernels (see [AttentionKernels]).
const (
	// CausalBlockEnvVar sets the query block of causal self-attention: a non-negative integer, 0 for
	// no blocks; unset or empty, the backend's default (attention.DefaultCausalBlock).
	CausalBlockEnvVar = "BITTER_CAUSAL_BLOCK"
	// CuDNNEnvVar chooses cuDNN's fused attention on XLA (attention.CuDNN): 1 wherever it fits (in a
	// binary built with custom calls), 0 never; unset or empty, where it fits on a CUDA plugin.
	CuDNNEnvVar = "BITTER_CUDNN_ATTENTION"
)

// AttentionKernels returns the attention kernels that [CausalBlockEnvVar] and [CuDNNEnvVar] ask
// for, validated, or an error naming the variable and its value.
func AttentionKernels() (attention.Kernels, error) {
	var k attention.Kernels
	if v := strings.TrimSpace(os.Getenv(CausalBlockEnvVar)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return k, fmt.Errorf("%s=%q is not a non-negative integer (0 = no blocks)", CausalBlockEnvVar, v)
		}
		k.CausalBlock = n
		if n == 0 {
			k.CausalBlock = -1
		}
	}
	switch v := strings.TrimSpace(os.Getenv(CuDNNEnvVar)); v {
	case "":
	case "0":
		k.CuDNN = attention.CuDNNNever
	case "1":
		k.CuDNN = attention.CuDNNAlways
	default:
		return k, fmt.Errorf("%s=%q: want 1 (cuDNN's fused attention wherever it fits, on XLA), 0 (never) or nothing (on CUDA)", CuDNNEnvVar, v)
	}
	if err := k.Validate(); err != nil {
		return k, fmt.Errorf("%s=1: %w", CuDNNEnvVar, err)
	}
	return k, nil
}

// PrintError writes err to w as a command reports a failure: each of its lines (errors.Join puts one
// bad value on each) prefixed with the command's name, so every line says where it comes from.
func PrintError(w io.Writer, command string, err error) {
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(w, "%s: %s\n", command, line)
	}
}

// ParseFlags parses args into fs as the commands do: -h prints the usage to w and returns help; a
// bad flag or a stray argument is one error with a hint to -h, the usage not printed before it.
func ParseFlags(fs *flag.FlagSet, args []string, w io.Writer) (help bool, err error) {
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(w)
		fs.Usage()
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w (%s -h lists the flags)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected argument %q (flags start with -; %s -h lists them)", fs.Arg(0), fs.Name())
	}
	return false, nil
}
