// Package cli holds what the example commands share in reading their command lines.
package cli

import "strings"

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
