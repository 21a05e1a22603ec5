// Command hlostat summarises an XLA HLO text dump: what the GPU runs for one step, and how many
// bytes its kernels write. It reads the `*after_optimizations.txt` files that
// `XLA_FLAGS="--xla_dump_to=DIR --xla_dump_hlo_as_text"` leaves (benchmarks/gpu.sh keeps them), so
// the analysis of a GPU run needs no GPU:
//
//	go run ./benchmarks/cmd/hlostat DIR-or-FILE...   # a folder: its largest module (the train step)
//
// It prints the kernels of the entry computation by kind (fusions by fusion kind and backend, e.g. a
// Triton gemm; custom calls by target, e.g. cuBLAS), the bytes their outputs take, their traffic
// (every operand read once and the output written once: the memory traffic of a step if no kernel
// re-reads, the "bytes" of the two numbers) and the time it takes at -bandwidth, the kernels with
// the most traffic, and the transposes and copies left unfused.
//
//	go run ./benchmarks/cmd/hlostat -bandwidth 4.3 DIR   # the H200's 4.3 TB/s (default: the H100's 3.0)
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	bandwidth := flag.Float64("bandwidth", 3.0, "device memory bandwidth in TB/s, read + write (this workplace's H100: 3.0, H200: 4.3)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: hlostat [-bandwidth TB/s] DIR-or-FILE...  (XLA dumps: *after_optimizations.txt)")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() < 1 || !(*bandwidth > 0) {
		flag.Usage()
		os.Exit(2)
	}
	for _, arg := range flag.Args() {
		if err := report(os.Stdout, arg, *bandwidth); err != nil {
			fmt.Fprintln(os.Stderr, "hlostat:", err)
			os.Exit(1)
		}
	}
}

// report summarises arg: an HLO text file, or the largest *after_optimizations.txt in a folder;
// bandwidth (TB/s) turns the traffic into time.
func report(w io.Writer, arg string, bandwidth float64) error {
	path := arg
	if info, err := os.Stat(arg); err != nil {
		return err
	} else if info.IsDir() {
		if path, err = largestDump(arg); err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	m, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	m.write(w, path, bandwidth)
	return nil
}

// largestDump returns the biggest file in dir whose name ends in after_optimizations.txt.
func largestDump(dir string) (string, error) {
	var best string
	var size int64 = -1
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "after_optimizations.txt") {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Size() > size {
			best, size = p, info.Size()
		}
		return err
	})
	if err == nil && best == "" {
		err = fmt.Errorf("%s holds no *after_optimizations.txt", dir)
	}
	return best, err
}

// Instr is one instruction of the entry computation.
type Instr struct {
	Name, Shape, Op string
	Kind            string   // a fusion's kind and backend, a custom call's target, or the opcode
	Bytes           int64    // of its output
	Operands        []string // the names of the instructions it reads
	Traffic         int64    // Bytes plus its distinct operands' bytes: each read once, the output written once
}

// Module is the entry computation of an HLO module.
type Module struct {
	Name  string
	Entry []Instr
}

var (
	reKind    = regexp.MustCompile(`\bkind=(k\w+)`)
	reBackend = regexp.MustCompile(`"kind":"(__[\w$]+)"`)
	reTarget  = regexp.MustCompile(`custom_call_target="([^"]+)"`)
	reArray   = regexp.MustCompile(`\b(pred|[subf]\d+|bf16|f8\w*|c64|c128)\[([\d,]*)\]`)
)

// notKernels are entry instructions that launch nothing.
var notKernels = map[string]bool{"parameter": true, "constant": true, "get-tuple-element": true, "tuple": true,
	"bitcast": true, "after-all": true, "partition-id": true, "replica-id": true, "opt-barrier": true}

// parse reads HLO text and keeps the module name and the entry computation's instructions.
func parse(r io.Reader) (*Module, error) {
	m := &Module{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<28) // instructions with their metadata can be long
	inEntry := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "HloModule "):
			m.Name = strings.TrimSuffix(strings.Fields(line)[1], ",")
		case strings.HasPrefix(line, "ENTRY "):
			inEntry = true
		case inEntry && line == "}":
			inEntry = false
		case inEntry && line != "":
			if in, ok := parseInstr(line); ok {
				m.Entry = append(m.Entry, in)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(m.Entry) == 0 {
		return nil, errors.New("no ENTRY computation")
	}
	// Each instruction's traffic, from its operands' output sizes (an operand outside the entry
	// computation counts nothing).
	sizes := map[string]int64{}
	for _, in := range m.Entry {
		sizes[in.Name] = in.Bytes
	}
	for i, in := range m.Entry {
		m.Entry[i].Traffic = in.Bytes
		seen := map[string]bool{}
		for _, o := range in.Operands {
			if !seen[o] {
				seen[o] = true
				m.Entry[i].Traffic += sizes[o]
			}
		}
	}
	return m, nil
}

// parseInstr parses `[ROOT] [%]name = shape opcode(operands), attributes`.
func parseInstr(line string) (Instr, bool) {
	line = strings.TrimPrefix(line, "ROOT ")
	name, rest, ok := strings.Cut(line, " = ")
	if !ok {
		return Instr{}, false
	}
	in := Instr{Name: strings.TrimPrefix(name, "%")}
	if strings.HasPrefix(rest, "(") { // a tuple shape: up to its matching parenthesis
		depth := 0
		for i, c := range rest {
			if c == '(' {
				depth++
			} else if c == ')' {
				if depth--; depth == 0 {
					in.Shape, rest = rest[:i+1], strings.TrimSpace(rest[i+1:])
					break
				}
			}
		}
	} else {
		in.Shape, rest, _ = strings.Cut(rest, " ")
	}
	op, _, ok := strings.Cut(rest, "(")
	if !ok || in.Shape == "" {
		return Instr{}, false
	}
	in.Op = op
	in.Bytes = shapeBytes(in.Shape)
	in.Operands = operandNames(rest[len(op)+1:])
	in.Kind = op
	switch op {
	case "fusion":
		if k := reKind.FindStringSubmatch(rest); k != nil {
			in.Kind = "fusion " + k[1]
		}
		if b := reBackend.FindStringSubmatch(rest); b != nil {
			in.Kind += " " + b[1]
		}
	case "custom-call":
		if t := reTarget.FindStringSubmatch(rest); t != nil {
			in.Kind = "custom-call " + t[1]
		}
	}
	return in, true
}

// operandNames reads the names in an operand list, "bf16[8,16]{1,0} %a, %b), attributes...", up to
// the parenthesis that closes it; each operand is written with its shape or without.
func operandNames(list string) []string {
	var names []string
	depth, start := 0, 0
	for i, c := range list {
		switch c {
		case '(', '[', '{':
			depth++
		case ']', '}':
			depth--
		case ')':
			if depth == 0 {
				return append(names, lastName(list[start:i])...)
			}
			depth--
		case ',':
			if depth == 0 {
				names = append(names, lastName(list[start:i])...)
				start = i + 1
			}
		}
	}
	return names
}

// lastName returns the operand name at the end of one item of an operand list, if any.
func lastName(item string) []string {
	f := strings.Fields(item)
	if len(f) == 0 {
		return nil
	}
	return []string{strings.TrimPrefix(f[len(f)-1], "%")}
}

// shapeBytes is the size of an array or tuple shape such as bf16[16,1024,768]{2,1,0}.
func shapeBytes(shape string) int64 {
	var total int64
	for _, m := range reArray.FindAllStringSubmatch(shape, -1) {
		n := int64(1)
		if m[2] != "" {
			for _, d := range strings.Split(m[2], ",") {
				v, _ := strconv.ParseInt(d, 10, 64)
				n *= v
			}
		}
		total += n * dtypeBytes(m[1])
	}
	return total
}

func dtypeBytes(t string) int64 {
	switch t {
	case "pred":
		return 1
	case "bf16":
		return 2
	case "c64":
		return 8
	case "c128":
		return 16
	}
	if strings.HasPrefix(t, "f8") {
		return 1
	}
	bits, err := strconv.Atoi(t[1:]) // s32, u8, f16, f64, ...; s4 and u4 counted as a byte
	if err != nil || bits < 8 {
		return 1
	}
	return int64(bits / 8)
}

// write prints the summary; bandwidth in TB/s.
func (m *Module) write(w io.Writer, path string, bandwidth float64) {
	var kernels []Instr
	count := map[string]int{}
	bytes, traffic := map[string]int64{}, map[string]int64{}
	var total, moved int64
	for _, in := range m.Entry {
		if notKernels[in.Op] {
			continue
		}
		kernels = append(kernels, in)
		count[in.Kind]++
		bytes[in.Kind] += in.Bytes
		traffic[in.Kind] += in.Traffic
		total += in.Bytes
		moved += in.Traffic
	}
	fmt.Fprintf(w, "%s\nmodule %s: %d entry instructions, %d kernels, their outputs %s\n",
		path, m.Name, len(m.Entry), len(kernels), human(total))
	fmt.Fprintf(w, "traffic (each kernel reads its operands once, writes its output once): %s, %.2f ms at %g TB/s\n",
		human(moved), float64(moved)/(bandwidth*1e12)*1e3, bandwidth)
	kinds := make([]string, 0, len(count))
	for k := range count {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if count[kinds[i]] != count[kinds[j]] {
			return count[kinds[i]] > count[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	fmt.Fprintln(w, "\nkernels by kind (count, output bytes, traffic):")
	for _, k := range kinds {
		fmt.Fprintf(w, "  %5d  %10s  %10s  %s\n", count[k], human(bytes[k]), human(traffic[k]), k)
	}
	byTraffic := slices.Clone(kernels)
	sort.SliceStable(byTraffic, func(i, j int) bool { return byTraffic[i].Traffic > byTraffic[j].Traffic })
	fmt.Fprintln(w, "\nmost traffic:")
	for _, in := range byTraffic[:min(12, len(byTraffic))] {
		fmt.Fprintf(w, "  %10s  %-28s %s  %s\n", human(in.Traffic), in.Kind, in.Shape, in.Name)
	}
	sort.SliceStable(kernels, func(i, j int) bool { return kernels[i].Bytes > kernels[j].Bytes })
	fmt.Fprintln(w, "\nlargest outputs:")
	for _, in := range kernels[:min(12, len(kernels))] {
		fmt.Fprintf(w, "  %10s  %-28s %s  %s\n", human(in.Bytes), in.Kind, in.Shape, in.Name)
	}
	var moves []Instr
	var moveBytes int64
	for _, in := range kernels {
		if in.Op == "transpose" || in.Op == "copy" {
			moves = append(moves, in)
			moveBytes += in.Bytes
		}
	}
	fmt.Fprintf(w, "\nunfused transposes and copies: %d, %s\n", len(moves), human(moveBytes))
	for _, in := range moves[:min(8, len(moves))] {
		fmt.Fprintf(w, "  %10s  %s %s  %s\n", human(in.Bytes), in.Op, in.Shape, in.Name)
	}
}

func human(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}
