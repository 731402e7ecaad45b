package autopilot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// VerifyRunner runs one verification job (the verify job runner of
// pkg/verify, or a fake) and says how to settle it.
type VerifyRunner interface {
	Process(ctx context.Context, d jobs.Delivery) jobs.Settlement
}

// Config wires a Service. Policy, ARM, Reconcile and Verify are required.
type Config struct {
	Policy *policy.Policy
	ARM    core.ARM
	// Reconcile receives reconcile jobs (from events, sweeps and follow-ups);
	// Verify receives verification jobs.
	Reconcile jobs.Sender
	Verify    jobs.Sender
	// Sink records outcome events (nil: the log). The Service tees it into
	// its own memory sink for Status.
	Sink outcome.Sink
	// Dead keeps events the intake could not turn into jobs (nil: logged).
	Dead events.DeadStore
	// Verifier runs verification jobs; nil dead-letters them with reason
	// VerifierMissing (kept, never dropped).
	Verifier VerifyRunner
	// VerifierFor builds the VerifyRunner when Verifier is nil, given the
	// Service's sink (so verification outcomes show in Status).
	VerifierFor func(sink outcome.Sink) VerifyRunner
	// Reports is read by Status for recent verification reports (optional).
	Reports verify.ReportStore
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log zerolog.Logger
	// SweepInterval is the sweep window (reconcile.DefaultSweepInterval when
	// zero).
	SweepInterval time.Duration
	// Backoff configures reconcile retries (zero: defaults).
	Backoff reconcile.Backoff
	// StatusEvents is how many recent outcome events Status keeps (1000 when
	// zero).
	StatusEvents int
	// EventSubscriptions, when not empty, are the subscriptions whose events
	// the intake acts on, besides the policy's own (Policy.Subscriptions and
	// those of its listed targets); events about resources elsewhere are
	// ignored and counted, at no ARM cost. Empty: events of any
	// subscription are taken (blank entries are ignored).
	EventSubscriptions []string
}

// Dead-letter reasons set by the Service.
const (
	ReasonVerifierMissing = "VerifierMissing"
	ReasonWrongQueue      = "WrongQueue"
)

// Service is the assembled autopilot.
type Service struct {
	cfg     Config
	log     zerolog.Logger
	now     func() time.Time
	mem     *outcome.MemorySink
	sink    outcome.Sink
	rec     *reconcile.Reconciler
	sweeper *reconcile.Sweeper
	intake  *events.Intake
	jobs    jobs.Sender

	c counters

	mu        sync.Mutex
	failures  []Failure // most recent last
	lastSweep *SweepReport
}

// router sends verification jobs to the verify queue, everything else to
// the reconcile queue.
type router struct{ reconcile, verify jobs.Sender }

func (r router) Send(ctx context.Context, j jobs.Job) error {
	if j.Kind == jobs.KindVerify {
		return r.verify.Send(ctx, j)
	}
	return r.reconcile.Send(ctx, j)
}

// New builds a Service, or fails naming what is missing. A nil policy is an
// error: the autopilot never acts without one.
func New(cfg Config) (*Service, error) {
	var missing []string
	if cfg.Policy == nil {
		missing = append(missing, "Policy")
	}
	if cfg.ARM == nil {
		missing = append(missing, "ARM")
	}
	if cfg.Reconcile == nil {
		missing = append(missing, "Reconcile")
	}
	if cfg.Verify == nil {
		missing = append(missing, "Verify")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("autopilot: config lacks %s", strings.Join(missing, ", "))
	}
	s := &Service{cfg: cfg, log: cfg.Log, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.SweepInterval <= 0 {
		s.cfg.SweepInterval = reconcile.DefaultSweepInterval
	}
	s.mem = outcome.NewMemorySink(cfg.StatusEvents)
	var sink outcome.Sink = outcome.NewLogSink(cfg.Log)
	if cfg.Sink != nil {
		sink = cfg.Sink
	}
	s.sink = outcome.Multi{s.mem, sink}
	s.jobs = router{reconcile: cfg.Reconcile, verify: cfg.Verify}
	// The coalescer skips reconcile jobs a later successful run of the same
	// subject already covered, and defers jobs whose subject another worker
	// of this process is reconciling (per process: under Functions scale-out
	// each instance coalesces its own deliveries).
	rec, err := reconcile.New(reconcile.Config{Reader: cfg.ARM, Writer: cfg.ARM, Policy: cfg.Policy, Jobs: s.jobs,
		Sink: s.sink, Now: s.now, Log: cfg.Log, Backoff: cfg.Backoff, Coalesce: reconcile.NewCoalescer()})
	if err != nil {
		return nil, fmt.Errorf("autopilot: %w", err)
	}
	s.rec = rec
	s.sweeper = &reconcile.Sweeper{Reader: cfg.ARM, Policy: cfg.Policy, Jobs: s.jobs, Interval: s.cfg.SweepInterval, Log: cfg.Log}
	if cfg.Verifier == nil && cfg.VerifierFor != nil {
		s.cfg.Verifier = cfg.VerifierFor(s.sink)
	}
	if jr, ok := s.cfg.Verifier.(*verify.JobRunner); ok && jr.Reconcile == nil {
		// a verified target gets the reconcile job that may close its public access
		jr.Reconcile = cfg.Reconcile
	}
	s.intake = &events.Intake{Queue: s.jobs, Log: cfg.Log, Dead: cfg.Dead, Now: s.now, Observe: s.countEvents,
		Subscriptions: eventSubscriptions(cfg.Policy, cfg.EventSubscriptions)}
	return s, nil
}

// Sink is the Service's outcome sink (the configured one tee'd into the
// status memory): give it to a verify runner so its results show in Status.
func (s *Service) Sink() outcome.Sink { return s.sink }

// Policy is the policy the Service acts on.
func (s *Service) Policy() *policy.Policy { return s.cfg.Policy }

// Intake is the event intake, for events.NewWebhook.
func (s *Service) Intake() *events.Intake { return s.intake }

// HandleEvents takes one Event Grid delivery (an event or an array, either
// schema) and enqueues reconcile jobs. An error means the delivery must be
// failed so that Event Grid redelivers it.
func (s *Service) HandleEvents(ctx context.Context, body []byte) (events.Result, error) {
	return s.intake.Handle(ctx, body)
}

// countEvents updates the event counters; the intake calls it for every
// delivery, whether it came through HandleEvents or the webhook.
func (s *Service) countEvents(res events.Result, err error) {
	s.c.events.Add(int64(res.Received))
	s.c.eventsEnqueued.Add(int64(res.Enqueued))
	s.c.eventsIgnored.Add(int64(res.Ignored))
	s.c.eventsMalformed.Add(int64(res.Malformed))
	s.c.eventsUngoverned.Add(int64(res.Ungoverned))
	if err != nil {
		s.c.eventErrors.Add(1)
	}
}

// Reconcile runs one delivered reconcile job and returns its settlement. It
// is a jobs.Handler.
func (s *Service) Reconcile(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind != jobs.KindReconcile {
		return s.wrongQueue(ctx, d, jobs.KindReconcile)
	}
	disp := s.rec.ProcessDelivery(ctx, d)
	s.c.reconcileRuns.Add(1)
	s.c.armReads.Add(int64(disp.Result.Reads))
	s.c.armWrites.Add(int64(disp.Result.Writes))
	switch disp.Verdict {
	case reconcile.Retry:
		s.c.reconcileRetried.Add(1)
	case reconcile.DeadLetter:
		s.c.reconcileFailed.Add(1)
		s.addFailure(d.Job, disp.Reason, disp.Description)
	default:
		s.c.reconcileDone.Add(1)
	}
	return disp.Outcome()
}

// Verify runs one delivered verification job through the VerifyRunner.
func (s *Service) Verify(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind != jobs.KindVerify {
		return s.wrongQueue(ctx, d, jobs.KindVerify)
	}
	s.c.verifyRuns.Add(1)
	if s.cfg.Verifier == nil {
		s.c.verifyFailed.Add(1)
		desc := "no verification runner is configured; the job is kept for a run once one is"
		s.addFailure(d.Job, ReasonVerifierMissing, desc)
		return jobs.DeadLetterWith(ReasonVerifierMissing, desc)
	}
	o := s.cfg.Verifier.Process(ctx, d)
	switch {
	case o.IsRetry():
		s.c.verifyRetried.Add(1)
	case o.IsDeadLetter():
		s.c.verifyFailed.Add(1)
		s.addFailure(d.Job, o.Reason(), o.Description())
	default:
		s.c.verifyDone.Add(1)
	}
	return o
}

func (s *Service) wrongQueue(_ context.Context, d jobs.Delivery, want jobs.Kind) jobs.Settlement {
	desc := fmt.Sprintf("a %s job arrived on the %s queue", d.Job.Kind, want)
	s.addFailure(d.Job, ReasonWrongQueue, desc)
	return jobs.DeadLetterWith(ReasonWrongQueue, desc)
}

// Park records that a job was given up (dead-lettered, or parked in a
// failed-jobs queue under the Functions host): a job.failed outcome event
// carrying the reason, published through the Service's sink.
func (s *Service) Park(ctx context.Context, job jobs.Job, reason, description, where string) error {
	ev := outcome.New(outcome.JobFailed, job.TargetID, outcome.Data{
		Reason: reason, Error: description, Mode: string(s.cfg.Policy.Mode()), Result: outcome.ResultFailed,
		CorrelationID: job.CorrelationID, JobID: job.ID, Attempt: job.Attempt, After: where,
	}, s.now())
	// The reconciler may already have published job.failed for this run;
	// this one says where the job is kept, so it gets its own id.
	ev.ID += "-parked"
	if err := s.sink.Publish(ctx, []outcome.Event{ev}); err != nil {
		return fmt.Errorf("publish job.failed for job %s: %w", job.ID, err)
	}
	return nil
}

// Sweep lists governed targets and VNets and enqueues reconcile jobs for
// what events missed.
func (s *Service) Sweep(ctx context.Context) (reconcile.SweepResult, error) {
	start := s.now()
	res, err := s.sweeper.Sweep(ctx, start)
	s.c.sweeps.Add(1)
	s.c.armReads.Add(int64(res.Reads))
	rep := &SweepReport{At: start, Targets: res.Targets, VNets: res.VNets, Enqueued: len(res.Enqueued), Reads: res.Reads, Errors: res.Errors}
	if err != nil {
		s.c.sweepErrors.Add(1)
		if len(rep.Errors) == 0 {
			rep.Errors = []string{err.Error()}
		}
	}
	s.mu.Lock()
	s.lastSweep = rep
	s.mu.Unlock()
	return res, err
}

// ErrNotFound marks a subject (connection, target) that does not exist.
var ErrNotFound = errors.New("not found")

// ErrInvalid marks bad input (a malformed id).
var ErrInvalid = errors.New("invalid input")

// RequestVerify enqueues a verification of subjectID (a workspace or legacy
// FHIR service, one of their private endpoint connections, a private
// endpoint or a VNet) and returns the job id. Every request gets its own job.
// The subject is read once first: one that does not exist is ErrNotFound
// (a verification of nothing would "pass"); when the read fails otherwise
// (throttled, forbidden) the job is still sent and reports what it finds.
func (s *Service) RequestVerify(ctx context.Context, subjectID string) (string, error) {
	subject, id, err := verifySubjectOf(subjectID)
	if err != nil {
		return "", err
	}
	if err := s.checkGoverned(ctx, subject, id); err != nil {
		return "", err
	}
	if subject == jobs.SubjectTarget { // checkGoverned read endpoints and VNets
		if err := s.subjectExists(ctx, subject, id); err != nil {
			return "", err
		}
	}
	now := s.now()
	j := jobs.New(jobs.KindVerify, subject, id, fmt.Sprintf("api-%d", now.UnixNano()))
	j.Reason = "requested through the API"
	j.CorrelationID = j.ID
	j.Created = now
	if err := s.cfg.Verify.Send(ctx, j); err != nil {
		return "", fmt.Errorf("enqueue verification of %s: %w", id, err)
	}
	s.c.verifyRequested.Add(1)
	return j.ID, nil
}

// subjectExists reads the subject of a verification and returns an
// ErrNotFound error when ARM says it does not exist.
func (s *Service) subjectExists(ctx context.Context, subject jobs.Subject, id string) error {
	var err error
	what := string(subject)
	switch subject {
	case jobs.SubjectTarget:
		_, err = s.cfg.ARM.GetTarget(ctx, id)
		what = "workspace or FHIR service"
	case jobs.SubjectEndpoint:
		_, err = s.cfg.ARM.GetEndpoint(ctx, id)
		what = "private endpoint"
	case jobs.SubjectVNet:
		_, err = s.cfg.ARM.GetVNet(ctx, id)
		what = "VNet"
	}
	if core.IsNotFound(err) {
		return fmt.Errorf("%w: %s %s does not exist (ARM answered %s)", ErrNotFound, what, id, briefARM(err))
	}
	if err != nil {
		s.log.Warn().Err(err).Str("id", id).Msg("verification requested for a subject that could not be read; sending the job anyway")
	}
	return nil
}

// briefARM says in a few words how ARM answered ("HTTP 404
// ResourceNotFound"), without the SDK's multi-line response dump.
func briefARM(err error) string {
	var e *core.Error
	if errors.As(err, &e) && e.StatusCode != 0 {
		return strings.TrimSpace(fmt.Sprintf("HTTP %d %s", e.StatusCode, e.Code))
	}
	return err.Error()
}

// verifySubjectOf maps an ARM id to the subject of a verification job.
func verifySubjectOf(id string) (jobs.Subject, string, error) {
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, "/subscriptions/") || core.SubscriptionOf(id) == "" {
		return "", "", fmt.Errorf("%w: %q is not an ARM resource id (/subscriptions/...)", ErrInvalid, id)
	}
	lower := strings.ToLower(id)
	switch {
	case strings.Contains(lower, "/privateendpointconnections/"):
		return jobs.SubjectTarget, core.ParentOf(id), nil
	case hasType(lower, core.TypeWorkspace), hasType(lower, core.TypeService):
		return jobs.SubjectTarget, id, nil
	case hasType(lower, core.TypePrivateEndpoint):
		return jobs.SubjectEndpoint, id, nil
	case hasType(lower, core.TypeVirtualNetwork):
		return jobs.SubjectVNet, id, nil
	}
	return "", "", fmt.Errorf("%w: %q is not a workspace, FHIR service, connection, private endpoint or VNet id", ErrInvalid, id)
}

// hasType reports whether the lower-cased id names a resource of type typ
// itself (not a child).
func hasType(lowerID, typ string) bool {
	prov, rest, ok := strings.Cut(typ, "/")
	if !ok {
		return false
	}
	i := strings.LastIndex(lowerID, "/providers/"+strings.ToLower(prov)+"/")
	if i < 0 {
		return false
	}
	segs := strings.Split(lowerID[i+len("/providers/"+prov+"/"):], "/")
	types := strings.Split(strings.ToLower(rest), "/")
	return len(segs) == 2*len(types) && segs[0] == types[0]
}
