package main

import (
	"fmt"
	"io"
)

func runVerify(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "handler verify: not implemented yet")
	return 2
}
