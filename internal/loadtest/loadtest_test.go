package loadtest

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
)

var fullLoad = flag.Bool("loadtest.full", false, "run the full-size load (1,000 approvals + 500 links); also AUTOPILOT_FULL_LOAD=1")

func small() Spec {
	return Spec{Workspaces: 4, Spokes: 20, Requests: 40, UnknownRequests: 6, DuplicateRate: 0.10, Reorder: true, DropRate: 0.05, Seed: 3}
}

func TestGenerate_scenarioEventsAndPolicyAgree(t *testing.T) {
	s := small()
	ld, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(ld.Scenario)
	if err != nil {
		t.Fatalf("generated scenario does not load: %v", err)
	}
	if w := sb.Warnings(); len(w) > 0 {
		t.Errorf("sandbox warnings on the generated scenario: %v", w)
	}
	if _, err := policy.Parse("generated.yaml", []byte(ld.Policy)); err != nil {
		t.Fatalf("generated policy does not load: %v", err)
	}
	approve, reject := 0, 0
	for _, c := range ld.Expected.Connections {
		if _, ok := sb.Get(c.ID); !ok {
			t.Errorf("expected connection %s is not in the scenario", c.ID)
		}
		switch c.Status {
		case core.StatusApproved:
			approve++
		case core.StatusRejected:
			reject++
		}
	}
	got := map[string]int{"approve": approve, "reject": reject, "linked": len(ld.Expected.LinkedVNets),
		"zoneGroups": len(ld.Expected.ZoneGroupEndpoints), "events": ld.Generated}
	want := map[string]int{"approve": s.Requests, "reject": s.UnknownRequests, "linked": s.Spokes + 1,
		"zoneGroups": s.Requests, "events": 3*s.Spokes + 2*(s.Requests+s.UnknownRequests)}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("expected end state (-got +want):\n%s", d)
	}
	if got, want := len(ld.Events), ld.Generated+ld.Duplicated-ld.Dropped; got != want {
		t.Errorf("%d deliveries, want generated %d + duplicated %d - dropped %d", got, ld.Generated, ld.Duplicated, ld.Dropped)
	}
	if ld.Duplicated == 0 || ld.Dropped == 0 {
		t.Errorf("duplicated %d, dropped %d: the stream should have both at 10%% and 5%%", ld.Duplicated, ld.Dropped)
	}
	for i, body := range ld.Events {
		evs, bad := events.ParseBatch(body)
		if len(bad) > 0 || len(evs) != 1 {
			t.Fatalf("delivery %d: %d events, malformed %v", i, len(evs), bad)
		}
		if c := events.Classify(evs[0]); c.Ignored {
			t.Errorf("delivery %d (%s) ignored: %s", i, evs[0].OperationName, c.Reason)
		}
	}
	// same seed, same load
	again, _ := Generate(s)
	if d := cmp.Diff(ld.Events, again.Events); d != "" {
		t.Errorf("generation is not deterministic for one seed")
	}
}

func TestGenerate_badSpecNamesField(t *testing.T) {
	for name, s := range map[string]Spec{
		"no workspaces":            {Spokes: 1, Requests: 1},
		"no spokes":                {Workspaces: 1, Requests: 1},
		"over 100 per workspace":   {Workspaces: 1, Spokes: 1, Requests: 101},
		"drop everything":          {Workspaces: 1, Spokes: 1, Requests: 1, DropRate: 1},
		"negative unknown request": {Workspaces: 1, Spokes: 1, UnknownRequests: -1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Generate(s); err == nil || !strings.HasPrefix(err.Error(), "spec: ") {
				t.Errorf("Generate(%+v) error = %v, want a spec error", s, err)
			}
		})
	}
}

// One worker, no faults: every change costs exactly one ARM write and the
// duplicates none; the converged state plans nothing.
func TestPipeline_writesAtTheReconcilersMinimum(t *testing.T) {
	ld, err := Generate(small())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Load: ld, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) > 0 {
		t.Errorf("invariants violated:\n%s", violations(rep.Violations))
	}
	if rep.ARMWrites+rep.ARMDeletes != rep.Changes {
		t.Errorf("ARM writes %d + deletes %d for %d changes (approvals, rejections, links, zone groups): want exactly one per change",
			rep.ARMWrites, rep.ARMDeletes, rep.Changes)
	}
	if !rep.PlanRerunEmpty {
		t.Errorf("plans on the converged state are not empty: %v", rep.RerunPlanErrors)
	}
	if rep.Decisions != len(ld.Expected.Connections) {
		t.Errorf("%d decisions applied, want %d", rep.Decisions, len(ld.Expected.Connections))
	}
	if rep.DuplicatedEvents == 0 {
		t.Errorf("the load had no duplicate events: the test proves nothing about them")
	}
}

// Concurrent workers under ARM's buckets: converge with nothing violated.
func TestPipeline_concurrentWorkersConverge(t *testing.T) {
	ld, err := Generate(small())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Load: ld})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) > 0 {
		t.Errorf("invariants violated:\n%s", violations(rep.Violations))
	}
	if rep.Workers < 2 {
		t.Errorf("ran with %d workers, want a concurrent pool", rep.Workers)
	}
	if rep.CompletionSim <= 0 || len(rep.Samples) == 0 {
		t.Errorf("completion %s with %d samples: the run did not measure", rep.CompletionSim, len(rep.Samples))
	}
}

// The fault runs: on a bad day (10% of calls fail the way ARM fails) and a
// normal one (1%), with a worker killed mid-job after its first write and
// deliveries repeated. Nothing may be lost or wrong, nothing dead-lettered
// (every job can succeed), and the run must finish within 3x the fault-free
// run, plus the message lock the killed worker's job waits out and what
// follows it. (Before per-call retries, capped back-off and woken
// deferrals the 10% run took about 35 simulated minutes here.)
func TestFaultRun_small(t *testing.T) {
	ld, err := Generate(small())
	if err != nil {
		t.Fatal(err)
	}
	clean, err := Run(context.Background(), Options{Load: ld})
	if err != nil {
		t.Fatal(err)
	}
	for _, rate := range []float64{0.10, 0.01} {
		t.Run(fmt.Sprintf("%.0f%%", 100*rate), func(t *testing.T) {
			rep, err := Run(context.Background(), Options{Load: ld, FaultRate: rate, KillWorkers: 1, DuplicateDeliveries: 3})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Violations) > 0 {
				t.Errorf("invariants violated:\n%s", violations(rep.Violations))
			}
			if rep.DeadLettered != 0 || len(rep.DeadLetters) != 0 {
				t.Errorf("%d jobs dead-lettered, want none: %v", rep.DeadLettered, rep.DeadLetters)
			}
			if rep.Killed != 1 || rep.DuplicateHandled != 3 {
				t.Errorf("killed %d, duplicate deliveries %d: want 1 killed, 3 duplicates", rep.Killed, rep.DuplicateHandled)
			}
			if rate >= 0.10 && (rep.FaultsByStatus[429] == 0 || rep.FaultsByStatus[500]+rep.FaultsByStatus[503] == 0 || rep.SlowCalls == 0) {
				t.Errorf("faults %v, %d slow calls: the profile's 429s, 5xx and slow calls were not all exercised", rep.FaultsByStatus, rep.SlowCalls)
			}
			if !rep.PlanRerunEmpty {
				t.Errorf("plans on the converged state are not empty after the fault run: %v", rep.RerunPlanErrors)
			}
			// the killed worker's job comes back when its lock expires and
			// is then followed by the sweep: at most one more fault-free run
			if limit := 3*clean.CompletionSim + DefaultLockDuration + clean.CompletionSim; rep.CompletionSim > limit {
				t.Errorf("completion %s under %.0f%% faults, fault-free %s: want at most 3x, plus the %s lock and a fault-free run after it (%s)",
					rep.CompletionSim, 100*rate, clean.CompletionSim, DefaultLockDuration, limit)
			}
			t.Logf("%.0f%% faults: completion %s (fault-free %s), last write %s, %d retried, faults %v, %d slow",
				100*rate, rep.CompletionSim, clean.CompletionSim, rep.LastWriteSim, rep.Retried, rep.FaultsByStatus, rep.SlowCalls)
		})
	}
}

func TestFullLoad(t *testing.T) {
	if !*fullLoad && os.Getenv("AUTOPILOT_FULL_LOAD") != "1" {
		t.Skip("full size behind -loadtest.full or AUTOPILOT_FULL_LOAD=1")
	}
	for _, faults := range []bool{false, true} {
		ld, err := Generate(FullSpec())
		if err != nil {
			t.Fatal(err)
		}
		o := Options{Load: ld}
		if faults {
			o.FaultRate, o.KillWorkers, o.DuplicateDeliveries = 0.10, 2, 10
		}
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("faults=%v\n%s", faults, Table(rep))
		if len(rep.Violations) > 0 {
			t.Errorf("faults=%v: invariants violated:\n%s", faults, violations(rep.Violations))
		}
	}
}

// The checker must see each kind of breakage.
func TestCheckInvariants_reportsEachBreakage(t *testing.T) {
	ld, err := Generate(Spec{Workspaces: 1, Spokes: 2, Requests: 2, UnknownRequests: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(ld.Scenario)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]json.RawMessage{}
	for id := range ld.Expected.UnmanagedLinks {
		before[id], _ = sb.Get(id)
	}
	var unknown ExpectedConnection
	for _, c := range ld.Expected.Connections {
		if c.Status == core.StatusRejected {
			unknown = c
		}
	}
	// an approval of the unknown subscription's connection, by hand
	final := sb.Snapshot()
	for i, raw := range final {
		if strings.Contains(string(raw), `"id":"`+unknown.ID+`"`) {
			final[i] = json.RawMessage(strings.Replace(string(raw), `"status":"Pending"`, `"status":"Approved"`, 1))
		}
	}
	after := map[string]json.RawMessage{}
	for id, b := range before {
		after[id] = json.RawMessage(strings.Replace(string(b), `"registrationEnabled":false`, `"registrationEnabled":true`, 1))
	}
	ev := Evidence{Final: final, UnmanagedBefore: before, UnmanagedAfter: after,
		DeadLetters: []jobs.DeadLetter{{Job: jobs.Job{ID: "j-dead"}}},
		Sent:        map[string]bool{"j-lost": true, "j-ok": true}, Delivered: map[string]bool{"j-ok": true}, Pending: 2}
	got := map[string]int{}
	for _, v := range CheckInvariants(ev, ld.Expected) {
		got[v.Invariant]++
	}
	want := map[string]int{
		InvDecided:      3, // nothing decided (the unknown one approved instead of rejected)
		InvApprovedRule: 1,
		InvLinkedOnce:   2, // the spokes are not linked (the hub's own link counts)
		InvUnmanaged:    1,
		InvZoneGroup:    2,
		InvJobLost:      3, // jobs left queued, one sent and never delivered, one dead letter without reason
	}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("violations by invariant (-got +want):\n%s", d)
	}
}

func violations(vs []Violation) string {
	var b strings.Builder
	for i, v := range vs {
		if i == 20 {
			b.WriteString("...\n")
			break
		}
		b.WriteString(v.String() + "\n")
	}
	return b.String()
}

func BenchmarkPipeline(b *testing.B) {
	s := Spec{Workspaces: 10, Spokes: 100, Requests: 200, UnknownRequests: 20, DuplicateRate: 0.10, Reorder: true, DropRate: 0.05, Seed: 1}
	if *fullLoad || os.Getenv("AUTOPILOT_FULL_LOAD") == "1" {
		s = FullSpec()
	}
	ld, err := Generate(s)
	if err != nil {
		b.Fatal(err)
	}
	var rep *Report
	for b.Loop() {
		rep, err = Run(context.Background(), Options{Load: ld})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(rep.EventsPerSecWall, "events/s-intake-wall")
	b.ReportMetric(rep.DecisionsPerSecSim, "decisions/s-sim")
	b.ReportMetric(rep.DecisionsPerSecWal, "decisions/s-wall")
	b.ReportMetric(rep.ReadsPerChange, "reads/change")
	b.ReportMetric(rep.WritesPerChange, "writes/change")
	b.ReportMetric(rep.CompletionSim.Seconds(), "completion-s-sim")
	b.ReportMetric(rep.PhysicalMinSim.Seconds(), "physical-min-s-sim")
	b.ReportMetric(rep.RatioToMinimum, "x-physical-min")
	b.ReportMetric(float64(rep.MaxQueueDepth), "max-queue-depth")
	b.ReportMetric(float64(rep.PeakHeapInuse)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(len(rep.Violations)), "violations")
}

// The full-size landing zone's policy (1,000 app subscriptions listed in its
// conditions) must load within the policy's bounds: `handler bench` at full
// size runs it, and only the small size runs in CI.
func TestFullSpecPolicyLoads(t *testing.T) {
	ld, err := Generate(FullSpec())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policy.Parse("loadtest-policy.yaml", []byte(ld.Policy)); err != nil {
		t.Fatalf("the full-size load test's policy (%d bytes) does not load: %v", len(ld.Policy), err)
	}
}
