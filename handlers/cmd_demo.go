//go:build !production

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/plautopilot/autopilot/internal/demo"
)

const demoUsage = `usage: handler demo [--scenario FILE] [--policy FILE] [--json] [--color auto|always|never]

Plays the private link guide's story on the embedded sandbox (no Azure
needed): an allowed endpoint request approved, an unknown one rejected, a
VNet peered with the hub linked, the production verification checks before
and after (DNS per VNet, GET /metadata), public access closed once private
access is verified and refused (403) after the delay, and the last private
path guard.
Defaults: testdata/scenarios/guide.yaml and examples/demo-policy.yaml of
this repository (found from the working directory).
Exit status: 0 when the story went as expected, 1 when it did not (the
transcript lists what differed), 2 on bad usage or inputs.

flags:
`

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	scenario := fs.String("scenario", "", "sandbox scenario `FILE` (default: "+demo.DefaultScenario+" of the repository)")
	policyFile := fs.String("policy", "", "policy `FILE` (default: "+demo.DefaultPolicy+" of the repository)")
	asJSON := fs.Bool("json", false, "print the result as JSON on stdout (the transcript goes to stderr)")
	color := fs.String("color", "auto", "colour the transcript: `auto` (only on a terminal, not with NO_COLOR), always, never")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), demoUsage)
		fs.PrintDefaults()
	}
	rest, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(rest) > 0 {
		fmt.Fprintf(stderr, "handler demo: unexpected argument %q\n", rest[0])
		return 2
	}
	transcript := stdout
	if *asJSON {
		transcript = stderr
	}
	var useColor bool
	switch *color {
	case "auto":
		_, noColor := os.LookupEnv("NO_COLOR")
		useColor = !noColor && isTerminal(transcript)
	case "always":
		useColor = true
	case "never":
	default:
		fmt.Fprintf(stderr, "handler demo: flag --color: %q is not auto, always or never\n", *color)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := demo.Run(ctx, demo.Options{Out: transcript, Color: useColor, Scenario: *scenario, Policy: *policyFile})
	if err != nil {
		fmt.Fprintf(stderr, "handler %v\n", err) // "handler demo: ..."
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			fmt.Fprintf(stderr, "handler demo: write result: %v\n", err)
			return 2
		}
	}
	if !res.OK {
		return 1
	}
	return 0
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
