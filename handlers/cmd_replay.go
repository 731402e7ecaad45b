package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile/replay"
	"github.com/plautopilot/autopilot/pkg/sandbox"
	"github.com/rs/zerolog"
)

// runReplay runs event files through intake, an embedded queue on a
// simulated clock and the reconciler against a sandbox, and prints every
// action. Verification jobs are queued and counted, not run.
func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sbPath := fs.String("sandbox", "", "sandbox scenario file (required)")
	polPath := fs.String("policy", "", "policy file (required)")
	asJSON := fs.Bool("json", false, "print one JSON object per action and a JSON summary")
	sweep := fs.Bool("sweep", false, "run a sweep after the events")
	verbose := fs.Bool("v", false, "log to stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *sbPath == "" || *polPath == "" {
		fmt.Fprintln(stderr, "handler replay: --sandbox and --policy are required")
		fs.Usage()
		return 2
	}
	pol, err := policy.Load(*polPath)
	if err != nil {
		fmt.Fprintf(stderr, "handler replay: %v\n", err)
		return 2
	}
	sb, err := sandbox.Load(*sbPath)
	if err != nil {
		fmt.Fprintf(stderr, "handler replay: %v\n", err)
		return 2
	}
	var bodies [][]byte
	for _, name := range fs.Args() {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "handler replay: read events: %v\n", err)
			return 2
		}
		bodies = append(bodies, b)
	}
	log := zerolog.Nop()
	if *verbose {
		log = zerolog.New(stderr).With().Timestamp().Logger()
	}
	rep, err := replay.Run(context.Background(), replay.Options{Sandbox: sb, Policy: pol, Deliveries: bodies, Sweep: *sweep, Log: log})
	if err != nil {
		fmt.Fprintf(stderr, "handler replay: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	for _, l := range rep.Lines {
		if *asJSON {
			_ = enc.Encode(l)
			continue
		}
		line := fmt.Sprintf("%-15s %-60s %-10s", l.Action, l.Target, l.Result)
		if l.Rule != "" {
			line += " rule=" + l.Rule
		}
		if l.Reason != "" {
			line += " (" + l.Reason + ")"
		}
		if l.Error != "" {
			line += " error: " + l.Error
		}
		fmt.Fprintln(stdout, line)
	}
	for _, e := range rep.IntakeErrors {
		fmt.Fprintln(stderr, "intake:", e)
	}
	s := rep.Summary
	if *asJSON {
		_ = enc.Encode(map[string]any{"summary": s, "deadLetters": rep.DeadLetters})
	} else {
		fmt.Fprintf(stdout, "\nevents %d (enqueued %d, ignored %d, malformed %d); jobs run %d, completed %d, retried %d, dead-lettered %d; verify jobs queued %d (not run by replay)\n",
			s.Events, s.Enqueued, s.Ignored, s.Malformed, s.JobsRun, s.Completed, s.Retried, s.DeadLettered, s.VerifyQueued)
		fmt.Fprintf(stdout, "reconciler reads %d writes %d; sandbox ARM requests: reads %d, writes %d\n", s.Reads, s.Writes, s.ARMReads, s.ARMWrites)
		for _, d := range rep.DeadLetters {
			fmt.Fprintf(stdout, "dead-lettered %s %s: %s: %s\n", d.Job.Subject, d.Job.TargetID, d.Reason, d.Description)
		}
	}
	if !rep.OK() || len(rep.IntakeErrors) > 0 {
		return 1
	}
	return 0
}
