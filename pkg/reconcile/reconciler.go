package reconcile

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/rs/zerolog"
)

// Config wires a Reconciler. Reader, Writer, Policy and Jobs are required.
type Config struct {
	Reader core.Reader
	Writer core.Writer
	Policy Policy
	// Jobs receives verification and follow-up reconcile jobs.
	Jobs jobs.Sender
	// Sink records outcome events; nil records nothing.
	Sink outcome.Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log zerolog.Logger
	// Backoff configures retries of failed jobs (zero value: defaults).
	Backoff Backoff
	// Coalesce, when set, skips reconcile jobs already covered by a later
	// successful reconcile of the same subject and defers jobs whose subject
	// is being reconciled (see Coalescer). Nil: every job runs.
	Coalesce *Coalescer
	// Parallel runs the gather step's concurrent reads (at most
	// PrefetchConcurrency functions) and returns when all have; nil runs
	// them on goroutines. A simulated clock passes its own, so that the
	// readers count as its participants.
	Parallel func(fs ...func())
	// StaleAfter is the age of a target's gathered connections after which
	// apply reads the target again before an approval (default
	// DefaultStaleAfter; negative: never).
	StaleAfter time.Duration
	// ExpectTTL is how long the record of a change written by one job is
	// kept to stop jobs that gathered before the write from sending it
	// again (default DefaultExpectTTL; negative: expectations off).
	ExpectTTL time.Duration
	// RetryBudget is how long one job may wait, in all, for transient ARM
	// failures to pass before it gives up and is rescheduled (default
	// DefaultRetryBudget; passed to the adapters with core.WithRetryBudget).
	RetryBudget time.Duration
}

// DefaultStaleAfter is Config.StaleAfter's default.
const DefaultStaleAfter = 10 * time.Second

// DefaultRetryBudget is Config.RetryBudget's default. A job that has waited
// a minute for ARM to recover gives its worker back and is rescheduled
// (Backoff). It stays well inside the Functions timeout (5 min, host.json),
// and the host renews the message lock while the job runs.
const DefaultRetryBudget = time.Minute

// Reconciler handles reconcile jobs.
type Reconciler struct {
	cfg    Config
	expect *expectations
}

// New returns a Reconciler, or an error naming the missing dependency.
func New(cfg Config) (*Reconciler, error) {
	switch {
	case cfg.Reader == nil:
		return nil, errors.New("reconcile: no ARM reader")
	case cfg.Writer == nil:
		return nil, errors.New("reconcile: no ARM writer")
	case cfg.Policy == nil:
		return nil, errors.New("reconcile: no policy")
	case cfg.Jobs == nil:
		return nil, errors.New("reconcile: no job sender")
	}
	if cfg.Sink == nil {
		cfg.Sink = outcome.Discard{}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Backoff = cfg.Backoff.withDefaults()
	if cfg.RetryBudget <= 0 {
		cfg.RetryBudget = DefaultRetryBudget
	}
	return &Reconciler{cfg: cfg, expect: newExpectations()}, nil
}

// ActionResult is what applying one action did.
type ActionResult struct {
	Action Action `json:"action"`
	// Result is one of the outcome.Result* values.
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// Result is what handling one job did.
type Result struct {
	Plan    Plan           `json:"plan"`
	Applied []ActionResult `json:"applied,omitempty"`
	// Reads and Writes count ARM calls made by this job (writes the Writer
	// reported as sent; unchanged idempotent writes are not counted).
	Reads  int `json:"reads"`
	Writes int `json:"writes"`
}

// Plan gathers and plans a job without applying anything (dry run).
func (r *Reconciler) Plan(ctx context.Context, job jobs.Job) (Plan, int, error) {
	dr, err := dryRun(ctx, r.cfg.Reader, r.cfg.Policy, job, r.cfg.Now(), r.cfg.Parallel, "")
	return dr.Plan, dr.Reads, err
}

// DryRun is one reconcile job gathered and planned by the reconciler's own
// code, nothing applied: what `handler policy explain`, /api/evaluate and
// Reconciler.Plan show.
type DryRun struct {
	// State is what the job read; Plan what it would do.
	State State
	Plan  Plan
	// Decisions are the connection decisions the plan was made from, in
	// order (Pending and Approved connections of governed targets).
	Decisions []ConnectionDecision
	// Reads counts the ARM reads made.
	Reads int
}

// Decision returns the plan's decision of connection id, if it made one.
func (d DryRun) Decision(connectionID string) (ConnectionDecision, bool) {
	for _, cd := range d.Decisions {
		if core.SameID(cd.Input.Connection.ID, connectionID) {
			return cd, true
		}
	}
	return ConnectionDecision{}, false
}

// Replan returns the plan of the same gathered state had the job been
// sent by a passing verification of the target (jobs.Job.PrivateVerified):
// what the reconciler does once private access is verified. It reads
// nothing.
func (d DryRun) Replan(p Policy) Plan {
	s := d.State
	s.Job.PrivateVerified, s.Job.Trigger = true, jobs.TriggerVerified
	return ComputePlan(s, p)
}

// DryRunJob gathers job through r and plans it with p as Handle would,
// applying nothing and sending nothing.
func DryRunJob(ctx context.Context, r core.Reader, p Policy, job jobs.Job, now time.Time) (DryRun, error) {
	return dryRun(ctx, r, p, job, now, nil, "")
}

// DryRunConnection is DryRunJob for the target job of one connection,
// restricted to that connection (its endpoint's connections to the target),
// as the endpoint's own job decides it: the other connections of the
// target are neither read nor decided.
func DryRunConnection(ctx context.Context, r core.Reader, p Policy, job jobs.Job, connectionID string, now time.Time) (DryRun, error) {
	return dryRun(ctx, r, p, job, now, nil, connectionID)
}

func dryRun(ctx context.Context, r core.Reader, p Policy, job jobs.Job, now time.Time, parallel func(fs ...func()), onlyConnection string) (DryRun, error) {
	st, reads, err := gatherOnly(ctx, r, p, job, now, parallel, onlyConnection)
	if err != nil {
		return DryRun{State: st, Reads: reads}, err
	}
	pl, decided := computePlan(st, p)
	return DryRun{State: st, Plan: pl, Decisions: decided, Reads: reads}, nil
}

// Handle runs one reconcile job: gather, plan, apply (enforce mode only),
// record. The error, when not nil, is classified (core.ClassOf): retryable
// errors should reschedule the job, fatal ones dead-letter it. Everything
// applied before a failure is kept in the result and recorded.
func (r *Reconciler) Handle(ctx context.Context, job jobs.Job) (Result, error) {
	log := r.cfg.Log.With().Str("jobId", job.ID).Str("subject", string(job.Subject)).
		Str("subjectId", job.TargetID).Int("attempt", job.Attempt).Logger()
	if job.Kind != jobs.KindReconcile {
		return Result{}, &core.Error{Class: core.Fatal, Op: "reconcile", ResourceID: job.TargetID,
			Err: fmt.Errorf("job %s is a %q job, want %q", job.ID, job.Kind, jobs.KindReconcile)}
	}
	ctx = core.WithRetryBudget(ctx, r.cfg.Now().Add(r.cfg.RetryBudget))
	st, reads, err := gather(ctx, r.cfg.Reader, r.cfg.Policy, job, r.cfg.Now(), r.cfg.Parallel)
	res := Result{Reads: reads}
	if err != nil {
		log.Warn().Err(err).Str("class", string(core.ClassOf(err))).Int("reads", reads).Msg("gather failed")
		return res, err
	}
	res.Plan = ComputePlan(st, r.cfg.Policy)
	log.Info().Int("changes", len(res.Plan.Changes())).Int("actions", len(res.Plan.Actions)).
		Strs("notes", res.Plan.Notes).Interface("plan", res.Plan.Actions).Msg("plan")

	var applyErr error
	if r.cfg.Policy.Mode() == policy.ModeAudit {
		for _, a := range res.Plan.Actions {
			result := outcome.ResultPlanned
			if a.Kind.IsObservation() {
				result = outcome.ResultObserved
			}
			res.Applied = append(res.Applied, ActionResult{Action: a, Result: result})
		}
	} else {
		var done applied
		done, applyErr = r.apply(ctx, job.ID, res.Plan, st.Now)
		res.Applied, res.Writes = done.results, done.writes
		res.Reads += done.reads
	}
	r.record(ctx, job, st, res, log)
	if st.SubjectGone && job.Subject != jobs.SubjectVNet {
		log.Info().Msg("subject does not exist: nothing to do")
	}
	if applyErr != nil {
		log.Warn().Err(applyErr).Str("class", string(core.ClassOf(applyErr))).Int("writes", res.Writes).Msg("apply failed")
	}
	return res, applyErr
}

// applied is what apply did: the result of every action, and the ARM
// writes and reads it made.
type applied struct {
	results []ActionResult
	writes  int
	reads   int
}

// apply performs the plan's changes in order, then sends its follow-ups
// when every change succeeded (a failed job is retried and replans).
// Independent changes go on after a failure so one refusal does not block
// the others. It switches on each action's payload (changes.go): a change
// built without its constructor is refused, never half-applied.
//
// Approvals are sent from the gathered connection state without reading the
// connection again. When the gathered state of a target is older than
// Config.StaleAfter by the time an approval is due (a job approving many
// connections waits for write tokens), the target is read once more (one
// read refreshes all its connections) and approvals another job made
// meanwhile are reported unchanged instead of being written twice.
//
// Two jobs of this process never send the same change at once, and a change
// written by one job after another gathered is not written again by the
// other (reported unchanged, no call): see expectations.
func (r *Reconciler) apply(ctx context.Context, jobID string, pl Plan, gathered time.Time) (applied, error) {
	var out applied
	var errs []error
	readAt := map[string]time.Time{}             // target key -> last read
	status := map[string]core.ConnectionStatus{} // connection key -> refreshed status
	for _, a := range pl.Actions {
		if !a.Kind.IsChange() {
			continue
		}
		switch p := a.change.(type) {
		case publicAccessWrite:
			out.reads++
			ar, err := r.disablePublicAccess(ctx, a, p)
			if err != nil {
				errs = append(errs, err)
			}
			if ar.Result == outcome.ResultApplied || ar.Result == outcome.ResultInProgress {
				out.writes++
			}
			out.results = append(out.results, ar)
			continue
		case connectionWrite:
			if p.to == core.StatusRejected && a.Revoke {
				out.reads++
				if ar, guarded := r.guardAtApply(ctx, a); guarded {
					out.results = append(out.results, ar)
					continue
				}
			}
			if p.to == core.StatusApproved && r.cfg.StaleAfter >= 0 {
				if ar, done := r.approvedMeanwhile(ctx, a, p, gathered, readAt, status, &out.reads); done {
					out.results = append(out.results, ar)
					continue
				}
			}
		case linkWrite, linkRemoval, zoneGroupWrite:
		default:
			err := &core.Error{Class: core.Fatal, Op: "apply " + string(a.Kind), ResourceID: a.Resource,
				Err: fmt.Errorf("the action carries no %s change (not built by its constructor): refused", a.Kind)}
			out.results = append(out.results, ActionResult{Action: a, Result: outcome.ResultFailed, Error: err.Error()})
			errs = append(errs, err)
			continue
		}
		key := changeKey(a)
		if key != "" && r.cfg.ExpectTTL >= 0 {
			if why := r.expect.claim(key, jobID, gathered); why != "" {
				out.results = append(out.results, ActionResult{Action: a, Result: outcome.ResultUnchanged, Error: why})
				continue
			}
		}
		wr, err := r.write(ctx, a)
		if key != "" && r.cfg.ExpectTTL >= 0 {
			r.expect.release(key, err == nil, r.cfg.Now(), r.expectTTL())
		}
		ar := ActionResult{Action: a}
		switch {
		case err != nil && core.IsNotFound(err):
			ar.Result, ar.Error = outcome.ResultSkipped, err.Error()
		case err != nil && superseded(err):
			// someone else decided or took over the resource since the
			// job read it: nothing left for this change to do
			ar.Result, ar.Error = outcome.ResultSkipped, err.Error()
		case err != nil:
			ar.Result, ar.Error = outcome.ResultFailed, err.Error()
			errs = append(errs, err)
		case wr.InProgress:
			ar.Result = outcome.ResultInProgress
			out.writes++
		case wr.Changed:
			ar.Result = outcome.ResultApplied
			out.writes++
		default:
			ar.Result = outcome.ResultUnchanged
		}
		out.results = append(out.results, ar)
	}
	for _, a := range pl.Actions {
		switch {
		case a.Kind.IsObservation():
			out.results = append(out.results, ActionResult{Action: a, Result: outcome.ResultObserved})
		case a.Kind == KindScheduleVerify || a.Kind == KindEnqueue:
			if len(errs) > 0 {
				out.results = append(out.results, ActionResult{Action: a, Result: outcome.ResultSkipped, Error: "not sent: an earlier change failed"})
				continue
			}
			ar := ActionResult{Action: a, Result: outcome.ResultApplied}
			j, ok := a.Job()
			if !ok {
				err := &core.Error{Class: core.Fatal, Op: "send " + string(a.Kind), ResourceID: a.Resource,
					Err: fmt.Errorf("the action carries no job (not built by its constructor): refused")}
				ar.Result, ar.Error = outcome.ResultFailed, err.Error()
				errs = append(errs, err)
			} else if err := r.cfg.Jobs.Send(ctx, j); err != nil {
				ar.Result, ar.Error = outcome.ResultFailed, err.Error()
				errs = append(errs, &core.Error{Class: core.Retryable, Op: "send " + string(j.Kind) + " job",
					ResourceID: a.Resource, Err: err})
			}
			out.results = append(out.results, ar)
		}
	}
	return out, joinClassified(errs)
}

// approvedMeanwhile reads the target of an approval again when its
// gathered state is older than StaleAfter, and reports (done) the approval
// as unchanged or skipped when the connection is no longer pending.
func (r *Reconciler) approvedMeanwhile(ctx context.Context, a Action, p connectionWrite, gathered time.Time,
	readAt map[string]time.Time, status map[string]core.ConnectionStatus, reads *int) (ActionResult, bool) {
	tk := core.IDKey(a.Target)
	at, ok := readAt[tk]
	if !ok {
		at = gathered
	}
	if now := r.cfg.Now(); now.Sub(at) > r.staleAfter() {
		*reads++
		if t, err := r.readTarget(ctx, a.Target); err == nil {
			readAt[tk] = now
			for _, c := range t.Connections {
				status[core.IDKey(c.ID)] = c.Status
			}
		}
	}
	st, ok := status[core.IDKey(p.conn.ID)]
	if !ok || st == core.StatusPending {
		return ActionResult{}, false
	}
	ar := ActionResult{Action: a, Result: outcome.ResultUnchanged}
	if st != core.StatusApproved {
		ar.Result, ar.Error = outcome.ResultSkipped, "connection is "+string(st)+" now: not approved"
	}
	return ar, true
}

func (r *Reconciler) expectTTL() time.Duration {
	if r.cfg.ExpectTTL > 0 {
		return r.cfg.ExpectTTL
	}
	return DefaultExpectTTL
}

func (r *Reconciler) staleAfter() time.Duration {
	if r.cfg.StaleAfter > 0 {
		return r.cfg.StaleAfter
	}
	return DefaultStaleAfter
}

// readTarget reads a target's connections (the 1-read variant when the
// Reader has it).
func (r *Reconciler) readTarget(ctx context.Context, id string) (core.Target, error) {
	if cr, ok := r.cfg.Reader.(ConnectionReader); ok {
		return cr.GetTargetConnections(ctx, id)
	}
	return r.cfg.Reader.GetTarget(ctx, id)
}

// write sends one change to ARM, as its payload says.
func (r *Reconciler) write(ctx context.Context, a Action) (core.WriteResult, error) {
	w := r.cfg.Writer
	switch p := a.change.(type) {
	case connectionWrite:
		return w.SetConnectionStatus(ctx, p.conn, p.to, a.Description)
	case linkWrite:
		return w.EnsureVNetLink(ctx, p.spec)
	case linkRemoval:
		return w.DeleteVNetLink(ctx, p.link)
	case zoneGroupWrite:
		return w.EnsureZoneGroup(ctx, p.spec)
	}
	return core.WriteResult{}, fmt.Errorf("reconcile: action %q carries no change to write", a.Kind)
}

// joinClassified joins errors keeping a class the caller can act on:
// retryable wins when any error is retryable (a retry can still make
// progress; a fatal error that persists dead-letters on a later attempt).
func joinClassified(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	class := core.Fatal
	for _, e := range errs {
		if core.ClassOf(e) == core.Retryable {
			class = core.Retryable
		}
	}
	var after time.Duration
	for _, e := range errs {
		if ok, d := core.IsRetryable(e); ok && d > after {
			after = d
		}
	}
	code := ""
	for _, e := range errs {
		var ce *core.Error
		if code == "" && core.ClassOf(e) == class && asCore(e, &ce) {
			code = ce.Code
		}
	}
	return &core.Error{Class: class, Op: "apply plan", RetryAfter: after, Code: code,
		Err: fmt.Errorf("%d changes failed: %w", len(errs), errors.Join(errs...))}
}

// record publishes one outcome event per decision and change.
func (r *Reconciler) record(ctx context.Context, job jobs.Job, st State, res Result, log zerolog.Logger) {
	now := r.cfg.Now()
	mode := string(r.cfg.Policy.Mode())
	base := outcome.Data{Mode: mode, CorrelationID: job.CorrelationID, JobID: job.ID, Attempt: job.Attempt}
	var evs []outcome.Event
	if st.SubjectGone && job.Subject != jobs.SubjectVNet {
		d := base
		d.Reason = fmt.Sprintf("%s does not exist: nothing to do", job.Subject)
		d.Result = outcome.ResultObserved
		evs = append(evs, outcome.New(outcome.SubjectGone, job.TargetID, d, now))
	}
	for _, ar := range res.Applied {
		a := ar.Action
		var typ outcome.Type
		switch a.Kind {
		case KindApprove:
			typ = outcome.ConnectionApproved
		case KindReject:
			typ = outcome.ConnectionRejected
		case KindLeavePending:
			typ = outcome.ConnectionLeftPending
		case KindCreateLink:
			typ = outcome.LinkCreated
		case KindUpdateLink:
			typ = outcome.LinkUpdated
		case KindRemoveLink:
			typ = outcome.LinkRemoved
		case KindAddZoneGroup:
			typ = outcome.ZoneGroupCreated
		case KindDNSFinding:
			typ = outcome.DNSFinding
		case KindGuard:
			typ = outcome.PrivatePathGuarded
		case KindUnreachable:
			typ = outcome.TargetUnreachable
		case KindDisablePublicAccess:
			typ = outcome.PublicAccessDisabled
		case KindPublicAccessOpen:
			typ = outcome.PublicAccessOpen
		default:
			continue // follow-ups are logged, not audit events
		}
		d := base
		d.Rule, d.Reason, d.Description = a.Rule, a.Reason, a.Description
		d.Before, d.After, d.Target, d.Zone = a.Before, a.After, a.Target, a.Zone
		d.Result, d.Error = ar.Result, ar.Error
		if a.Kind == KindUnreachable {
			d.Severity = outcome.SeverityCritical
		}
		evs = append(evs, outcome.New(typ, a.Resource, d, now))
	}
	if len(evs) == 0 {
		return
	}
	if err := r.cfg.Sink.Publish(ctx, evs); err != nil {
		// The decision is applied and, with the Event Grid sink, kept by the
		// fallback; failing the job would not bring the event back.
		log.Error().Err(err).Int("events", len(evs)).Msg("publish outcome events")
	}
}
