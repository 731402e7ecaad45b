package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/plautopilot/autopilot/pkg/loadtest"
)

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
	if err := fs.Parse(args); err != nil {
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
	rep, err := loadtest.Run(ctx, o)
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
