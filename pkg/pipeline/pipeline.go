package pipeline

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// VerifyRunner runs one verification job (the verify job runner of
// pkg/verify, or a fake) and says how to settle it.
type VerifyRunner interface {
	Process(ctx context.Context, d jobs.Delivery) jobs.Settlement
}

// Config is what the pipeline is built from. Policy, ARM, Reconcile and
// Verify are required; everything else has the production default.
type Config struct {
	Policy *policy.Policy
	ARM    core.ARM
	// Reconcile receives reconcile jobs (from events, sweeps and
	// follow-ups); Verify receives verification jobs.
	Reconcile jobs.Sender
	Verify    jobs.Sender
	// Sink records outcome events (nil: the log).
	Sink outcome.Sink
	// Dead keeps events the intake could not turn into jobs (nil: logged).
	Dead events.DeadStore
	// Verifier runs verification jobs; nil dead-letters them with reason
	// VerifierMissing (kept, never dropped).
	Verifier VerifyRunner
	// VerifierFor builds the Verifier when it is nil, given the pipeline's
	// sink (so verification outcomes are recorded with the rest).
	VerifierFor func(sink outcome.Sink) VerifyRunner
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log zerolog.Logger
	// SweepInterval is the sweep window (reconcile.DefaultSweepInterval
	// when zero).
	SweepInterval time.Duration
	// Backoff configures reconcile retries (zero: defaults; a fixed Rand
	// makes simulated runs repeatable).
	Backoff reconcile.Backoff
	// EventSubscriptions, when not empty, are the subscriptions whose
	// events the intake acts on, besides the policy's own (Policy.
	// Subscriptions and those of its listed targets); events about
	// resources elsewhere are ignored and counted, at no ARM cost. Empty:
	// events of any subscription are taken (blank entries are ignored).
	EventSubscriptions []string
	// NoCoalesce turns the coalescer off: every reconcile job runs, even
	// one a later run of its subject already covered. Production
	// coalesces; only the load test's comparison runs without.
	NoCoalesce bool
	// Parallel runs the reconciler's concurrent reads (nil: goroutines); a
	// simulated clock passes its own.
	Parallel func(fs ...func())
	// Hooks observe the pipeline (counters, replay lines, load accounting).
	Hooks Hooks
}

// Hooks are told what the pipeline did; any may be nil. They run on the
// goroutine that did it, so they must be safe for concurrent use when
// several workers run.
type Hooks struct {
	// Events: the result of every intake delivery.
	Events func(res events.Result, err error)
	// Sent: every job sent through the router (after the send succeeded).
	Sent func(job jobs.Job)
	// Reconciled: every reconcile delivery run, with its disposition.
	Reconciled func(d jobs.Delivery, disp reconcile.Disposition)
	// Verified: every verification delivery run, with its settlement.
	Verified func(d jobs.Delivery, s jobs.Settlement)
	// Misrouted: a job that arrived on the other kind's queue (it is
	// dead-lettered with reason WrongQueue).
	Misrouted func(d jobs.Delivery, reason, description string)
	// Swept: every sweep, with when it started.
	Swept func(start time.Time, res reconcile.SweepResult, err error)
}

// Dead-letter reasons set by the pipeline.
const (
	ReasonVerifierMissing = "VerifierMissing"
	ReasonWrongQueue      = "WrongQueue"
)

// Pipeline is the assembled intake, router, reconciler, verifier, sweeper
// and sinks.
type Pipeline struct {
	cfg      Config
	now      func() time.Time
	sink     outcome.Sink
	router   Router
	rec      *reconcile.Reconciler
	sweeper  *reconcile.Sweeper
	intake   *events.Intake
	verifier VerifyRunner
}

// New builds the pipeline, or fails naming what is missing. A nil policy
// is an error: the autopilot never acts without one.
func New(cfg Config) (*Pipeline, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	p := &Pipeline{cfg: cfg, now: cfg.Now, sink: cfg.Sink}
	if p.now == nil {
		p.now = time.Now
	}
	if p.cfg.SweepInterval <= 0 {
		p.cfg.SweepInterval = reconcile.DefaultSweepInterval
	}
	if p.sink == nil {
		p.sink = outcome.NewLogSink(cfg.Log)
	}
	p.router = Router{Reconcile: cfg.Reconcile, Verify: cfg.Verify, Sent: cfg.Hooks.Sent}
	if err := p.buildReconciler(); err != nil {
		return nil, err
	}
	p.sweeper = &reconcile.Sweeper{Reader: cfg.ARM, Policy: cfg.Policy, Jobs: p.router, Interval: p.cfg.SweepInterval, Log: cfg.Log}
	p.verifier = p.buildVerifier()
	p.intake = &events.Intake{Queue: p.router, Log: cfg.Log, Dead: cfg.Dead, Now: p.now, Observe: cfg.Hooks.Events,
		Subscriptions: eventSubscriptions(cfg.Policy, cfg.EventSubscriptions)}
	return p, nil
}

func (c Config) check() error {
	var missing []string
	if c.Policy == nil {
		missing = append(missing, "Policy")
	}
	if c.ARM == nil {
		missing = append(missing, "ARM")
	}
	if c.Reconcile == nil {
		missing = append(missing, "Reconcile")
	}
	if c.Verify == nil {
		missing = append(missing, "Verify")
	}
	if len(missing) > 0 {
		return fmt.Errorf("autopilot: config lacks %s", strings.Join(missing, ", "))
	}
	return nil
}

// buildReconciler builds the reconciler. The coalescer skips reconcile
// jobs a later successful run of the same subject already covered, and
// defers jobs whose subject another worker of this process is reconciling
// (per process: under Functions scale-out each instance coalesces its own
// deliveries).
func (p *Pipeline) buildReconciler() error {
	var co *reconcile.Coalescer
	if !p.cfg.NoCoalesce {
		co = reconcile.NewCoalescer()
	}
	rec, err := reconcile.New(reconcile.Config{Reader: p.cfg.ARM, Writer: p.cfg.ARM, Policy: p.cfg.Policy, Jobs: p.router,
		Sink: p.sink, Now: p.now, Log: p.cfg.Log, Backoff: p.cfg.Backoff, Coalesce: co, Parallel: p.cfg.Parallel})
	if err != nil {
		return fmt.Errorf("autopilot: %w", err)
	}
	p.rec = rec
	return nil
}

// buildVerifier returns the verification runner. A verify.JobRunner
// without a sink records to the pipeline's, and one without a reconcile
// sender gets the router, so that a target whose private access passed
// gets the reconcile job that may close its public access.
func (p *Pipeline) buildVerifier() VerifyRunner {
	v := p.cfg.Verifier
	if v == nil && p.cfg.VerifierFor != nil {
		v = p.cfg.VerifierFor(p.sink)
	}
	if jr, ok := v.(*verify.JobRunner); ok {
		if jr.Sink == nil {
			jr.Sink = p.sink
		}
		if jr.Reconcile == nil {
			jr.Reconcile = p.router
		}
	}
	return v
}

// Sink is the pipeline's outcome sink: give it to a verify runner built
// outside so its results are recorded with the rest.
func (p *Pipeline) Sink() outcome.Sink { return p.sink }

// Policy is the policy the pipeline acts on.
func (p *Pipeline) Policy() *policy.Policy { return p.cfg.Policy }

// Jobs is the router: verification jobs to the verify queue, the rest to
// the reconcile queue.
func (p *Pipeline) Jobs() jobs.Sender { return p.router }

// Reconciler is the reconciler (for a dry-run Plan).
func (p *Pipeline) Reconciler() *reconcile.Reconciler { return p.rec }

// Now is the pipeline's clock.
func (p *Pipeline) Now() time.Time { return p.now() }

// Intake is the event intake, for events.NewWebhook.
func (p *Pipeline) Intake() *events.Intake { return p.intake }

// HandleEvents takes one Event Grid delivery (an event or an array, either
// schema) and enqueues reconcile jobs. An error means the delivery must be
// failed so that Event Grid redelivers it.
func (p *Pipeline) HandleEvents(ctx context.Context, body []byte) (events.Result, error) {
	return p.intake.Handle(ctx, body)
}

// Handle runs one delivery of either queue: it is the jobs.Handler of a
// drain over both queues.
func (p *Pipeline) Handle(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind == jobs.KindVerify {
		return p.Verify(ctx, d)
	}
	return p.Reconcile(ctx, d)
}

// Reconcile runs one delivered reconcile job and returns its settlement.
// It is a jobs.Handler.
func (p *Pipeline) Reconcile(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind != jobs.KindReconcile {
		return p.misrouted(d, jobs.KindReconcile)
	}
	return p.ReconcileDelivery(ctx, d).Settlement()
}

// ReconcileDelivery runs one delivered reconcile job and returns what it
// did, for a caller that settles the delivery itself (the load test's
// killed and duplicated deliveries).
func (p *Pipeline) ReconcileDelivery(ctx context.Context, d jobs.Delivery) reconcile.Disposition {
	disp := p.rec.ProcessDelivery(ctx, d)
	if h := p.cfg.Hooks.Reconciled; h != nil {
		h(d, disp)
	}
	return disp
}

// Verify runs one delivered verification job through the VerifyRunner.
func (p *Pipeline) Verify(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind != jobs.KindVerify {
		return p.misrouted(d, jobs.KindVerify)
	}
	var s jobs.Settlement
	if p.verifier == nil {
		s = jobs.DeadLetterWith(ReasonVerifierMissing, "no verification runner is configured; the job is kept for a run once one is")
	} else {
		s = p.verifier.Process(ctx, d)
	}
	if h := p.cfg.Hooks.Verified; h != nil {
		h(d, s)
	}
	return s
}

func (p *Pipeline) misrouted(d jobs.Delivery, want jobs.Kind) jobs.Settlement {
	desc := fmt.Sprintf("a %s job arrived on the %s queue", d.Job.Kind, want)
	if h := p.cfg.Hooks.Misrouted; h != nil {
		h(d, ReasonWrongQueue, desc)
	}
	return jobs.DeadLetterWith(ReasonWrongQueue, desc)
}

// Sweep lists governed targets and VNets and enqueues reconcile jobs for
// what events missed.
func (p *Pipeline) Sweep(ctx context.Context) (reconcile.SweepResult, error) {
	start := p.now()
	res, err := p.sweeper.Sweep(ctx, start)
	if h := p.cfg.Hooks.Swept; h != nil {
		h(start, res, err)
	}
	return res, err
}

// Park records that a job was given up (dead-lettered, or parked in a
// failed-jobs queue under the Functions host): a job.failed outcome event
// carrying the reason, published through the pipeline's sink.
func (p *Pipeline) Park(ctx context.Context, job jobs.Job, reason, description, where string) error {
	ev := outcome.New(outcome.JobFailed, job.TargetID, outcome.Data{
		Reason: reason, Error: description, Mode: string(p.cfg.Policy.Mode()), Result: outcome.ResultFailed,
		CorrelationID: job.CorrelationID, JobID: job.ID, Attempt: job.Attempt, After: where,
	}, p.now())
	// The reconciler may already have published job.failed for this run;
	// this one says where the job is kept, so it gets its own id.
	ev.ID += "-parked"
	if err := p.sink.Publish(ctx, []outcome.Event{ev}); err != nil {
		return fmt.Errorf("publish job.failed for job %s: %w", job.ID, err)
	}
	return nil
}

// eventSubscriptions is the intake's subscription filter: extra (blank
// entries dropped) plus the policy's own subscriptions and those of its
// listed targets; nil (no filter) when extra is empty.
func eventSubscriptions(p *policy.Policy, extra []string) []string {
	var subs []string
	for _, s := range extra {
		if s = strings.TrimSpace(s); s != "" {
			subs = append(subs, s)
		}
	}
	if len(subs) == 0 {
		return nil
	}
	subs = append(subs, p.Subscriptions()...)
	for _, id := range p.TargetIDs() {
		subs = append(subs, core.SubscriptionOf(id))
	}
	return subs
}
