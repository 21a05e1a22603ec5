// Package modfile holds what building against local copies of modules takes: the folder a copy is
// written to, and a go.mod for `go build -modfile` that replaces the modules with the copies; how
// internal/gomlxpatch/pjrtpad (go-xla padded for newer PJRT plugins) and internal/gomlxpatch/customcall (GoMLX and
// go-xla with custom calls) build against their copies while go.mod stays as it is.
package modfile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// ReplaceDir makes dir an empty folder marked as writer's (a file named marker in it), for writer to
// fill: dir may be new, empty, or one writer marked before (it is then emptied); a folder holding
// anything else is refused and left as it is.
func ReplaceDir(dir, marker, writer string) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("%s is not empty and holds files that %s did not write; give an empty or new folder", dir, writer)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("written by "+writer+"\n"), 0o644)
}
