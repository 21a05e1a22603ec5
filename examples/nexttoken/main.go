// Command nexttoken trains a next-token language model on a corpus and samples from it: flags over
// package trainer's Options.
//
// With no flags it trains the Tiny preset (4 layers, 128 wide) on the Go source under
// $(go env GOROOT)/src, on GoMLX's pure-Go backend, for 1,000 steps, about 3 minutes on 2 CPU cores:
// a progress bar, periodic validation loss, a checkpoint, loss.csv and loss.png in runs/nexttoken,
// and a generated sample. Its last line is "final: step=N train_loss=X val_loss=Y tokens_per_sec=Z".
//
//	go run ./examples/nexttoken
//	go run ./examples/nexttoken -steps 100                              # a smoke run, about 20 seconds
//	go run ./examples/nexttoken -steps 1500 -resume                     # continue the same run
//	go run ./examples/nexttoken -generate -prompt "func main" -sample 500 # sample from its checkpoint
//	go run ./examples/nexttoken -init-from ~/gpt2 -data input.txt         # fine-tune GPT-2 (Hugging Face's files)
//	go run ./examples/nexttoken -export runs/hf                          # the checkpoint in GPT-2's layout
//	go run ./examples/nexttoken -data runs/shards                        # from examples/prepare's shards
//	GOMLX_BACKEND=xla:cuda go run ./examples/nexttoken -preset gpt2-small # on a GPU
//
// Run with -h for every flag.
package main

import (
	"context"
	"flag"
	"os"
	"os/signal"
	"syscall"

	"github.com/bitterlesson/bitter/internal/cmdutil/cli"
	"github.com/bitterlesson/bitter/trainer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		cli.PrintError(os.Stderr, "nexttoken", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	o := trainer.DefaultOptions()
	fs := flag.NewFlagSet("nexttoken", flag.ContinueOnError)
	registerFlags(fs, &o)
	if help, err := cli.ParseFlags(fs, args, os.Stdout); help || err != nil {
		return err
	}
	kernels, err := cli.AttentionKernels() // BITTER_CAUSAL_BLOCK, BITTER_CUDNN_ATTENTION
	if err != nil {
		return err
	}
	o.Kernels = kernels
	if o.Export != "" {
		return trainer.Export(o, os.Stdout)
	}
	if o.Generate {
		_, err = trainer.Generate(o, os.Stdout)
		return err
	}
	// Ctrl-C or a TERM signal stops the run between two steps, with the last checkpoint intact.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err = trainer.RunContext(ctx, o, os.Stdout, os.Stderr)
	return err
}
