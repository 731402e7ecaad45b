package loadtest

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Table renders a report as the table `handler bench` prints. Each figure
// names its clock: wall (this machine) or sim (simulated ARM time).
func Table(r *Report) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	row := func(k, clock, format string, a ...any) {
		fmt.Fprintf(w, "%s\t%s\t%s\n", k, clock, fmt.Sprintf(format, a...))
	}
	s := r.Spec
	row("load", "", "%d workspaces, %d spokes, %d allowed + %d unknown requests, dup %.0f%%, drop %.0f%%, reorder %v, seed %d",
		s.Workspaces, s.Spokes, s.Requests, s.UnknownRequests, 100*s.DuplicateRate, 100*s.DropRate, s.Reorder, s.Seed)
	row("workers", "", "%d (faults: %v)", r.Workers, r.Faults)
	row("events through intake", "wall", "%d in %s = %.0f events/s (%d generated, %d duplicated, %d dropped)",
		r.Events, r.IntakeWall.Round(time.Millisecond), r.EventsPerSecWall, r.GeneratedEvents, r.DuplicatedEvents, r.DroppedEvents)
	row("jobs", "", "%d deliveries: %d completed, %d coalesced, %d deferred, %d retried, %d dead-lettered, %d killed, %d duplicate, %d lock lost",
		r.Deliveries, r.Completed, r.Coalesced, r.Deferred, r.Retried, r.DeadLettered, r.Killed, r.DuplicateHandled, r.LockLost)
	for _, d := range r.DeadLetters {
		row("  dead letter", "", "%s", d)
	}
	row("decisions", "sim", "%d = %.1f decisions/s", r.Decisions, r.DecisionsPerSecSim)
	row("decisions", "wall", "%.1f decisions/s", r.DecisionsPerSecWal)
	row("changes needed", "", "%d (approvals, rejections, links, zone groups)", r.Changes)
	row("sandbox HTTP requests", "", "%d reads, %d writes, %d deletes; %d server 429s, %d injected faults",
		r.ARMReads, r.ARMWrites, r.ARMDeletes, r.ServerThrottled, r.InjectedFaults)
	if r.FaultRate > 0 {
		row("fault profile", "", "%.0f%% of calls: %s; %d slow calls past the client timeout", 100*r.FaultRate, faultsLine(r.FaultsByStatus), r.SlowCalls)
	}
	row("ARM per change", "", "%.2f reads, %.3f writes", r.ReadsPerChange, r.WritesPerChange)
	for _, l := range bySubscription(r) {
		row("  reads per write", "", "%s", l)
	}
	row("client limiter", "sim", "%d waits (%s), %d retries (%s back-off), %d 429s seen",
		r.Limiter.Waits, r.Limiter.WaitTime.Round(time.Second), r.Limiter.Retries, r.Limiter.RetryAfter.Round(time.Second), r.Limiter.Throttled)
	row("sweep", "", "%d jobs, %d reads, %d failed sweeps repeated", r.SweepJobs, r.SweepReads, r.SweepFailures)
	row("events drained", "sim", "%s", r.EventsDrainedSim.Round(time.Millisecond))
	row("completion (after sweep)", "sim", "%s", r.CompletionSim.Round(time.Millisecond))
	row("physical minimum (writes)", "sim", "%s (subscription %s: writes-200)/10 per s", r.PhysicalMinSim.Round(time.Millisecond), r.PhysicalMinSub)
	row("read floor of this run", "sim", "%s (subscription %s: reads-250)/25 per s", r.ReadBoundSim.Round(time.Millisecond), r.ReadBoundSub)
	row("completion / physical minimum", "sim", "%.2fx", r.RatioToMinimum)
	row("last write (all changes made)", "sim", "%s = %.2fx the physical minimum", r.LastWriteSim.Round(time.Millisecond), r.RatioLastWrite)
	row("queue depth", "sim", "max %d; %s", r.MaxQueueDepth, depthSeries(r.Samples, 8))
	row("peak memory", "wall", "HeapInuse %.1f MiB, Sys %.1f MiB", float64(r.PeakHeapInuse)/(1<<20), float64(r.PeakSys)/(1<<20))
	row("run time", "wall", "%s", r.RunWall.Round(time.Millisecond))
	row("plans rerun empty", "", "%v", r.PlanRerunEmpty)
	row("invariant violations", "", "%d", len(r.Violations))
	w.Flush()
	return b.String()
}

// depthSeries shows about n evenly spaced samples as "t=depth".
func depthSeries(ss []Sample, n int) string {
	if len(ss) == 0 {
		return "no samples"
	}
	step := max(1, len(ss)/n)
	var parts []string
	for i := 0; i < len(ss); i += step {
		s := ss[i]
		parts = append(parts, fmt.Sprintf("%s=%d", s.At.Round(time.Second), s.Active+s.Scheduled+s.Locked))
	}
	last := ss[len(ss)-1]
	parts = append(parts, fmt.Sprintf("%s=%d", last.At.Round(time.Second), last.Active+last.Scheduled+last.Locked))
	return strings.Join(parts, " ")
}

// bySubscription renders reads and writes per subscription: the platform
// (targets) and connectivity (hub, zone) subscriptions by name, the others
// (one per spoke or unknown requester) summed, with their worst ratio.
func bySubscription(r *Report) []string {
	named := []struct{ name, sub string }{{"platform", PlatformSubscription}, {"connectivity", ConnectivitySubscription}}
	var out []string
	ratio := func(reads, writes int) string {
		if writes == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(reads)/float64(writes))
	}
	known := map[string]bool{}
	for _, n := range named {
		k := strings.ToLower(n.sub)
		known[k] = true
		rd, wr := r.ReadsBySub[k], r.WritesBySub[k]
		out = append(out, fmt.Sprintf("%s: %d reads / %d writes = %s (ARM allows 2.5 at full write rate)", n.name, rd, wr, ratio(rd, wr)))
	}
	subs, rd, wr, worst := 0, 0, 0, 0.0
	seen := map[string]bool{}
	for k := range r.ReadsBySub {
		seen[k] = true
	}
	for k := range r.WritesBySub {
		seen[k] = true
	}
	for k := range seen {
		if known[k] {
			continue
		}
		subs++
		rd += r.ReadsBySub[k]
		wr += r.WritesBySub[k]
		if w := r.WritesBySub[k]; w > 0 {
			worst = max(worst, float64(r.ReadsBySub[k])/float64(w))
		}
	}
	out = append(out, fmt.Sprintf("%d other subscriptions: %d reads / %d writes = %s (worst %.2f)", subs, rd, wr, ratio(rd, wr), worst))
	return out
}

// faultsLine renders injected faults by status ("200" are long-running
// operations that failed after ARM accepted them).
func faultsLine(by map[int]int) string {
	keys := make([]int, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k < 300 {
			name = "failed LRO"
		}
		parts = append(parts, fmt.Sprintf("%d %s", by[k], name))
	}
	if len(parts) == 0 {
		return "none injected"
	}
	return strings.Join(parts, ", ")
}
