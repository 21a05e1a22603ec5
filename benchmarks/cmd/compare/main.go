// Command compare runs the training-throughput grid (transformer, LSTM, GRU across sequence
// lengths) on this machine, and the PyTorch reference on the same grid when python3 has torch
// (with -reference benchmarks/reference/reference_jax.py, the JAX one, where python3 has jax), then
// writes the results: benchmarks/results/<label>.json, a chart of tokens/s against T and one of
// compile time against T (PNG), and benchmarks/RESULTS.md from every results file present.
//
//	go run ./benchmarks/cmd/compare                                   # CPU, pure-Go backend
//	GOMLX_BACKEND=xla:cuda ./compare -label h100 -peak-tflops 790 -reference-args "--device cuda"
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bitterlesson/bitter/attention"
	"github.com/bitterlesson/bitter/backend"
	"github.com/bitterlesson/bitter/benchmarks/bench"
	"github.com/bitterlesson/bitter/internal/chart"
	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/lm"
)

// Run is one results file: a grid measured on one machine and backend.
type Run struct {
	Label      string            `json:"label"`
	Date       string            `json:"date"`
	Machine    string            `json:"machine"`
	GPU        string            `json:"gpu,omitempty"`  // name, driver and memory of each NVIDIA GPU (nvidia-smi)
	Note       string            `json:"note,omitempty"` // -note: what else the run should record (software versions, say)
	Backend    string            `json:"backend"`
	GoVersion  string            `json:"go_version"`
	GoMLX      string            `json:"gomlx"`
	Tokens     int               `json:"tokens_per_step"`
	PeakTFLOPs float64           `json:"peak_tflops,omitempty"`
	Command    string            `json:"command"`
	Ours       []bench.Result    `json:"ours"`
	Torch      []json.RawMessage `json:"torch,omitempty"`
	TorchNote  string            `json:"torch_note,omitempty"`
	Generate   []bench.GenResult `json:"generate,omitempty"`
	Failed     []string          `json:"failed,omitempty"` // cells of ours that did not complete, and why
}

type torchResult struct {
	bench.Result
	Impl string `json:"impl"`
}

func main() {
	if err := run(); err != nil {
		cli.PrintError(os.Stderr, "compare", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dir       = flag.String("dir", "benchmarks", "folder of RESULTS.md; results go to <dir>/results")
		label     = flag.String("label", "cpu", "name of this machine and backend in the results (letters, digits, -)")
		steps     = flag.Int("steps", 2, "timed steps per cell, after the compile step")
		tokens    = flag.Int("tokens", 4096, "tokens per training step")
		models    = flag.String("models", strings.Join(bench.Models, ","), "models to measure")
		lengths   = flag.String("lengths", "64,128,256,512,1024", "sequence lengths")
		peak      = flag.Float64("peak-tflops", 0, "device peak TFLOP/s for MFU (0 = none)")
		reference = flag.String("reference", "benchmarks/reference/reference.py", "the peer's script: reference.py (PyTorch) or reference_jax.py (JAX, the transformer only); empty = skip")
		refArgs   = flag.String("reference-args", "", "extra arguments for the reference script; several runs of it separated by ';' (eager;compile)")
		python    = flag.String("python", "", "the Python that has the peer's framework (empty: python3, else /usr/bin/python3, whichever imports torch, or jax for reference_jax.py)")
		gen       = flag.Bool("generate", true, "also measure generation (TTFT, tokens/s)")
		onlyWrite = flag.Bool("write-only", false, "only regenerate RESULTS.md and charts from the results files")
		onlyRef   = flag.Bool("reference-only", false, "re-run only the peer (-reference) into the existing results file of -label (with -append: add to its peers)")
		refTime   = flag.Duration("reference-timeout", 0, "time limit of each reference variant (0 = none); one cut short keeps the cells it finished")
		appendRes = flag.Bool("append", false, "add to the existing results file of -label, replacing the cells measured again")
		note      = flag.String("note", "", "free text recorded with the results and shown in RESULTS.md (versions of the plugin, say)")
	)
	var sizes bench.Sizes
	sizes.RegisterFlags(flag.CommandLine)
	flag.Parse()
	kernels, envErr := cli.AttentionKernels()
	if err := errors.Join(checkFlags(*steps, *tokens, *peak, *refTime, *models), sizes.Validate(), envErr); err != nil {
		return err
	}
	sizes.Kernels = kernels
	resultsDir := filepath.Join(*dir, "results")
	if err := os.MkdirAll(resultsDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(resultsDir, *label+".json")
	save := func(r Run) error {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	}
	command := "go run ./benchmarks/cmd/compare " + shellJoin(os.Args[1:])                                  // this run, as recorded
	ref := references{script: *reference, name: peerOf(*reference), extra: strings.Join(sizes.Args(), " "), // the model sizes
		models: *models, lengths: *lengths, tokens: *tokens, steps: *steps, timeout: *refTime}
	if *onlyRef {
		r, err := load(path)
		if err != nil {
			return fmt.Errorf("-reference-only: %w", err)
		}
		if ref.python = pickPython(*python, ref.name.module); ref.python == "" {
			return fmt.Errorf("-reference-only: no python3 here imports %s", ref.name.module)
		}
		r.Command += "; " + command
		// Saved after every variant, so a run cut short keeps the variants it finished. With -append
		// the peers already in the file stay, but for the cells measured again.
		prev := r
		var saveErr error
		ref.run(*refArgs, func(torch []json.RawMessage, note string) {
			r.Torch, r.TorchNote = torch, note
			if *appendRes {
				r.Torch = mergeTorch(prev.Torch, torch)
				r.TorchNote = strings.Trim(prev.TorchNote+"; "+note, "; ")
			}
			if err := save(r); err != nil && saveErr == nil {
				saveErr = err
			}
		})
		if saveErr != nil {
			return saveErr
		}
	} else if !*onlyWrite {
		var lens []int
		for _, s := range strings.Split(*lengths, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < 1 {
				return fmt.Errorf("-lengths: %q is not a positive integer", s)
			}
			lens = append(lens, n)
		}
		var prev Run
		if *appendRes {
			var err error
			if prev, err = load(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("-append: %w", err)
			}
		}
		// The peer runs first, before this process takes the device: on a GPU both would otherwise
		// hold memory at once, and a grid cell that hangs in compilation would leave no peer numbers.
		var torch []json.RawMessage
		var torchNote string
		if *reference != "" {
			if ref.python = pickPython(*python, ref.name.module); ref.python == "" {
				torchNote = fmt.Sprintf("%s reference skipped: no python3 here imports %s%s", ref.name, ref.name.module, ref.name.install)
			} else {
				torch, torchNote = ref.run(*refArgs, nil)
			}
		}
		if *appendRes && prev.Command != "" {
			command = prev.Command + "; " + command
		}
		// Every finished cell is saved at once, so a run cut short keeps what it measured.
		err := measure(*label, strings.Split(*models, ","), lens, *tokens, *steps, *peak, *gen, sizes, func(r Run) error {
			r.Command = command
			r.Torch, r.TorchNote = torch, torchNote
			if r.Note = *note; r.Note == "" {
				r.Note = prev.Note
			}
			if n := attention.CuDNNCalls(); n > 0 && !strings.Contains(r.Note, cudnnNote) {
				r.Note = strings.Trim(r.Note+"; "+cudnnNote, "; ")
			}
			return save(merge(prev, r))
		})
		if err != nil {
			return err
		}
	}
	return writeResults(*dir, resultsDir)
}

// cudnnNote is added to the results' note when attention ran on cuDNN's fused kernel
// (cli.CuDNNEnvVar, in a build with custom calls).
const cudnnNote = "attention on cuDNN's fused kernel (custom calls)"

// checkFlags rejects settings no cell could run with, before anything runs.
func checkFlags(steps, tokens int, peak float64, refTimeout time.Duration, models string) error {
	switch {
	case steps < 1:
		return fmt.Errorf("-steps %d: need at least 1 timed step", steps)
	case tokens < 1:
		return fmt.Errorf("-tokens %d: need at least 1 token per step", tokens)
	case !(peak >= 0):
		return fmt.Errorf("-peak-tflops %g: must be 0 (no MFU) or positive", peak)
	case refTimeout < 0:
		return fmt.Errorf("-reference-timeout %s: must be 0 (none) or positive", refTimeout)
	}
	for _, m := range strings.Split(models, ",") {
		if !slices.Contains(bench.Models, m) {
			return fmt.Errorf("-models: %q is not one of %s", m, strings.Join(bench.Models, ", "))
		}
	}
	return nil
}

// shellJoin joins args into a command line a shell reads back as args: empty words and words with
// spaces or shell characters are single-quoted.
func shellJoin(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\;&|<>()$`*?[]{}~#!") {
			words[i] = a
		} else {
			words[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(words, " ")
}

// peer names a reference script's framework: the name its columns and notes take, the Python module
// it needs and how to install it.
type peer struct{ name, module, install string }

func (p peer) String() string { return p.name }

// peerOf tells the peer from the script's file name: reference_jax.py is JAX's, any other PyTorch's.
func peerOf(script string) peer {
	if strings.Contains(filepath.Base(script), "jax") {
		return peer{"JAX", "jax", ""}
	}
	return peer{"PyTorch", "torch", " (Debian: apt-get install -y python3-torch)"}
}

// peerOfImpl names the framework of a result's "impl" ("jax 0.11.2 gpu ...", "torch 2.11.0 cuda ...").
func peerOfImpl(impl string) string {
	if strings.HasPrefix(impl, "jax ") {
		return "JAX"
	}
	return "PyTorch"
}

// pickPython is the first python3 that imports module (explicit's, when given), or "".
func pickPython(explicit, module string) string {
	candidates := []string{"python3", "/usr/bin/python3"}
	if explicit != "" {
		candidates = []string{explicit}
	}
	for _, py := range candidates {
		if exec.Command(py, "-c", "import "+module).Run() == nil {
			return py
		}
	}
	return ""
}

// measure runs the grid, calling save after every cell. A cell that fails is recorded in Failed and
// the grid goes on; only a backend that does not start is an error.
func measure(label string, models []string, lens []int, tokens, steps int, peak float64, gen bool, sizes bench.Sizes, save func(Run) error) error {
	b, err := backend.New()
	if err != nil {
		return err
	}
	desc := backend.Config() + " (" + b.Description() + ")"
	if backend.TF32(b) {
		desc += "; float32 matmuls in TF32"
	}
	if n := sizes.Kernels.CausalBlockFor(b.String()); n > 0 {
		desc += fmt.Sprintf("; the transformer's causal attention in query blocks of %d", n)
	}
	r := Run{Label: label, Date: time.Now().UTC().Format("2006-01-02"), Machine: machine(), GPU: gpuInfo(), GoVersion: runtime.Version(),
		GoMLX: gomlxVersion(), Tokens: tokens, PeakTFLOPs: peak, Backend: desc}
	// On XLA, each cell's device memory: the compiled memory of its largest program (the step).
	b, mem := backend.TrackMemory(b)
	if err := save(r); err != nil {
		return err
	}
	for _, m := range models {
		for _, t := range lens {
			mem.Reset()
			res, err := bench.MeasureTrain(b, m, t, tokens, steps, sizes, peak)
			if cm, ok := mem.Max(); ok && err == nil {
				res.PeakMemGB = float64(cm.Total()) / 1e9
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "%-11s T=%-5d failed: %v\n", m, t, err)
				r.Failed = append(r.Failed, fmt.Sprintf("%s T=%d: %v", m, t, firstLine(err.Error())))
			} else {
				memory := ""
				if res.PeakMemGB > 0 {
					memory = fmt.Sprintf(" memory %.2f GB", res.PeakMemGB)
				}
				fmt.Fprintf(os.Stderr, "%-11s T=%-5d %8.0f tokens/s %9.1f ms/step compile %.2f s%s\n", m, t, res.TokensPerSec, res.MsPerStep, res.CompileSec, memory)
				r.Ours = append(r.Ours, res)
			}
			if err := save(r); err != nil {
				return err
			}
		}
		if gen {
			g, err := bench.MeasureGenerate(b, m, 64, 64, sizes)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%-11s generation failed: %v\n", m, err)
				r.Failed = append(r.Failed, fmt.Sprintf("%s generation: %v", m, firstLine(err.Error())))
			} else {
				fmt.Fprintf(os.Stderr, "%-11s generation: TTFT %.1f ms, %.0f tokens/s\n", m, g.TTFTms, g.TokensPerSec)
				r.Generate = append(r.Generate, g)
			}
			if err := save(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// memoryTable writes the device memory of each cell, ours and the peers', where any is known.
func memoryTable(md *strings.Builder, r Run, torch map[string]torchResult, impls []string) {
	known := false
	for _, res := range r.Ours {
		known = known || res.PeakMemGB > 0
	}
	for _, t := range torch {
		known = known || t.PeakMemGB > 0
	}
	if !known {
		return
	}
	md.WriteString("\nDevice memory of a training step, GB (bitter on XLA: the compiled memory of the cell's largest program, " +
		"the step or, for a chunked RNN, a chunk: arguments + outputs - aliases + temporaries + code, as XLA plans it; " +
		"PyTorch: torch.cuda.max_memory_allocated over the cell's run; JAX: the device's peak_bytes_in_use):\n\n")
	md.WriteString("| model | T | bitter |")
	for i := range impls {
		fmt.Fprintf(md, " %s%s |", peerOfImpl(impls[i]), peerName(i, len(impls)))
	}
	md.WriteString("\n|---|---|---|" + strings.Repeat("---|", len(impls)) + "\n")
	gb := func(v float64) string {
		if v > 0 {
			return fmt.Sprintf(" %.2f |", v)
		}
		return " |"
	}
	for _, res := range r.Ours {
		fmt.Fprintf(md, "| %s | %d |%s", res.Model, res.SeqLen, gb(res.PeakMemGB))
		for _, impl := range impls {
			md.WriteString(gb(torch[fmt.Sprintf("%s/%s/%d", impl, res.Model, res.SeqLen)].PeakMemGB))
		}
		md.WriteString("\n")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// load reads a results file.
func load(path string) (Run, error) {
	var r Run
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// merge returns cur with the cells of prev that cur did not measure again (ours by model and T,
// generation by model, PyTorch by implementation, model and T), in prev's order first.
func merge(prev, cur Run) Run {
	if prev.Label == "" {
		return cur
	}
	out := cur
	out.Ours, out.Generate, out.Torch, out.Failed = nil, nil, nil, nil
	ours := map[string]bool{}
	for _, r := range cur.Ours {
		ours[fmt.Sprintf("%s/%d", r.Model, r.SeqLen)] = true
	}
	for _, r := range prev.Ours {
		if !ours[fmt.Sprintf("%s/%d", r.Model, r.SeqLen)] {
			out.Ours = append(out.Ours, r)
		}
	}
	out.Ours = append(out.Ours, cur.Ours...)
	gen := map[string]bool{}
	for _, g := range cur.Generate {
		gen[g.Model] = true
	}
	for _, g := range prev.Generate {
		if !gen[g.Model] {
			out.Generate = append(out.Generate, g)
		}
	}
	out.Generate = append(out.Generate, cur.Generate...)
	// Report order: models as bench.Models lists them, then sequence length.
	order := func(model string) int {
		if i := slices.Index(bench.Models, model); i >= 0 {
			return i
		}
		return len(bench.Models)
	}
	slices.SortStableFunc(out.Ours, func(a, b bench.Result) int {
		return cmp.Or(cmp.Compare(order(a.Model), order(b.Model)), cmp.Compare(a.SeqLen, b.SeqLen))
	})
	slices.SortStableFunc(out.Generate, func(a, b bench.GenResult) int { return cmp.Compare(order(a.Model), order(b.Model)) })
	out.Torch = mergeTorch(prev.Torch, cur.Torch)
	for _, f := range prev.Failed {
		cell, _, _ := strings.Cut(f, ":")
		again := slices.ContainsFunc(cur.Failed, func(g string) bool { return strings.HasPrefix(g, cell+":") })
		for _, r := range cur.Ours {
			again = again || cell == fmt.Sprintf("%s T=%d", r.Model, r.SeqLen)
		}
		if !again {
			out.Failed = append(out.Failed, f)
		}
	}
	out.Failed = append(out.Failed, cur.Failed...)
	out.TorchNote = strings.Trim(prev.TorchNote+"; "+cur.TorchNote, "; ")
	return out
}

// peerName tells the i-th of n peer implementations apart in column headers: "" when there is one.
func peerName(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(" (%c)", 'A'+i)
}

// references runs a peer's reference script on one grid.
type references struct {
	python, script  string
	name            peer
	extra           string // arguments for every variant: the model sizes
	models, lengths string
	tokens, steps   int
	timeout         time.Duration // per variant; 0: none
}

// run runs the script once per ';'-separated variant, calling progress (when not nil) with the cells
// and notes so far after each one, and returns them all.
func (r references) run(variants string, progress func([]json.RawMessage, string)) ([]json.RawMessage, string) {
	var all []json.RawMessage
	var notes []string
	for _, v := range strings.Split(variants, ";") {
		lines, note := r.runOne(v)
		all = append(all, lines...)
		if note != "" {
			notes = append(notes, note)
		}
		if progress != nil {
			progress(all, strings.Join(notes, "; "))
		}
	}
	return all, strings.Join(notes, "; ")
}

// runOne runs one variant; when it can't finish (no python3, no torch, the time limit), the note
// says why and the cells it printed are kept.
func (r references) runOne(variant string) ([]json.RawMessage, string) {
	args := []string{r.script, "--models", r.models, "--lengths", r.lengths, "--tokens", strconv.Itoa(r.tokens), "--steps", strconv.Itoa(r.steps)}
	args = append(args, strings.Fields(variant+" "+r.extra)...)
	ctx := context.Background()
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, r.python, args...)
	cmd.WaitDelay = 5 * time.Second // do not wait on pipes a killed script's children still hold
	var stderr bytes.Buffer
	cmd.Stderr = io.MultiWriter(&stderr, os.Stderr) // its per-cell failures show in the log

	out, err := cmd.Output()
	var lines []json.RawMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 && line[0] == '{' {
			lines = append(lines, json.RawMessage(slices.Clone(line)))
		}
	}
	if ctx.Err() != nil {
		return lines, fmt.Sprintf("%s reference %q stopped at its time limit of %s", r.name, strings.TrimSpace(variant), r.timeout)
	}
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		return lines, fmt.Sprintf("%s reference did not complete (%v: %s)", r.name, err, msg)
	}
	return lines, ""
}

func machine() string {
	model := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "model name") {
				model = strings.TrimSpace(line[strings.Index(line, ":")+1:])
				break
			}
		}
	}
	return fmt.Sprintf("%s, %d cores", model, runtime.NumCPU())
}

// gpuInfo describes the NVIDIA GPUs nvidia-smi lists ("NVIDIA H100 80GB HBM3, driver 580.159.04,
// 81559 MiB"), or "" where there is no nvidia-smi or it fails.
func gpuInfo() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nvidia-smi", "--query-gpu=name,driver_version,memory.total",
		"--format=csv,noheader").Output()
	if err != nil {
		return ""
	}
	var gpus []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, ",")
		if len(f) != 3 {
			continue
		}
		gpus = append(gpus, fmt.Sprintf("%s, driver %s, %s", strings.TrimSpace(f[0]), strings.TrimSpace(f[1]), strings.TrimSpace(f[2])))
	}
	return strings.Join(gpus, "; ")
}

func gomlxVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, d := range info.Deps {
			if d.Path == "github.com/gomlx/gomlx" {
				return d.Version
			}
		}
	}
	return "unknown"
}

// writeResults regenerates RESULTS.md and the charts from every results file.
func writeResults(dir, resultsDir string) error {
	files, err := filepath.Glob(filepath.Join(resultsDir, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return errors.New("no results files to write RESULTS.md from")
	}
	slices.Sort(files)
	var md strings.Builder
	md.WriteString("# Training throughput: Transformer vs LSTM vs GRU\n\n")
	md.WriteString("Generated by `benchmarks/cmd/compare` from `benchmarks/results/*.json`; do not edit by hand.\n")
	md.WriteString("Tokens per step are fixed (batch = tokens / T); tokens/s is the median of the timed steps after the first;\n")
	md.WriteString("compile is the first step less one median step. Peers, on the same machine in the same run: PyTorch is `benchmarks/reference/reference.py`, JAX `benchmarks/reference/reference_jax.py`.\n")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var r Run
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := section(&md, dir, resultsDir, r); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "RESULTS.md"), []byte(md.String()), 0o644)
}

func section(md *strings.Builder, dir, resultsDir string, r Run) error {
	// PyTorch results by implementation (eager, compile, ...), each a column of the table.
	torch := map[string]torchResult{}
	var impls []string
	for _, raw := range r.Torch {
		var t torchResult
		if json.Unmarshal(raw, &t) == nil {
			torch[fmt.Sprintf("%s/%s/%d", t.Impl, t.Model, t.SeqLen)] = t
			if !slices.Contains(impls, t.Impl) {
				impls = append(impls, t.Impl)
			}
		}
	}
	fmt.Fprintf(md, "\n## %s\n\n", r.Label)
	fmt.Fprintf(md, "- machine: %s\n", r.Machine)
	if r.GPU != "" {
		fmt.Fprintf(md, "- GPU: %s\n", r.GPU)
	}
	fmt.Fprintf(md, "- backend: %s\n- Go %s, GoMLX %s; date %s; %d tokens per step\n", r.Backend, r.GoVersion, r.GoMLX, r.Date, r.Tokens)
	if r.Note != "" {
		fmt.Fprintf(md, "- note: %s\n", r.Note)
	}
	for i, impl := range impls {
		fmt.Fprintf(md, "- peer%s: %s\n", peerName(i, len(impls)), impl)
	}
	if r.TorchNote != "" {
		fmt.Fprintf(md, "- peer: %s\n", r.TorchNote)
	}
	fmt.Fprintf(md, "- command: `%s`\n", r.Command)
	if chunks := rnnChunks(r.Ours); chunks != "" {
		fmt.Fprintf(md, "- RNNs trained by rnn.ChunkedTrainer (exact backpropagation through time, one graph per chunk of %s steps, "+
			"recomputing each chunk's forward pass in the backward: one extra forward of the recurrent layers)\n", chunks)
	}
	for _, f := range r.Failed {
		fmt.Fprintf(md, "- did not complete: %s\n", f)
	}
	md.WriteString("\n")
	mfu := r.PeakTFLOPs > 0
	md.WriteString("| model | T | batch | params | tokens/s | ms/step | compile s |")
	if mfu {
		fmt.Fprintf(md, " MFU (peak %.0f TFLOP/s) |", r.PeakTFLOPs)
	}
	for i := range impls {
		name := peerOfImpl(impls[i]) + peerName(i, len(impls))
		fmt.Fprintf(md, " %s tokens/s |", name)
		if mfu {
			fmt.Fprintf(md, " %s MFU |", name)
		}
		fmt.Fprintf(md, " ours / %s |", name)
	}
	md.WriteString("\n|---|---|---|---|---|---|---|")
	if mfu {
		md.WriteString("---|")
	}
	for range impls {
		md.WriteString("---|---|")
		if mfu {
			md.WriteString("---|")
		}
	}
	md.WriteString("\n")
	series := map[string]*chart.Series{}
	compile := map[string]*chart.Series{}
	var order []string
	for _, res := range r.Ours {
		fmt.Fprintf(md, "| %s | %d | %d | %d | %.0f | %.1f | %.2f |", res.Model, res.SeqLen, res.Batch, res.Params, res.TokensPerSec, res.MsPerStep, res.CompileSec)
		if mfu {
			fmt.Fprintf(md, " %.1f%% |", 100*res.MFU)
		}
		for _, impl := range impls {
			t, ok := torch[fmt.Sprintf("%s/%s/%d", impl, res.Model, res.SeqLen)]
			switch {
			case !ok:
				md.WriteString(" |")
				if mfu {
					md.WriteString(" |")
				}
				md.WriteString(" |")
			default:
				fmt.Fprintf(md, " %.0f |", t.TokensPerSec)
				if mfu {
					// The same FLOP count per token as ours: the models are the same.
					fmt.Fprintf(md, " %.1f%% |", 100*lm.MFU(res.FLOPsPerToken, t.TokensPerSec, r.PeakTFLOPs))
				}
				fmt.Fprintf(md, " %.2f |", res.TokensPerSec/t.TokensPerSec)
			}
		}
		md.WriteString("\n")
		if series[res.Model] == nil {
			series[res.Model] = &chart.Series{Name: res.Model + " (bitter)"}
			compile[res.Model] = &chart.Series{Name: res.Model}
			order = append(order, res.Model)
		}
		series[res.Model].X = append(series[res.Model].X, float64(res.SeqLen))
		series[res.Model].Y = append(series[res.Model].Y, res.TokensPerSec)
		compile[res.Model].X = append(compile[res.Model].X, float64(res.SeqLen))
		compile[res.Model].Y = append(compile[res.Model].Y, res.CompileSec)
	}
	memoryTable(md, r, torch, impls)
	if len(r.Generate) > 0 {
		md.WriteString("\nGeneration, batch 1, greedy, after a 64-token prompt (transformer on its KV cache; RNNs carry their state):\n\n")
		md.WriteString("| model | time to first token (ms) | tokens/s |\n|---|---|---|\n")
		for _, g := range r.Generate {
			fmt.Fprintf(md, "| %s | %.1f | %.0f |\n", g.Model, g.TTFTms, g.TokensPerSec)
		}
	}
	var tp, cp []chart.Series
	for i, m := range order {
		series[m].Color, compile[m].Color = i+1, i+1
		tp = append(tp, *series[m])
		cp = append(cp, *compile[m])
	}
	if len(impls) > 0 { // the first peer, dashed
		for i, m := range order {
			s := chart.Series{Name: m + " (" + peerOfImpl(impls[0]) + ")", Color: i + 1, Dashed: true}
			for _, res := range r.Ours {
				if t, ok := torch[fmt.Sprintf("%s/%s/%d", impls[0], m, res.SeqLen)]; ok && res.Model == m {
					s.X, s.Y = append(s.X, float64(t.SeqLen)), append(s.Y, t.TokensPerSec)
				}
			}
			if len(s.X) > 0 {
				tp = append(tp, s)
			}
		}
	}
	dashed := "PyTorch" // the first peer's framework
	if len(impls) > 0 {
		dashed = peerOfImpl(impls[0])
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
	md.WriteString("\n")
	for _, c := range []struct {
		file, alt string
		chart     chart.Chart
	}{
		{r.Label + "-throughput.png", "tokens/s against T", chart.Chart{Title: "training throughput, " + r.Label + " (solid: bitter, dashed: " + dashed + ")",
			XLabel: "sequence length T (tokens per step fixed)", YLabel: "tokens/s", LogX: true, LogY: true, Series: tp}},
		{r.Label + "-compile.png", "compile time against T", chart.Chart{Title: "first-step build and compile, " + r.Label,
			XLabel: "sequence length T", YLabel: "seconds", LogX: true, Series: cp}},
	} {
		path := filepath.Join(resultsDir, c.file)
		err := c.chart.Save(path)
		if errors.Is(err, chart.ErrNoData) { // no cell finished: no chart (and none left from before)
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(md, "![%s](%s)\n", c.alt, rel(path))
	}
	return nil
}

// mergeTorch returns the peer cells of prev not measured again in cur, then cur's.
func mergeTorch(prev, cur []json.RawMessage) []json.RawMessage {
	key := func(raw json.RawMessage) string {
		var t torchResult
		_ = json.Unmarshal(raw, &t)
		return fmt.Sprintf("%s/%s/%d", t.Impl, t.Model, t.SeqLen)
	}
	again := map[string]bool{}
	for _, raw := range cur {
		again[key(raw)] = true
	}
	var out []json.RawMessage
	for _, raw := range prev {
		if !again[key(raw)] {
			out = append(out, raw)
		}
	}
	return append(out, cur...)
}

// rnnChunks lists the chunk sizes the results' chunked RNNs used ("" for none).
func rnnChunks(results []bench.Result) string {
	var sizes []string
	for _, res := range results {
		if s := fmt.Sprint(res.Chunk); res.Chunk > 0 && !slices.Contains(sizes, s) {
			sizes = append(sizes, s)
		}
	}
	return strings.Join(sizes, ", ")
}
