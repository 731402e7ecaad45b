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
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// Config wires a Service: the pipeline's settings (pipeline.Config) and
// what the API reads. Policy, ARM, Reconcile and Verify are required.
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
	Verifier pipeline.VerifyRunner
	// VerifierFor builds the VerifyRunner when Verifier is nil, given the
	// Service's sink (so verification outcomes show in Status).
	VerifierFor func(sink outcome.Sink) pipeline.VerifyRunner
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
	// EventSubscriptions: see pipeline.Config.EventSubscriptions.
	EventSubscriptions []string
	// Hooks observe the pipeline besides the Service's own counters (the
	// demo and tests).
	Hooks pipeline.Hooks
}

// Service is the autopilot's HTTP API (evaluate, verify, status, estate)
// over the pipeline it assembles with pipeline.New; its job handlers are the
// pipeline's, counted for Status.
type Service struct {
	cfg Config
	log zerolog.Logger
	now func() time.Time
	mem *outcome.MemorySink
	p   *pipeline.Pipeline
	rec *reconcile.Reconciler

	c counters

	mu        sync.Mutex
	failures  []Failure // most recent last
	lastSweep *SweepReport
}

// New builds a Service, or fails naming what is missing. A nil policy is an
// error: the autopilot never acts without one.
func New(cfg Config) (*Service, error) {
	s := &Service{cfg: cfg, log: cfg.Log, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.mem = outcome.NewMemorySink(cfg.StatusEvents)
	var sink outcome.Sink = outcome.NewLogSink(cfg.Log)
	if cfg.Sink != nil {
		sink = cfg.Sink
	}
	p, err := pipeline.New(pipeline.Config{Policy: cfg.Policy, ARM: cfg.ARM, Reconcile: cfg.Reconcile, Verify: cfg.Verify,
		Sink: outcome.Multi{s.mem, sink}, Dead: cfg.Dead, Verifier: cfg.Verifier, VerifierFor: cfg.VerifierFor, Now: s.now,
		Log: cfg.Log, SweepInterval: cfg.SweepInterval, Backoff: cfg.Backoff, EventSubscriptions: cfg.EventSubscriptions,
		Hooks: s.hooks(cfg.Hooks)})
	if err != nil {
		return nil, err
	}
	s.p, s.rec = p, p.Reconciler()
	return s, nil
}

// Pipeline is the Service's pipeline.
func (s *Service) Pipeline() *pipeline.Pipeline { return s.p }

// Sink is the Service's outcome sink (the configured one tee'd into the
// status memory): give it to a verify runner so its results show in Status.
func (s *Service) Sink() outcome.Sink { return s.p.Sink() }

// Intake is the event intake, for events.NewWebhook.
func (s *Service) Intake() *events.Intake { return s.p.Intake() }

// HandleEvents takes one Event Grid delivery (an event or an array, either
// schema) and enqueues reconcile jobs. An error means the delivery must be
// failed so that Event Grid redelivers it.
func (s *Service) HandleEvents(ctx context.Context, body []byte) (events.Result, error) {
	return s.p.HandleEvents(ctx, body)
}

// Reconcile runs one delivered reconcile job and returns its settlement. It
// is a jobs.Handler.
func (s *Service) Reconcile(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	return s.p.Reconcile(ctx, d)
}

// Verify runs one delivered verification job through the VerifyRunner.
func (s *Service) Verify(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	return s.p.Verify(ctx, d)
}

// Park records that a job was given up (see pipeline.Pipeline.Park).
func (s *Service) Park(ctx context.Context, job jobs.Job, reason, description, where string) error {
	return s.p.Park(ctx, job, reason, description, where)
}

// Sweep lists governed targets and VNets and enqueues reconcile jobs for
// what events missed.
func (s *Service) Sweep(ctx context.Context) (reconcile.SweepResult, error) {
	return s.p.Sweep(ctx)
}

// StandaloneOptions configure RunStandalone (kept for handlers/cmd_local.go;
// the type is pipeline.StandaloneOptions).
type StandaloneOptions = pipeline.StandaloneOptions

// RunStandalone runs the pipeline's workers on the embedded queues and the
// sweep ticker until ctx ends (see pipeline.Pipeline.RunStandalone), logging
// with the Service's logger.
func (s *Service) RunStandalone(ctx context.Context, o pipeline.StandaloneOptions) error {
	o.Log = s.log
	return s.p.RunStandalone(ctx, o)
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
	if err := s.p.Jobs().Send(ctx, j); err != nil {
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
