package main

import (
	"fmt"
	"io"
)

func runLocal(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "handler local: not implemented yet")
	return 2
}
