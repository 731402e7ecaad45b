package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpListsEveryCommand checks that `handler --help` names every
// command with a one-line description, and points at per-command help.
func TestHelpListsEveryCommand(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "help"} {
		var stdout, stderr bytes.Buffer
		if got := run([]string{arg}, &stdout, &stderr); got != 0 {
			t.Fatalf("handler %s: exit %d, want 0", arg, got)
		}
		out := stdout.String()
		for _, c := range commands() {
			line := ""
			for l := range strings.SplitSeq(out, "\n") {
				if f := strings.Fields(l); len(f) > 1 && f[0] == c.name {
					line = l
				}
			}
			if line == "" {
				t.Errorf("handler %s: no line for command %q:\n%s", arg, c.name, out)
			}
		}
		if !strings.Contains(out, "handler COMMAND -h") {
			t.Errorf("handler %s: does not say how to get a command's flags:\n%s", arg, out)
		}
	}
}

// TestCommandHelpExitsZero checks that every command's -h prints its usage
// on stdout and exits 0, alone or among other flags.
func TestCommandHelpExitsZero(t *testing.T) {
	tests := [][]string{
		{"serve", "-h"}, {"local", "-h"}, {"demo", "-h"}, {"replay", "-h"}, {"verify", "-h"},
		{"policy", "-h"}, {"policy", "check", "-h"}, {"policy", "explain", "-h"}, {"bench", "-h"},
		{"replay", "--json", "--help"}, {"demo", "--color", "never", "-h"}, {"help", "replay"},
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(args, &stdout, &stderr); got != 0 {
				t.Fatalf("exit %d, want 0\nstderr: %s", got, stderr.String())
			}
			if !strings.Contains(strings.ToLower(stdout.String()), "usage") {
				t.Errorf("no usage on stdout:\n%s\nstderr: %s", stdout.String(), stderr.String())
			}
		})
	}
}

func TestUnknownCommandOrFlag(t *testing.T) {
	tests := []struct {
		name, arg, want string
	}{
		{"unknown command", "frob", `unknown command "frob"`},
		{"flag before the command", "--sandbox", `unknown flag "--sandbox": flags go after the command`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run([]string{tt.arg}, &stdout, &stderr); got != 2 {
				t.Errorf("exit %d, want 2", got)
			}
			if !strings.Contains(stderr.String(), tt.want) || !strings.Contains(stderr.String(), "commands:") {
				t.Errorf("stderr lacks %q and the command list:\n%s", tt.want, stderr.String())
			}
		})
	}
}
