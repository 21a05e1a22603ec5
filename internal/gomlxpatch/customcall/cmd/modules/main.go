// Command modules writes copies of the go-xla and GoMLX modules that give GoMLX graphs custom calls
// (package internal/gomlxpatch/customcall) into a folder, with a go.mod that builds against them, and prints
// that go.mod's path. Run it in this module's root:
//
//	go build -tags bitter_customcall -modfile "$(go run ./internal/gomlxpatch/customcall/cmd/modules /tmp/cc)" ./...
package main

import (
	"fmt"
	"os"

	"github.com/bitterlesson/bitter/internal/gomlxpatch/customcall"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: modules DIR (writes the copies and DIR/"+customcall.Modfile+"; prints its path)")
		os.Exit(2)
	}
	path, err := customcall.WriteModules(os.Args[1], "go.mod")
	if err != nil {
		fmt.Fprintln(os.Stderr, "modules:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}
