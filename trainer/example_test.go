package trainer_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/bitterlesson/bitter/trainer"
)

// A run in a few lines: a small transformer on a repetitive text, its checkpoint, loss.csv and
// loss.png in o.Out. Run prints its progress to the two writers (here discarded) and returns the
// result; trainer.Run(o, os.Stdout, os.Stderr) shows it.
func Example() {
	dir, err := os.MkdirTemp("", "trainer-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	corpus := filepath.Join(dir, "corpus.txt")
	if err := os.WriteFile(corpus, bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog. "), 200), 0o644); err != nil {
		fmt.Println(err)
		return
	}

	o := trainer.DefaultOptions() // the Tiny transformer on bytes, AdamW, cosine schedule
	o.Data, o.Out = corpus, filepath.Join(dir, "run")
	o.Layers, o.Dim, o.Heads, o.FFN, o.Seq, o.Batch = 1, 32, 2, 64, 32, 8
	o.Steps, o.Warmup, o.EvalEvery, o.Sample, o.LR = 150, 10, 50, 0, 1e-2
	res, err := trainer.Run(o, io.Discard, io.Discard)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("step 1: loss %.1f nats per byte (ln 256: a uniform guess)\n", res.History[0].TrainLoss)
	fmt.Printf("step %d: validation loss below 0.1: %v\n", res.Step, res.ValLoss < 0.1)
	// Output:
	// step 1: loss 5.5 nats per byte (ln 256: a uniform guess)
	// step 150: validation loss below 0.1: true
}
