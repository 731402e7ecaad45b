package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// command is one subcommand of the handler binary. run gets the arguments
// after the subcommand name and returns the process exit code.
type command struct {
	name string
	// synopsis is the command line, summary what it does, in one line each.
	synopsis string
	summary  string
	run      func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "serve", "run as the Azure Functions custom handler (the default)", runServe},
		{"local", "local [--sandbox FILE] [--policy FILE]", "run the whole app without the Functions host", runLocal},
		{"demo", "demo", "play the guide's story on the embedded sandbox", runDemo},
		{"replay", "replay (--sandbox FILE | --live) --policy FILE EVENTS...", "run event files through intake, queue and reconciler (--live: plan on the real subscription, write nothing)", runReplay},
		{"verify", "verify --fqdn NAME [--sandbox FILE --vnet NAME]", "run the DNS and /metadata checks from here, or from inside a sandbox VNet", runVerify},
		{"policy", "policy check FILE | explain ...", "validate a policy, or explain its decision for one connection (sandbox or --live)", runPolicy},
		{"bench", "bench", "measure the pipeline against the throttled sandbox", runBench},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if code, refused := refuseDevFeature(args, os.Getenv, stderr); refused {
		return code
	}
	if len(args) == 0 {
		if _, err := listenAddr(os.Getenv); errors.Is(err, errNoPort) {
			// Started by hand: say what serve mode needs and where else to go.
			fmt.Fprint(stderr, noPortHint)
			return 2
		}
		return runServe(nil, stdout, stderr)
	}
	if isHelp(args[0]) || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" { // handler help COMMAND
			return run([]string{args[1], "-h"}, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		if len(args) == 2 && isHelp(args[1]) {
			// Help asked for is an answer, not an error: usage on stdout,
			// exit 0, whatever the command's flag parsing returns.
			c.run(args[1:], stdout, stdout)
			return 0
		}
		return c.run(args[1:], stdout, stderr)
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "handler: unknown flag %q: flags go after the command\n\n", args[0])
	} else {
		fmt.Fprintf(stderr, "handler: unknown command %q\n\n", args[0])
	}
	usage(stderr)
	return 2
}

// noPortHint answers `handler` run by hand, without the port the Functions
// host passes.
var noPortHint = fmt.Sprintf(`handler: no port. Without a command the handler runs in serve mode, as the
Azure Functions custom handler: the host starts it with %s set
(the older %s works too).

  on the sandbox, without Azure:  handler local --sandbox testdata/scenarios/guide.yaml --policy examples/policy.yaml
  under func start:               make start (docs/functions-host.md)
  every command:                  handler --help
`, envPort, envPortLegacy)

func isHelp(a string) bool { return a == "-h" || a == "-help" || a == "--help" }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: handler [command] [flags]")
	fmt.Fprintln(w, "\nWithout a command it runs as the Azure Functions custom handler (serve).")
	fmt.Fprintln(w, "\ncommands:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands() {
		summary := c.summary
		if productionBuild && devCommands[c.name] {
			summary += " (not in this production build)"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, summary)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nRun 'handler COMMAND -h' for a command's flags.")
}

// parseFlags parses args into fs, flags and positional arguments in any
// order ("explain ID --json" works as "explain --json ID"); "--" ends the
// flags. It returns the positional arguments, and ok false with the exit
// code when the command must stop: 0 after -h (usage on stdout), 2 after a
// bad flag (the flag package has printed the error and usage on stderr).
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (rest []string, code int, ok bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, 0, false
		}
	}
	fs.SetOutput(stderr)
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, 0, false
			}
			return nil, 2, false
		}
		left := fs.Args()
		consumed := len(args) - len(left)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(rest, left...), 0, true
		}
		if len(left) == 0 {
			break
		}
		rest = append(rest, left[0])
		args = left[1:]
	}
	return rest, 0, true
}

// refuseDevFeature answers, in the production build, what needs the
// sandbox: serve mode with AUTOPILOT_SANDBOX set and any command's
// --sandbox flag (local, verify, policy explain, replay) get
// productionOnly's error and exit status 2, before anything starts. It
// does nothing in a dev build.
func refuseDevFeature(args []string, getenv func(string) string, stderr io.Writer) (code int, refused bool) {
	if !productionBuild {
		return 0, false
	}
	if len(args) == 0 || args[0] == "serve" {
		if v := strings.TrimSpace(getenv(envSandbox)); v != "" {
			fmt.Fprintf(stderr, "handler serve: %s=%s: %v\n", envSandbox, v, productionOnlyHint("make start (it stages a dev build), make stage-dev, or go run ./handlers local --sandbox "+v))
			return 2, true
		}
		return 0, false
	}
	for _, a := range args[1:] {
		if a == "--" {
			break
		}
		if name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); strings.HasPrefix(a, "-") && name == "sandbox" {
			cmd := args[0]
			if cmd == "policy" && !strings.HasPrefix(args[1], "-") {
				cmd += " " + args[1] // "policy explain"
			}
			fmt.Fprintf(stderr, "handler %s: %s: %v\n", cmd, a, productionOnly(strings.Join(args, " ")))
			return 2, true
		}
	}
	return 0, false
}
