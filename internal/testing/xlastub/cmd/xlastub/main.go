// Command xlastub builds the stand-in PJRT plugin of package xlastub into a folder and prints its
// path, for GOMLX_BACKEND=xla:<path>:
//
//	GOMLX_BACKEND=xla:$(go run ./internal/testing/xlastub/cmd/xlastub /tmp/xlastub) XLASTUB_RUN=1 go run ./examples/nexttoken -steps 3
//
// runs the trainer through GoMLX's XLA backend and go-xla with every output zero (XLASTUB_RUN=1;
// without it the first compile fails on purpose), and BITTER_XLA_STUB_OUT=<folder> keeps the
// StableHLO programs it was given.
package main

import (
	"fmt"
	"os"

	"github.com/bitterlesson/bitter/internal/testing/xlastub"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: xlastub DIR")
		os.Exit(2)
	}
	if err := os.MkdirAll(os.Args[1], 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	path, err := xlastub.Build(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
