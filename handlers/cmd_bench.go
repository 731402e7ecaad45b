//go:build !production

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/plautopilot/autopilot/internal/loadtest"
)

const benchUsage = `usage: handler bench [--workspaces N] [--spokes N] [--requests N] [--unknown N]
                    [--duplicates F] [--drops F] [--workers N] [--faults] [--no-coalesce]
                    [--seed N] [--json]

Generates a landing zone (by default 20 workspaces, 500 spokes peered to a
hub, 1,000 allowed and 100 unknown endpoint requests) and its event stream
(duplicates, reordering, lost events left to the sweep), runs it through
intake, the embedded queue, the reconcile workers and the production
adapters against the sandbox with ARM's token buckets on a simulated clock,
and prints the measurements (docs/scale.md explains them). At full size it
takes minutes of wall time on a small machine; it says on stderr that it is
still running. --json prints the report as JSON (the same fields as ever).
Exit status: 0 no invariant violated, 1 violations, 2 bad flags or a failed run.

flags:
`

// runBench generates a landing zone's worth of events, runs them through
// intake, queue, reconcile workers and the throttled sandbox on simulated
// time, and prints the measurements. Exit 1 when an invariant is violated,
// 2 on bad flags or a failed run.
func runBench(args []string, stdout, stderr io.Writer) int {
	full := loadtest.FullSpec()
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	workspaces := fs.Int("workspaces", full.Workspaces, "governed FHIR workspaces")
	spokes := fs.Int("spokes", full.Spokes, "spoke VNets peered to the hub (one subscription each)")
	requests := fs.Int("requests", full.Requests, "endpoint requests from allowed subscriptions (each approved)")
	unknown := fs.Int("unknown", full.UnknownRequests, "endpoint requests from unknown subscriptions (each rejected)")
	seed := fs.Uint64("seed", full.Seed, "random seed (events, latency, faults)")
	dup := fs.Float64("duplicates", full.DuplicateRate, "share of events delivered twice")
	drop := fs.Float64("drops", full.DropRate, "share of events lost (recovered by the sweep)")
	workers := fs.Int("workers", 0, "reconcile workers (0: sized from ARM's write rate and the latency)")
	faults := fs.Bool("faults", false, "fault run: --fault-rate of calls fail as ARM does (429 with Retry-After, 500/503, 409 busy, LROs failing after Accepted, calls past the client timeout), 2 workers killed mid-job, 10 duplicate deliveries")
	faultRate := fs.Float64("fault-rate", 0.10, "share of ARM calls that fail in a fault run (0.10: a bad day; 0.01: a normal day)")
	noCoalesce := fs.Bool("no-coalesce", false, "do not skip jobs covered by a later successful reconcile of the same subject")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "handler bench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	spec := loadtest.Spec{Workspaces: *workspaces, Spokes: *spokes, Requests: *requests, UnknownRequests: *unknown,
		DuplicateRate: *dup, DropRate: *drop, Reorder: true, Seed: *seed}
	ld, err := loadtest.Generate(spec)
	if err != nil {
		fmt.Fprintf(stderr, "handler bench: %v\n", err)
		return 2
	}
	o := loadtest.Options{Load: ld, Workers: *workers, NoCoalesce: *noCoalesce}
	if *faultRate <= 0 || *faultRate >= 1 {
		fmt.Fprintf(stderr, "handler bench: --fault-rate %g must be between 0 and 1 (a share of calls)\n", *faultRate)
		return 2
	}
	if *faults {
		o.FaultRate, o.KillWorkers, o.DuplicateDeliveries = *faultRate, 2, 10
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stopProgress := benchProgress(stderr, len(ld.Events), spec)
	rep, err := loadtest.Run(ctx, o)
	stopProgress()
	if err != nil {
		fmt.Fprintf(stderr, "handler bench: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintf(stderr, "handler bench: %v\n", err)
			return 2
		}
	} else {
		fmt.Fprint(stdout, loadtest.Table(rep))
		for i, v := range rep.Violations {
			if i == 50 {
				fmt.Fprintf(stdout, "... %d more\n", len(rep.Violations)-50)
				break
			}
			fmt.Fprintln(stdout, "VIOLATION", v.String())
		}
	}
	if len(rep.Violations) > 0 {
		fmt.Fprintf(stderr, "handler bench: %d invariant violations\n", len(rep.Violations))
		return 1
	}
	return 0
}

// benchProgress says on w what the bench is doing, then every 15 s that it
// is still running, until the returned func is called.
func benchProgress(w io.Writer, deliveries int, spec loadtest.Spec) (stop func()) {
	start := time.Now()
	fmt.Fprintf(w, "handler bench: %d event deliveries for %d workspaces, %d spokes, %d+%d endpoint requests; running the pipeline on the throttled sandbox (minutes at full size on a small machine)...\n",
		deliveries, spec.Workspaces, spec.Spokes, spec.Requests, spec.UnknownRequests)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(15 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(w, "handler bench: still running, %s wall time so far\n", time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		fmt.Fprintf(w, "handler bench: done in %s wall time\n", time.Since(start).Round(time.Second))
	}
}
