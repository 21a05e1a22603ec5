// Package modfile writes a go.mod for `go build -modfile` that replaces modules with local copies:
// how benchmarks/cmd/pjrtpad (go-xla padded for newer PJRT plugins) and internal/customcall (GoMLX
// and go-xla with custom calls) build against their copies while go.mod stays as it is.
package modfile

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// WriteReplaced writes mod, a copy of goMod, and beside it the copy of goMod's go.sum (mod with .sum
// for .mod), with each module in replace (module path → folder) replaced by its folder.
func WriteReplaced(goMod, mod string, replace map[string]string) error {
	for _, f := range [][2]string{{goMod, mod}, {strings.TrimSuffix(goMod, ".mod") + ".sum", strings.TrimSuffix(mod, ".mod") + ".sum"}} {
		data, err := os.ReadFile(f[0])
		if err != nil {
			return err
		}
		if err := os.WriteFile(f[1], data, 0o644); err != nil {
			return err
		}
	}
	modules := make([]string, 0, len(replace))
	for m := range replace {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	args := []string{"mod", "edit", "-modfile=" + mod}
	for _, m := range modules {
		args = append(args, "-replace", m+"="+replace[m])
	}
	if b, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("go mod edit: %w\n%s", err, b)
	}
	return nil
}
