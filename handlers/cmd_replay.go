//go:build !production

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile/replay"
	"github.com/rs/zerolog"
)

const replayUsage = `usage: handler replay --sandbox SCENARIO --policy FILE [--json] [--sweep] [-v] EVENTS...
       handler replay --live --policy FILE [--json] [--sweep] [-v] [EVENTS...]

Runs event files (one event or an array, Event Grid schema or CloudEvents)
through the pipeline as production assembles it (intake, router, coalescing
reconciler, verification runner) on an embedded queue and a simulated clock
against a sandbox scenario, and prints every action. The verification jobs
the plans schedule run too, through the sandbox's DNS and FHIR listeners:
each run is a "verify" line (passed, failed, rescheduled) and what it sends
(a reconcile that may disable public access) follows. Events that cannot be
parsed are listed with the file, their position and what is wrong.

With --live the events (and with --sweep, a sweep of the policy's
subscriptions) are planned against the real subscription instead, read
through DefaultAzureCredential (az login) or the managed identity of
AZURE_CLIENT_ID: reads only, nothing is written and no job is sent; every
action is printed as "planned". Use it before switching a policy from audit
to enforce, or to see what the autopilot would do about a stuck connection.

Exit status: 0 when every event was handled, 1 when an event was malformed
or a job was dead-lettered (--live: could not be planned), 2 on bad usage or
inputs.

flags:
`

// runReplay runs event files through the pipeline on an embedded queue and
// a simulated clock against a sandbox, verification jobs included, and
// prints every action and verification.
func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	sbPath := fs.String("sandbox", "", "sandbox scenario file (required)")
	polPath := fs.String("policy", "", "policy file (required)")
	asJSON := fs.Bool("json", false, "print one JSON object per action and a JSON summary")
	sweep := fs.Bool("sweep", false, "run a sweep after the events")
	verbose := fs.Bool("v", false, "log to stderr")
	live := fs.Bool("live", false, "plan against the real subscription (reads only, writes nothing) instead of a sandbox")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), replayUsage)
		fs.PrintDefaults()
	}
	files, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if *live && *sbPath != "" {
		fmt.Fprintln(stderr, "handler replay: --live and --sandbox exclude each other: plan against the real subscription or a scenario")
		fmt.Fprintln(stderr, "run 'handler replay --help' for usage")
		return 2
	}
	if (*sbPath == "" && !*live) || *polPath == "" {
		fmt.Fprintln(stderr, "handler replay: --policy and one of --sandbox SCENARIO or --live are required")
		fmt.Fprintln(stderr, "run 'handler replay --help' for usage")
		return 2
	}
	if len(files) == 0 && !*sweep {
		fmt.Fprintln(stderr, "handler replay: no event files given (e.g. testdata/events/endpoint-write.eventgrid.json), and no --sweep")
		fmt.Fprintln(stderr, "run 'handler replay --help' for usage")
		return 2
	}
	pol, err := policy.Load(*polPath)
	if err != nil {
		fmt.Fprintf(stderr, "handler replay: %v\n", err)
		return 2
	}
	var bodies [][]byte
	var malformed []malformedEvent
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			fmt.Fprintf(stderr, "handler replay: read events: %v\n", err)
			return 2
		}
		bodies = append(bodies, b)
		// The intake keeps malformed events and counts them; parse here
		// too so that the report can say which file and event and why.
		_, bad := events.ParseBatch(b)
		for _, m := range bad {
			malformed = append(malformed, malformedEvent{File: name, Index: m.Index, Reason: m.Reason})
		}
	}
	log := zerolog.Nop()
	if *verbose {
		log = zerolog.New(stderr).With().Timestamp().Logger()
	}
	var rep replay.Report
	if *live {
		r, err := liveReader()
		if err != nil {
			fmt.Fprintf(stderr, "handler replay: %v\n", err)
			return 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		rep, err = livePlan(ctx, r, pol, bodies, *sweep, log)
		if err != nil {
			fmt.Fprintf(stderr, "handler replay --live: %v\n", err)
			return 1
		}
	} else {
		// on simulated time, which replay moves: a change of public
		// network access reaches the sandbox's public listener after its
		// propagation delay, as on Azure
		sb, err := sandbox.Load(*sbPath, sandbox.WithClock(clock.NewFake(time.Time{})))
		if err != nil {
			fmt.Fprintf(stderr, "handler replay: %v\n", err)
			return 2
		}
		if rep, err = replay.Run(context.Background(), replay.Options{Sandbox: sb, Policy: pol, Deliveries: bodies, Sweep: *sweep, Log: log}); err != nil {
			fmt.Fprintf(stderr, "handler replay: %v\n", err)
			return 1
		}
	}
	enc := json.NewEncoder(stdout)
	for _, l := range rep.Lines {
		if *asJSON {
			_ = enc.Encode(l)
			continue
		}
		line := fmt.Sprintf("%-15s %-60s %-10s", l.Action, l.Target, l.Result)
		if l.Zone != "" {
			line += " zone=" + core.ZoneNameOfID(l.Zone)
		}
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
	for _, m := range malformed {
		fmt.Fprintf(stderr, "handler replay: %s: event %d is malformed, not replayed: %s\n", m.File, m.Index, m.Reason)
	}
	s := rep.Summary
	if *asJSON {
		dls := rep.DeadLetters
		if dls == nil {
			dls = []jobs.DeadLetter{}
		}
		if malformed == nil {
			malformed = []malformedEvent{}
		}
		_ = enc.Encode(map[string]any{"summary": s, "deadLetters": dls, "malformed": malformed})
	} else {
		fmt.Fprintf(stdout, "\nevents %d (enqueued %d, ignored %d, malformed %d); jobs run %d, completed %d, retried %d, dead-lettered %d; verifications run %d (passed %d), verify jobs queued %d\n",
			s.Events, s.Enqueued, s.Ignored, s.Malformed, s.JobsRun, s.Completed, s.Retried, s.DeadLettered, s.Verifications, s.VerifyPassed, s.VerifyQueued)
		if *live {
			fmt.Fprintf(stdout, "ARM reads %d, writes 0 (live dry run: nothing written, no job sent)\n", s.Reads)
		} else {
			// The vocabulary of docs/vocabulary.md: ARM reads/writes are the
			// reconciler's calls (as /api/status counts them); the sandbox
			// also counts HTTP requests (LRO polls and retries included).
			fmt.Fprintf(stdout, "ARM reads %d, writes %d; sandbox HTTP requests: %d reads, %d writes\n", s.Reads, s.Writes, s.ARMReads, s.ARMWrites)
		}
		for _, d := range rep.DeadLetters {
			fmt.Fprintf(stdout, "dead-lettered %s %s: %s: %s\n", d.Job.Subject, d.Job.TargetID, d.Reason, d.Description)
		}
	}
	if !rep.OK() || len(rep.IntakeErrors) > 0 || s.Malformed > 0 || len(malformed) > 0 {
		return 1
	}
	return 0
}

// malformedEvent is an event of a replayed file that could not be parsed:
// Index is its position in the file's array (0 for a single event).
type malformedEvent struct {
	File   string `json:"file"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}
