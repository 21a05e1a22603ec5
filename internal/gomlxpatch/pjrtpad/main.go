// Command pjrtpad writes a copy of the go-xla module whose PJRT argument structs carry spare,
// zeroed room at their end and say so in struct_size: a way to run go-xla v0.1.4 (PJRT C API
// 0.83) against a newer PJRT plugin, such as the one JAX 0.11 ships.
//
//	go run ./internal/gomlxpatch/pjrtpad -src "$(go list -m -f '{{.Dir}}' github.com/gomlx/go-xla)" -out DIR -gomod go.mod
//	go build -modfile=DIR/padded.mod ./examples/nexttoken
//
// With -gomod it also writes DIR/padded.mod (and padded.sum): that go.mod with go-xla replaced by the
// copy, for `go build -modfile` (benchmarks/gpu.sh does this).
//
// Why: a plugin checks each argument struct's struct_size against the size of that struct in its
// own, newer header, and refuses a smaller one ("Unexpected PJRT_ExecuteOptions size: expected N,
// got M. The plugin is likely built with a later version than the framework"), although the fields
// it added since are optional and read as "unset" when zero. The PJRT C API's rule for newer fields
// is exactly that: a caller that does not know a field leaves it zero. So every struct that the
// caller allocates and hands to the plugin (the *_Args structs and PJRT_ExecuteOptions) gets
// PadBytes zero bytes after its last field, and its STRUCT_SIZE becomes sizeof(struct): a newer
// plugin finds its new fields zero, an older or equal one ignores the surplus (it only logs it).
// Fields keep their offsets. The structs the plugin allocates and hands to the caller's callbacks
// (*Callback*_Args) and those nested by value in others keep their layout. Args structs that
// go-xla's C code declares on the stack without an initialiser are made zero-initialised, so the
// room is zero there too.
//
// The stock build is unchanged; this is for the GPU run, where benchmarks/gpu.sh builds both and
// keeps the set whose probe (benchmarks/cmd/xlaprobe) passes.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/modfile"
)

// PadBytes is the room added to each padded struct. The newest plugins' structs exceed 0.83's by a
// few fields at most (PJRT_ExecuteOptions: +16 bytes by 0.110); go-xla's Execute arena leaves 1 KiB
// of slack for its two padded structs.
const PadBytes = 128

// HeaderPath is the header inside the go-xla module.
const HeaderPath = "pkg/pjrt/pjrt_c_api.h"

// markerFile marks a folder pjrtpad wrote, which a later run may replace.
const markerFile = ".pjrtpad"

// Modfile is the name, inside the padded copy, of the go.mod that builds against it (WriteModfile).
const Modfile = "padded.mod"

var (
	structRe = regexp.MustCompile(`(?m)^struct (PJRT_\w+) \{`)
	// An Args struct declared on the stack without an initialiser, in C code or a cgo preamble.
	stackArgsRe = regexp.MustCompile(`(?m)^(\s*)(PJRT_\w+_Args) (\w+);`)
)

// padded reports whether the caller allocates struct name and passes it to the plugin.
func padded(name string) bool {
	if strings.Contains(name, "Callback") {
		return false // the plugin allocates these and passes them to the caller
	}
	return strings.HasSuffix(name, "_Args") || name == "PJRT_ExecuteOptions"
}

// PadHeader returns the header with the padded structs' room and sizes, and their names.
func PadHeader(src string) (string, []string, error) {
	const marker = "#ifdef __cplusplus\nextern \"C\" {"
	if !strings.Contains(src, marker) {
		return "", nil, fmt.Errorf("pjrtpad: the header has no %q to define the padded traits before", marker)
	}
	out := src
	var names []string
	for _, m := range structRe.FindAllStringSubmatch(src, -1) {
		name := m[1]
		if !padded(name) {
			continue
		}
		open := "struct " + name + " {"
		i := strings.Index(out, open)
		j := strings.Index(out[i:], "\n};")
		if j < 0 {
			return "", nil, fmt.Errorf("pjrtpad: no end to struct %s", name)
		}
		j += i
		out = out[:j] + fmt.Sprintf("\n  unsigned char bitter_pad[%d];  // pjrtpad: zero room for newer plugins' fields", PadBytes) + out[j:]
		traits := regexp.MustCompile(`PJRT_DEFINE_STRUCT_TRAITS\(\s*` + name + `,\s*\w+\s*\);?`)
		if len(traits.FindAllString(out, -1)) != 1 {
			return "", nil, fmt.Errorf("pjrtpad: want one PJRT_DEFINE_STRUCT_TRAITS for %s", name)
		}
		out = traits.ReplaceAllString(out, "BITTER_PADDED_TRAITS("+name+");")
		names = append(names, name)
	}
	if len(names) == 0 {
		return "", nil, fmt.Errorf("pjrtpad: no argument structs found: is this pjrt_c_api.h?")
	}
	def := "// pjrtpad: a padded struct's size is all of it, the zero room included.\n" +
		"#define BITTER_PADDED_TRAITS(sname) \\\n  typedef struct sname sname;      \\\n" +
		"  enum { sname##_STRUCT_SIZE = sizeof(struct sname) }\n\n"
	out = strings.Replace(out, marker, def+marker, 1)
	head := fmt.Sprintf("// Rewritten by bitter's internal/gomlxpatch/pjrtpad: %d argument structs carry %d zero bytes at their end.\n", len(names), PadBytes)
	return head + out, names, nil
}

// ZeroStackArgs makes Args structs declared on the stack without an initialiser zero-initialised.
func ZeroStackArgs(src string) (string, int) {
	n := len(stackArgsRe.FindAllString(src, -1))
	return stackArgsRe.ReplaceAllString(src, "$1$2 $3 = {0};"), n
}

// Rewrite copies the module at src to out, padded.
func Rewrite(src, out string) (padded []string, zeroed int, err error) {
	if _, err := os.Stat(filepath.Join(src, HeaderPath)); err != nil {
		return nil, 0, fmt.Errorf("pjrtpad: %s is not the go-xla module: %w", src, err)
	}
	// Replace out only if it is empty or an earlier copy of ours: never another folder's files.
	if err := modfile.ReplaceDir(out, markerFile, "bitter's internal/gomlxpatch/pjrtpad"); err != nil {
		return nil, 0, fmt.Errorf("pjrtpad: %w", err)
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(out, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		text := string(data)
		switch {
		case filepath.ToSlash(rel) == HeaderPath:
			text, padded, err = PadHeader(text)
			if err != nil {
				return err
			}
		case filepath.Dir(filepath.ToSlash(rel)) == filepath.Dir(HeaderPath) &&
			(strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, ".c")):
			var n int
			text, n = ZeroStackArgs(text)
			zeroed += n
		}
		return os.WriteFile(dst, []byte(text), 0o644) // the module cache's files are read-only
	})
	if err != nil {
		return nil, 0, err
	}
	return padded, zeroed, nil
}

// WriteModfile writes out/padded.mod and out/padded.sum, goMod and the go.sum beside it with
// github.com/gomlx/go-xla replaced by the padded copy at out, and returns the modfile's path for
// `go build -modfile`.
func WriteModfile(goMod, out string) (string, error) {
	abs, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	mod := filepath.Join(abs, Modfile)
	if err := modfile.WriteReplaced(goMod, mod, map[string]string{"github.com/gomlx/go-xla": abs}); err != nil {
		return "", fmt.Errorf("pjrtpad: -gomod: %w", err)
	}
	return mod, nil
}

func main() {
	src := flag.String("src", "", "the go-xla module folder: go list -m -f '{{.Dir}}' github.com/gomlx/go-xla")
	out := flag.String("out", "", "the folder to write the padded copy to: new, empty, or an earlier pjrtpad copy (replaced)")
	goMod := flag.String("gomod", "", "also write <out>/"+Modfile+": this go.mod with go-xla replaced by the copy, for go build -modfile")
	flag.Parse()
	if *src == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: pjrtpad -src GO_XLA_MODULE_DIR -out DIR")
		os.Exit(2)
	}
	names, zeroed, err := Rewrite(*src, *out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("pjrtpad: %d structs padded by %d bytes, %d stack declarations zeroed: %s\n", len(names), PadBytes, zeroed, *out)
	if *goMod != "" {
		mod, err := WriteModfile(*goMod, *out)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("pjrtpad: build with go build -modfile=%s\n", mod)
	}
}
