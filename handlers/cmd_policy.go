package main

import (
	"fmt"
	"io"
)

func runPolicy(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "handler policy: not implemented yet")
	return 2
}
