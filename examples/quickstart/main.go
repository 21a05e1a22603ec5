// Command quickstart trains a small transformer on the Go standard library's strings package and
// samples from it, through package trainer: a few lines of Go (about 10 seconds on 2 CPU cores).
//
//	go run ./examples/quickstart
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/trainer"
)

func main() {
	o := trainer.DefaultOptions() // the Tiny transformer on bytes, AdamW, cosine schedule
	o.Data = filepath.Join(runtime.GOROOT(), "src", "strings")
	o.Ext = ".go"
	o.Out = "runs/quickstart" // checkpoint.bin, loss.csv, loss.png
	o.Steps, o.Seq, o.Sample = 60, 64, 80
	res, err := trainer.Run(o, os.Stdout, os.Stderr)
	if err != nil {
		cli.PrintError(os.Stderr, "quickstart", err)
		os.Exit(1)
	}
	fmt.Printf("validation loss %.3f nats per byte after %d steps\n", res.ValLoss, res.Step)
}
