// Package cli holds what the example commands share: reading their command lines, and checking
// where they will write before they start.
package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"
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

// OutputDir makes the folder a command will write its results to, and checks that a file can be
// created in it, so that a long run cannot end by losing its results to a bad -out.
func OutputDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("-out: %w", err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("-out %s: cannot write there: %w", dir, err)
	}
	if err := errors.Join(f.Close(), os.Remove(f.Name())); err != nil {
		return fmt.Errorf("-out %s: %w", dir, err)
	}
	return nil
}
