package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/rs/zerolog"
)

// Options configure a replay.
type Options struct {
	Sandbox *sandbox.Sandbox
	Policy  reconcile.Policy
	// Deliveries are Event Grid delivery bodies (an event or an array), in
	// order.
	Deliveries [][]byte
	// Sweep runs a sweep after the events (recovers what events missed).
	Sweep bool
	// Start is the simulated time the replay starts at.
	Start time.Time
	// Dir holds the embedded queue; a temporary folder when empty.
	Dir string
	Log zerolog.Logger
	// Sink receives outcome events besides the replay's own memory sink.
	Sink outcome.Sink
}

// Line is one action as the replay prints it.
type Line struct {
	Job    string `json:"job"`
	Action string `json:"action"`
	Target string `json:"target"`
	Zone   string `json:"zone,omitempty"`
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// Summary totals a replay.
type Summary struct {
	Events       int `json:"events"`
	Enqueued     int `json:"enqueued"`
	Ignored      int `json:"ignored"`
	Malformed    int `json:"malformed"`
	JobsRun      int `json:"jobsRun"`
	Completed    int `json:"completed"`
	Retried      int `json:"retried"`
	DeadLettered int `json:"deadLettered"`
	// VerifyQueued counts verification jobs left queued (not run here).
	VerifyQueued int `json:"verifyQueued"`
	// Reads and Writes are the reconciler's own ARM calls (as /api/status
	// counts armReads and armWrites). ARMReads and ARMWrites, despite their
	// names, are the sandbox's HTTP requests (LRO polls and retried calls
	// included; writes include deletes): SandboxRequests says the same
	// under a name that says so (docs/vocabulary.md).
	Reads           int              `json:"reads"`
	Writes          int              `json:"writes"`
	ARMReads        int              `json:"armReads"`
	ARMWrites       int              `json:"armWrites"`
	SandboxRequests sandbox.Requests `json:"sandboxRequests"`
	SweepJobs       int              `json:"sweepJobs,omitempty"`
}

// Report is what a replay did.
type Report struct {
	Lines        []Line              `json:"lines"`
	DeadLetters  []jobs.DeadLetter   `json:"deadLetters,omitempty"`
	Outcomes     []outcome.Event     `json:"-"`
	Summary      Summary             `json:"summary"`
	IntakeErrors []string            `json:"intakeErrors,omitempty"`
	Dispositions []reconcile.Verdict `json:"-"`
}

// OK reports whether every job finished (none dead-lettered).
func (r Report) OK() bool { return r.Summary.DeadLettered == 0 }

// router sends verification jobs to their own queue.
type router struct{ reconcile, verify jobs.Sender }

func (r router) Send(ctx context.Context, j jobs.Job) error {
	if j.Kind == jobs.KindVerify {
		return r.verify.Send(ctx, j)
	}
	return r.reconcile.Send(ctx, j)
}

// Run replays the deliveries and drains the reconcile queue.
func Run(ctx context.Context, o Options) (Report, error) {
	var rep Report
	if o.Sandbox == nil || o.Policy == nil {
		return rep, errors.New("replay: a sandbox and a policy are required")
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "plautopilot-replay-")
		if err != nil {
			return rep, fmt.Errorf("replay: temp folder: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	clock := jobs.NewFakeClock(o.Start)
	store, err := embedded.Open(filepath.Join(dir, "queue.db"), embedded.Options{Clock: clock, NoSync: true, MaxDeliveries: 50})
	if err != nil {
		return rep, fmt.Errorf("replay: open queue: %w", err)
	}
	defer store.Close()
	rq, vq := store.Queue("reconcile"), store.Queue("verify")
	send := router{reconcile: rq, verify: vq}

	client, err := azure.New(o.Sandbox.Credential(), o.Sandbox.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		return rep, fmt.Errorf("replay: azure client: %w", err)
	}
	mem := outcome.NewMemorySink(100000)
	var sink outcome.Sink = mem
	if o.Sink != nil {
		sink = outcome.Multi{mem, o.Sink}
	}
	r, err := reconcile.New(reconcile.Config{Reader: client, Writer: client, Policy: o.Policy, Jobs: send, Sink: sink,
		Now: clock.Now, Log: o.Log, Backoff: reconcile.Backoff{Rand: func() float64 { return 0.5 }}})
	if err != nil {
		return rep, err
	}
	statsBefore := o.Sandbox.Stats()

	in := &events.Intake{Queue: send, Log: o.Log, Now: clock.Now}
	for i, body := range o.Deliveries {
		res, err := in.Handle(ctx, body)
		rep.Summary.Events += res.Received
		rep.Summary.Enqueued += res.Enqueued
		rep.Summary.Ignored += res.Ignored
		rep.Summary.Malformed += res.Malformed
		if err != nil {
			rep.IntakeErrors = append(rep.IntakeErrors, fmt.Sprintf("delivery %d: %v", i+1, err))
		}
	}
	handler := func(ctx context.Context, d jobs.Delivery) jobs.Settlement {
		disp := r.ProcessDelivery(ctx, d)
		rep.Summary.Reads += disp.Result.Reads
		rep.Summary.Writes += disp.Result.Writes
		rep.Dispositions = append(rep.Dispositions, disp.Verdict)
		for _, ar := range disp.Result.Applied {
			a := ar.Action
			rep.Lines = append(rep.Lines, Line{Job: string(d.Job.Subject) + " " + core.NameOf(d.Job.TargetID), Action: string(a.Kind),
				Target: a.Resource, Zone: a.Zone, Rule: a.Rule, Reason: a.Reason, Result: ar.Result, Error: ar.Error})
		}
		switch disp.Verdict {
		case reconcile.Retry:
			rep.Lines = append(rep.Lines, Line{Job: string(d.Job.Subject) + " " + core.NameOf(d.Job.TargetID), Action: "retry",
				Target: d.Job.TargetID, Reason: fmt.Sprintf("attempt %d failed, next in %s", max(d.Job.Attempt, 1), disp.Delay), Result: "rescheduled", Error: disp.Description})
		case reconcile.DeadLetter:
			rep.Lines = append(rep.Lines, Line{Job: string(d.Job.Subject) + " " + core.NameOf(d.Job.TargetID), Action: "dead-letter",
				Target: d.Job.TargetID, Reason: disp.Reason, Result: "dead-lettered", Error: disp.Description})
		}
		return disp.Outcome()
	}
	dopts := jobs.DrainOptions{Clock: clock, Log: o.Log, MaxDeliveries: 10000}
	dr, err := jobs.Drain(ctx, handler, dopts, rq)
	if err != nil {
		return rep, fmt.Errorf("replay: drain: %w", err)
	}
	add := func(dr jobs.DrainResult) {
		rep.Summary.JobsRun += dr.Deliveries
		rep.Summary.Completed += dr.Completed
		rep.Summary.Retried += dr.Retried
		rep.Summary.DeadLettered += dr.DeadLettered
	}
	add(dr)
	if o.Sweep {
		sw := &reconcile.Sweeper{Reader: client, Policy: o.Policy, Jobs: send, Log: o.Log}
		sres, err := sw.Sweep(ctx, clock.Now())
		if err != nil {
			rep.IntakeErrors = append(rep.IntakeErrors, "sweep: "+err.Error())
		}
		rep.Summary.SweepJobs = len(sres.Enqueued)
		dr, err := jobs.Drain(ctx, handler, dopts, rq)
		if err != nil {
			return rep, fmt.Errorf("replay: drain after sweep: %w", err)
		}
		add(dr)
	}
	if st, err := vq.Stats(ctx); err == nil {
		rep.Summary.VerifyQueued = st.Pending()
	}
	if dls, err := rq.DeadLetters(ctx); err == nil {
		rep.DeadLetters = dls
	}
	after := o.Sandbox.Stats()
	rep.Summary.ARMReads = after.Reads - statsBefore.Reads
	rep.Summary.ARMWrites = after.Writes + after.Deletes - statsBefore.Writes - statsBefore.Deletes
	rep.Summary.SandboxRequests = after.Requests().Since(statsBefore.Requests())
	rep.Outcomes = mem.Events()
	return rep, nil
}
