// Command quickstart trains a small transformer on the Go standard library's strings package and
// samples from it, through package trainer: a few lines of Go (about 10 seconds on 2 CPU cores).
//
//	go run ./examples/quickstart [-steps 60] [-out runs/quickstart]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/trainer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		cli.PrintError(os.Stderr, "quickstart", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o := trainer.DefaultOptions() // the Tiny transformer on bytes, AdamW, cosine schedule
	o.Data = filepath.Join(runtime.GOROOT(), "src", "strings")
	o.Ext = ".go"
	o.Out = "runs/quickstart" // checkpoint.bin, loss.csv, loss.png
	o.Steps, o.Seq, o.Sample = 60, 64, 80
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.IntVar(&o.Steps, "steps", o.Steps, "optimizer steps")
	fs.StringVar(&o.Out, "out", o.Out, "output folder: checkpoint.bin, loss.csv, loss.png")
	if help, err := cli.ParseFlags(fs, args, os.Stdout); help || err != nil {
		return err
	}
	res, err := trainer.Run(o, os.Stdout, os.Stderr)
	if err != nil {
		return err
	}
	fmt.Printf("validation loss %.3f nats per byte after %d steps\n", res.ValLoss, res.Step)
	return nil
}
