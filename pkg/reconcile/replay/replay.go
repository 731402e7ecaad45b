package replay

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// Options configure a replay.
type Options struct {
	Sandbox *sandbox.Sandbox
	Policy  *policy.Policy
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
	Events int `json:"events"`
	// Enqueued to DeadLettered count events and reconcile jobs;
	// verification runs are counted apart (Verifications).
	Enqueued     int `json:"enqueued"`
	Ignored      int `json:"ignored"`
	Malformed    int `json:"malformed"`
	JobsRun      int `json:"jobsRun"`
	Completed    int `json:"completed"`
	Retried      int `json:"retried"`
	DeadLettered int `json:"deadLettered"`
	// VerifyQueued counts verification jobs left queued (none once both
	// queues are drained); Verifications counts verification runs, and
	// VerifyPassed those that passed.
	VerifyQueued  int `json:"verifyQueued"`
	Verifications int `json:"verifications"`
	VerifyPassed  int `json:"verifyPassed"`
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
	// VerifySandboxRequests are the sandbox requests of the verification
	// runs (their ARM checks), not counted in the figures above.
	VerifySandboxRequests sandbox.Requests `json:"verifySandboxRequests"`
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

// OK reports whether every job finished (none dead-lettered, reconcile or
// verification).
func (r Report) OK() bool { return r.Summary.DeadLettered == 0 && len(r.DeadLetters) == 0 }

// Run replays the deliveries through the pipeline as production assembles
// it (pipeline.New: the same router, coalescer and verification runner) on
// an embedded queue and a simulated clock, and drains both queues: the
// reconcile jobs, the verification jobs they schedule (run through the
// sandbox network, as the demo does) and the follow-ups those send.
func Run(ctx context.Context, o Options) (Report, error) {
	if o.Sandbox == nil || o.Policy == nil {
		return Report{}, errors.New("replay: a sandbox and a policy are required")
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	}
	r, err := newRun(o)
	if err != nil {
		return Report{}, err
	}
	defer r.close()
	r.deliver(ctx)
	if err := r.drain(ctx); err != nil {
		return r.rep, fmt.Errorf("replay: drain: %w", err)
	}
	if o.Sweep {
		r.sweep(ctx)
		if err := r.drain(ctx); err != nil {
			return r.rep, fmt.Errorf("replay: drain after sweep: %w", err)
		}
	}
	r.finish(ctx)
	return r.rep, nil
}

// replayRun is one replay: the pipeline on the sandbox and what it reports.
type replayRun struct {
	o           Options
	clock       *clock.Fake
	store       *embedded.Store
	rq, vq      *embedded.Queue
	net         *sandboxnet.Network
	p           *pipeline.Pipeline
	mem         *outcome.MemorySink
	verifyEv    map[string]outcome.Event // the last verification outcome event of each job
	statsBefore sandbox.Stats
	// verifyRequests are the sandbox requests of verification runs, kept
	// out of the summary's ARM figures (they are the reconciler's).
	verifyRequests sandbox.Requests
	rep            Report
	closers        []func()
}

func newRun(o Options) (_ *replayRun, err error) {
	r := &replayRun{o: o, clock: clock.NewFake(o.Start), mem: outcome.NewMemorySink(100000), verifyEv: map[string]outcome.Event{}}
	if c, ok := o.Sandbox.Clock().(*clock.Fake); ok {
		// one simulated time for the queue, the verifications and the
		// sandbox (the propagation delay of publicNetworkAccess passes
		// with it)
		c.Set(o.Start)
		r.clock = c
	}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "plautopilot-replay-")
		if err != nil {
			return nil, fmt.Errorf("replay: temp folder: %w", err)
		}
		r.closers = append(r.closers, func() { os.RemoveAll(d) })
		dir = d
	}
	if r.store, err = embedded.Open(filepath.Join(dir, "queue.db"), embedded.Options{Clock: r.clock, NoSync: true, MaxDeliveries: 50}); err != nil {
		return nil, fmt.Errorf("replay: open queue: %w", err)
	}
	r.closers = append(r.closers, func() { r.store.Close() })
	r.rq, r.vq = r.store.Queue(pipeline.DefaultReconcileQueue), r.store.Queue(pipeline.DefaultVerifyQueue)
	client, err := azure.New(o.Sandbox.Credential(), o.Sandbox.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("replay: azure client: %w", err)
	}
	if r.net, err = sandboxnet.NewNetwork(o.Sandbox); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	r.closers = append(r.closers, r.net.Close)
	v := r.net.Verifier(client)
	v.Now = r.clock.Now
	v.Timeout = 5 * time.Second
	var sink outcome.Sink = outcome.Multi{r.mem, verifyEvents(r.verifyEv)}
	if o.Sink != nil {
		sink = outcome.Multi{sink, o.Sink}
	}
	r.p, err = pipeline.New(pipeline.Config{Policy: o.Policy, ARM: client, Reconcile: r.rq, Verify: r.vq, Sink: sink,
		Verifier: &verify.JobRunner{Verifier: v, Policy: o.Policy, Now: r.clock.Now, Log: o.Log}, Now: r.clock.Now, Log: o.Log,
		// no jitter: a replay takes the same simulated time every run
		Backoff: reconcile.Backoff{Rand: func() float64 { return 0.5 }},
		Hooks:   pipeline.Hooks{Reconciled: r.reconciled, Verified: r.verified}})
	if err != nil {
		return nil, err
	}
	r.statsBefore = o.Sandbox.Stats()
	return r, nil
}

func (r *replayRun) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
}

// deliver hands every delivery to the intake.
func (r *replayRun) deliver(ctx context.Context) {
	for i, body := range r.o.Deliveries {
		res, err := r.p.HandleEvents(ctx, body)
		r.rep.Summary.Events += res.Received
		r.rep.Summary.Enqueued += res.Enqueued
		r.rep.Summary.Ignored += res.Ignored
		r.rep.Summary.Malformed += res.Malformed
		if err != nil {
			r.rep.IntakeErrors = append(r.rep.IntakeErrors, fmt.Sprintf("delivery %d: %v", i+1, err))
		}
	}
}

// sweep runs one sweep on the simulated clock.
func (r *replayRun) sweep(ctx context.Context) {
	res, err := r.p.Sweep(ctx)
	if err != nil {
		r.rep.IntakeErrors = append(r.rep.IntakeErrors, "sweep: "+err.Error())
	}
	r.rep.Summary.SweepJobs = len(res.Enqueued)
}

// drain runs both queues dry, moving simulated time to each scheduled job.
func (r *replayRun) drain(ctx context.Context) error {
	_, err := jobs.Drain(ctx, r.handle, jobs.DrainOptions{Clock: r.clock, Log: r.o.Log, MaxDeliveries: 10000}, r.rq, r.vq)
	return err
}

// handle runs a delivery through the pipeline and counts the reconcile
// jobs' settlements (verifications are counted by verified).
func (r *replayRun) handle(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind == jobs.KindVerify {
		before := r.o.Sandbox.Stats().Requests()
		s := r.p.Handle(ctx, d)
		ran := r.o.Sandbox.Stats().Requests().Since(before)
		r.verifyRequests.Reads += ran.Reads
		r.verifyRequests.Writes += ran.Writes
		r.verifyRequests.Deletes += ran.Deletes
		return s
	}
	s := r.p.Handle(ctx, d)
	r.rep.Summary.JobsRun++
	switch {
	case s.IsDone():
		r.rep.Summary.Completed++
	case s.IsRetry():
		r.rep.Summary.Retried++
	case s.IsDeadLetter():
		r.rep.Summary.DeadLettered++
	}
	return s
}

// reconciled records the actions of a reconcile run, and its retry or
// dead letter.
func (r *replayRun) reconciled(d jobs.Delivery, disp reconcile.Disposition) {
	r.rep.Summary.Reads += disp.Result.Reads
	r.rep.Summary.Writes += disp.Result.Writes
	r.rep.Dispositions = append(r.rep.Dispositions, disp.Verdict)
	job := jobName(d.Job)
	for _, ar := range disp.Result.Applied {
		a := ar.Action
		r.rep.Lines = append(r.rep.Lines, Line{Job: job, Action: string(a.Kind),
			Target: a.Resource, Zone: a.Zone, Rule: a.Rule, Reason: a.Reason, Result: ar.Result, Error: ar.Error})
	}
	switch disp.Verdict {
	case reconcile.Retry:
		r.rep.Lines = append(r.rep.Lines, Line{Job: job, Action: "retry", Target: d.Job.TargetID,
			Reason: fmt.Sprintf("attempt %d failed, next in %s", max(d.Job.Attempt, 1), disp.Delay), Result: "rescheduled", Error: disp.Description})
	case reconcile.DeadLetter:
		r.rep.Lines = append(r.rep.Lines, Line{Job: job, Action: "dead-letter", Target: d.Job.TargetID,
			Reason: disp.Reason, Result: "dead-lettered", Error: disp.Description})
	}
}

// ActionVerify is the action of a line recording a verification run.
const ActionVerify = "verify"

// verified records a verification run as a line: passed, failed,
// rescheduled (not passing yet) or gone, with the report's summary.
func (r *replayRun) verified(d jobs.Delivery, s jobs.Settlement) {
	r.rep.Summary.Verifications++
	l := Line{Job: jobName(d.Job), Action: ActionVerify, Target: d.Job.TargetID, Result: "completed"}
	if ev, ok := r.verifyEv[d.Job.ID]; ok {
		l.Result, l.Reason, l.Error = verifyResult(ev.Type), ev.Data.Reason, ev.Data.Error
	}
	switch {
	case s.IsDeadLetter():
		l.Result, l.Reason, l.Error = "dead-lettered", s.Reason(), s.Description()
	case s.IsRetry() && l.Result == "completed":
		l.Result = "rescheduled"
	}
	if l.Result == "passed" {
		r.rep.Summary.VerifyPassed++
	}
	r.rep.Lines = append(r.rep.Lines, l)
}

func verifyResult(t outcome.Type) string {
	switch t {
	case outcome.VerifyPassed:
		return "passed"
	case outcome.VerifyFailed:
		return "failed"
	case verify.VerifyRetry:
		return "rescheduled"
	case outcome.SubjectGone:
		return "gone"
	}
	return string(t)
}

// verifyEvents keeps the last verification outcome event of each job (the
// runner publishes one per run, before it settles).
type verifyEvents map[string]outcome.Event

func (v verifyEvents) Publish(_ context.Context, evs []outcome.Event) error {
	for _, ev := range evs {
		if ev.Data.Rule == "verification" || ev.Type == outcome.SubjectGone {
			v[ev.Data.JobID] = ev
		}
	}
	return nil
}

func jobName(j jobs.Job) string { return string(j.Subject) + " " + core.NameOf(j.TargetID) }

// finish fills in what the queues and the sandbox counted.
func (r *replayRun) finish(ctx context.Context) {
	if st, err := r.vq.Stats(ctx); err == nil {
		r.rep.Summary.VerifyQueued = st.Pending()
	}
	for _, q := range []*embedded.Queue{r.rq, r.vq} {
		if dls, err := q.DeadLetters(ctx); err == nil {
			r.rep.DeadLetters = append(r.rep.DeadLetters, dls...)
		}
	}
	req := r.o.Sandbox.Stats().Requests().Since(r.statsBefore.Requests()).Since(r.verifyRequests)
	r.rep.Summary.ARMReads = req.Reads
	r.rep.Summary.ARMWrites = req.Writes + req.Deletes
	r.rep.Summary.SandboxRequests = req
	r.rep.Summary.VerifySandboxRequests = r.verifyRequests
	r.rep.Outcomes = r.mem.Events()
}
