// Command handler is the Private Link Autopilot binary: the Azure Functions
// custom handler (no arguments), the standalone service and the CLI.
package main

import (
	"fmt"
	"io"
	"os"
)

// command is one subcommand of the handler binary. run gets the arguments
// after the subcommand name and returns the process exit code.
type command struct {
	name  string
	usage string
	run   func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "serve                     run as the Azure Functions custom handler (the default)", runServe},
		{"local", "local [--sandbox FILE]    run the whole app without the Functions host", runLocal},
		{"demo", "demo                      play the guide's story on the embedded sandbox", runDemo},
		{"replay", "replay --sandbox F --policy P [--json] EVENTS...   run events through the pipeline", runReplay},
		{"verify", "verify --fqdn NAME [...]  run the DNS and /metadata checks from here", runVerify},
		{"policy", "policy check FILE | policy explain ...   validate and explain a policy", runPolicy},
		{"bench", "bench [...]               measure the pipeline against the throttled sandbox", runBench},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runServe(nil, stdout, stderr)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "handler: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: handler [command] [flags]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintln(w, "  "+c.usage)
	}
}
