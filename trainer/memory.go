package trainer

import (
	"fmt"
	"strings"

	"github.com/bitterlesson/bitter/backend"
)

// corpusCopies is how many bytes of memory reading and tokenizing a corpus takes per byte of it, at
// its peak: the files as read, their concatenation, and the tokens (2 bytes each, one per byte with
// the byte tokenizer).
const corpusCopies = 4

// checkMemory estimates what the run needs in the host's memory (the corpus, read and tokenized,
// and, on the pure-Go backend, the model's training state and a micro-batch's activations: see
// lm.Model.TrainingMemory) and refuses a run that cannot fit, naming the flags that size the
// largest part. Where the host's available memory is not known it checks nothing.
func (r *run) checkMemory() error {
	available, ok := backend.HostMemory()
	if !ok {
		return nil
	}
	o := r.o
	corpus, err := o.corpusBytes()
	if err != nil {
		return err
	}
	type part struct {
		what  string
		bytes float64
		fix   string
	}
	parts := []part{{fmt.Sprintf("the corpus (%s of files, read and tokenized)", humanBytes(float64(corpus))),
		corpusCopies * float64(corpus), "train on less -data"}}
	if name, _, _ := strings.Cut(backend.Config(), ":"); name == "go" { // on XLA the model lives on the device
		state, activations := r.model.TrainingMemory(o.Batch, r.seq)
		parts = append(parts,
			part{fmt.Sprintf("the model's %d parameters with their gradients and AdamW's moments", r.model.NumParams()),
				state, "lower -dim, -layers, -ffn or -vocab"},
			part{fmt.Sprintf("the activations of %d sequences of %d tokens", o.Batch, r.seq),
				activations, "lower -batch or -seq (-accum keeps the batch per step)"})
	}
	var total float64
	largest := parts[0]
	for _, p := range parts {
		total += p.bytes
		if p.bytes > largest.bytes {
			largest = p
		}
	}
	if total <= float64(available) {
		return nil
	}
	return fmt.Errorf("memory: the run needs about %s, %s of it for %s, and %s is available: %s",
		humanBytes(total), humanBytes(largest.bytes), largest.what, humanBytes(float64(available)), largest.fix)
}

// humanBytes writes a number of bytes in the largest unit that keeps it at 1 or more.
func humanBytes(b float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB", "PB", "EB"}
	i := 0
	for b >= 1000 && i < len(units)-1 {
		b /= 1000
		i++
	}
	if i == len(units)-1 && b >= 1000 {
		return fmt.Sprintf("%.3g %s", b, units[i])
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}
