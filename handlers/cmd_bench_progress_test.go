package main

import (
	"bytes"
	"strings"
	"testing"
)

// handler bench says what it does (-h) and, while it runs, that it is
// running: the full size takes minutes and used to print nothing until the
// table.
func TestBenchSaysWhatItDoes(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"bench", "-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Generates a landing zone") || !strings.Contains(out.String(), "-spokes") {
		t.Errorf("bench -h: exit %d, stdout:\n%s\nwant the command's description and its flags", code, out.String())
	}
	out.Reset()
	errb.Reset()
	code := run([]string{"bench", "--workspaces", "1", "--spokes", "3", "--requests", "4", "--unknown", "1"}, &out, &errb)
	if code != 0 {
		t.Fatalf("small bench: exit %d\nstderr:\n%s", code, errb.String())
	}
	progress := errb.String()
	for _, want := range []string{"handler bench: ", "event deliveries for 1 workspaces, 3 spokes", "handler bench: done in "} {
		if !strings.Contains(progress, want) {
			t.Errorf("stderr lacks %q:\n%s", want, progress)
		}
	}
	if strings.Contains(out.String(), "handler bench:") {
		t.Errorf("progress went to stdout, mixed with the table (and with --json):\n%s", out.String())
	}
}
