package customcall

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/modfile"
)

//go:embed overlay/*.go.in
var overlayFiles embed.FS

// Modfile is the name of the go.mod, inside the folder [WriteModules] writes, that builds against
// the copies.
const Modfile = "customcall.mod"

// markerFile marks a folder WriteModules wrote, which a later call may replace.
const markerFile = ".customcall"

// additions lists each file added to the copies: the embedded source, the module and the folder in
// it that it joins. The Go command refuses overlays (go build -overlay) of files in the module
// cache, hence copies.
var additions = []struct{ file, module, folder string }{
	{"stablehlo.go.in", "github.com/gomlx/go-xla", "pkg/stablehlo"},
	{"xla.go.in", "github.com/gomlx/gomlx", "backends/xla"},
	{"graph.go.in", "github.com/gomlx/gomlx", "pkg/core/graph"},
}

// addedName is the name of each added file in its folder.
const addedName = "bitter_customcall.go"

// WriteModules writes into dir copies of the go-xla and GoMLX modules this build uses (found with
// `go list -m`, so it needs the go command, run inside this module), each file a symbolic link to
// the module cache's, plus the three added files; and dir/customcall.mod (and .sum): goMod with
// both modules replaced by the copies. It returns that modfile's path, for
//
//	go build -modfile=<path> -tags bitter_customcall ...
//
// dir must be new, empty, or written by an earlier call (then it is replaced).
func WriteModules(dir, goMod string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := modfile.ReplaceDir(abs, markerFile, "bitter's internal/gomlxpatch/customcall"); err != nil {
		return "", fmt.Errorf("customcall: %w", err)
	}
	copies := map[string]string{} // module -> its copy
	for _, a := range additions {
		if _, ok := copies[a.module]; ok {
			continue
		}
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", a.module).Output()
		if err != nil {
			return "", fmt.Errorf("customcall: finding %s (go list -m): %w", a.module, err)
		}
		src := strings.TrimSpace(string(out))
		if src == "" {
			return "", fmt.Errorf("customcall: %s is not in the module cache", a.module)
		}
		dst := filepath.Join(abs, filepath.Base(a.module))
		if err := linkTree(src, dst); err != nil {
			return "", fmt.Errorf("customcall: copying %s: %w", a.module, err)
		}
		copies[a.module] = dst
	}
	for _, a := range additions {
		folder := filepath.Join(copies[a.module], filepath.FromSlash(a.folder))
		if _, err := os.Stat(folder); err != nil {
			return "", fmt.Errorf("customcall: %s has no folder %s: %w", a.module, a.folder, err)
		}
		src, err := overlayFiles.ReadFile("overlay/" + a.file)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(folder, addedName), src, 0o644); err != nil {
			return "", fmt.Errorf("customcall: %w", err)
		}
	}
	mod := filepath.Join(abs, Modfile)
	if err := modfile.WriteReplaced(goMod, mod, copies); err != nil {
		return "", fmt.Errorf("customcall: %w", err)
	}
	return mod, nil
}

// linkTree recreates src's folders under dst with each file a symbolic link to src's.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return os.Symlink(path, target)
	})
}
