package reconcile

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
)

// Verdict is what to do with a delivered job.
type Verdict string

// Verdicts.
const (
	Complete   Verdict = "complete"
	Retry      Verdict = "retry"
	DeadLetter Verdict = "dead-letter"
)

// Disposition is the settlement of one delivery with what the job did;
// Settlement converts it to the jobs.Settlement a jobs.Handler returns.
type Disposition struct {
	Verdict Verdict       `json:"verdict"`
	Delay   time.Duration `json:"delay,omitempty"` // Retry only
	// Reason is a short code (dead-letter reason), Description the detail.
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	// Progress is set on a retry of a run that changed something before
	// failing: the next attempt's back-off starts again (jobs.Job.Streak).
	Progress bool   `json:"progress,omitempty"`
	Result   Result `json:"result"`
}

// Backoff configures retry delays of failed jobs: exponential from Base (or
// the server's Retry-After when larger), capped at Max, with jitter. It
// counts failed runs in a row without progress (jobs.Job.Streak), not
// attempts: a run that changed something starts the count again, and a job
// is given up (RetriesExhausted) after MaxAttempts failed runs in a row.
type Backoff struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
	// Rand returns a number in [0,1) for jitter; nil uses math/rand/v2.
	Rand func() float64
}

// Defaults of Backoff.
//
// The cap is 2 minutes because a job only gets here after the adapter
// already retried each failing call inside the job (azure.RetryOptions,
// within the job's retry budget): what is left is an outage or a throttle
// longer than the budget, and when it ends the approvals should follow
// within a couple of minutes, which a platform team waiting on a private
// endpoint accepts; a 15-minute cap (the old one) left approvals stalled up
// to a quarter of an hour after ARM had recovered. Jobs at the cap cost one
// run (a few reads) every 1-2 minutes each, far inside ARM's read limits.
// Twelve failed runs in a row without progress ride out about 15 minutes
// (5+10+20+40+80 s, then 7 x 2 min) before the job is dead-lettered with
// RetriesExhausted; the sweep still re-checks the subject later.
const (
	DefaultBackoffBase = 5 * time.Second
	DefaultBackoffMax  = 2 * time.Minute
	DefaultMaxAttempts = 12
	minRetryDelay      = time.Second
)

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = DefaultBackoffBase
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	if b.MaxAttempts <= 0 {
		b.MaxAttempts = DefaultMaxAttempts
	}
	if b.Rand == nil {
		b.Rand = rand.Float64
	}
	return b
}

// Delay is the wait after the streak-th failed run in a row (1-based). It
// is base*2^(streak-1), where base is the larger of Base and
// the server's Retry-After, capped at Max, then jittered into
// [d/2 + d/2*rand]: never below half the computed delay nor below one
// second, so failing jobs never loop hot, and spread so that jobs throttled
// together do not return together. A Retry-After above Max is honoured
// as is: retrying earlier would only be throttled again.
func (b Backoff) Delay(streak int, retryAfter time.Duration) time.Duration {
	b = b.withDefaults()
	attempt := max(streak, 1)
	base := b.Base
	if retryAfter > base {
		base = retryAfter
	}
	d := float64(base) * math.Pow(2, float64(min(attempt-1, 30)))
	if d > float64(b.Max) {
		d = float64(b.Max)
	}
	d = d/2 + d/2*b.Rand()
	out := time.Duration(d)
	if out < retryAfter {
		out = retryAfter
	}
	if out < minRetryDelay {
		out = minRetryDelay
	}
	return out
}

// Dispose maps the error of a job run to its settlement: nil and not-found
// complete the job, retryable errors retry it with back-off until
// MaxAttempts failed runs in a row without progress and then dead-letter
// it, fatal errors dead-letter it. progress says the run changed something
// before failing: the streak (and with it the back-off) starts again.
func (b Backoff) Dispose(job jobs.Job, err error, progress bool) Disposition {
	b = b.withDefaults()
	streak := jobs.NextCount(job.Streak) // saturates: a poison streak dead-letters, never wraps
	if progress {
		streak = 1
	}
	switch core.ClassOf(err) {
	case "":
		return Disposition{Verdict: Complete}
	case core.NotFound:
		return Disposition{Verdict: Complete, Reason: "NotFound", Description: err.Error()}
	case core.Retryable:
		if streak >= b.MaxAttempts {
			return Disposition{Verdict: DeadLetter, Reason: "RetriesExhausted",
				Description: fmt.Sprintf("gave up after %d failed runs in a row without progress (attempt %d): %v", streak, max(job.Attempt, 1), err)}
		}
		_, after := core.IsRetryable(err)
		return Disposition{Verdict: Retry, Delay: b.Delay(streak, after), Reason: "Retryable", Description: err.Error(), Progress: progress}
	default:
		reason := "Fatal"
		var ce *core.Error
		if asCore(err, &ce) && ce.Code != "" {
			reason = ce.Code
		}
		return Disposition{Verdict: DeadLetter, Reason: reason, Description: err.Error()}
	}
}

// Settlement converts the disposition to the jobs.Settlement a jobs.Handler returns.
func (d Disposition) Settlement() jobs.Settlement {
	switch d.Verdict {
	case Retry:
		if d.Progress {
			return jobs.RetryAfter(d.Delay).WithProgress()
		}
		return jobs.RetryAfter(d.Delay)
	case DeadLetter:
		return jobs.DeadLetterWith(d.Reason, d.Description)
	}
	return jobs.Done()
}

// Process runs a delivered job and settles it: it is a jobs.Handler. See
// ProcessDelivery.
func (r *Reconciler) Process(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	return r.ProcessDelivery(ctx, d).Settlement()
}

// ProcessDelivery runs a delivered job and decides its settlement. A
// dead-lettered job also raises a "job.failed" outcome event carrying the
// reason.
func (r *Reconciler) ProcessDelivery(ctx context.Context, d jobs.Delivery) Disposition {
	job := d.Job
	if job.Attempt < 1 {
		job.Attempt = 1
	}
	var key string
	var began time.Time
	if c := r.cfg.Coalesce; c != nil && job.Kind == jobs.KindReconcile {
		key = CoalesceKey(job)
		created := job.Created
		if created.IsZero() {
			created = d.EnqueuedAt
		}
		switch c.admit(key, created) {
		case admitCovered:
			return Disposition{Verdict: Complete, Reason: ReasonCoalesced,
				Description: "covered by a successful reconcile of the same subject that started after the job was created"}
		case admitBusy:
			return r.deferJob(ctx, job, key, created)
		}
		began = r.cfg.Now()
	}
	res, err := r.Handle(ctx, job)
	disp := r.cfg.Backoff.Dispose(job, err, res.Writes > 0)
	disp.Result = res
	if key != "" {
		if ids := r.cfg.Coalesce.done(key, began, err == nil && ctx.Err() == nil); len(ids) > 0 {
			r.wake(ctx, ids...)
		}
	}
	log := r.cfg.Log.With().Str("jobId", job.ID).Str("subjectId", job.TargetID).Int("attempt", job.Attempt).Logger()
	switch disp.Verdict {
	case Retry:
		log.Warn().Dur("delay", disp.Delay).Str("error", disp.Description).Msg("job rescheduled")
	case DeadLetter:
		log.Error().Str("reason", disp.Reason).Str("error", disp.Description).Msg("job dead-lettered")
		ev := outcome.New(outcome.JobFailed, job.TargetID, outcome.Data{
			Reason: disp.Reason, Error: disp.Description, Mode: string(r.cfg.Policy.Mode()),
			Result: outcome.ResultFailed, CorrelationID: job.CorrelationID, JobID: job.ID, Attempt: job.Attempt,
		}, r.cfg.Now())
		if perr := r.cfg.Sink.Publish(ctx, []outcome.Event{ev}); perr != nil {
			log.Error().Err(perr).Msg("publish job.failed outcome event")
		}
	}
	return disp
}

// deferJob puts a copy of a job whose subject another worker is reconciling
// back on the queue for later, with the same attempt: waiting for a busy
// subject is not a failure, so it must not use up the job's retries (a
// retry would count an attempt). The copy is due after the Coalescer's
// back-off for its deferral count, and is woken as soon as the running job
// of the subject ends. When the copy cannot be sent, the job is retried the
// ordinary way, which loses nothing.
func (r *Reconciler) deferJob(ctx context.Context, job jobs.Job, key string, created time.Time) Disposition {
	c := r.cfg.Coalesce
	delay := c.deferBy(job.Deferrals)
	again := job
	again.Deferrals = jobs.NextCount(job.Deferrals)
	again.NotBefore = r.cfg.Now().Add(delay).UTC()
	again.ID = jobs.NewID(job.Kind, job.Subject, job.TargetID, "defer\x00"+job.ID+"\x00"+strconv.Itoa(again.Deferrals))
	if again.Created.IsZero() {
		again.Created = created
	}
	desc := "the same subject is being reconciled; the job runs when that run ends, at the latest after " + delay.String()
	if err := r.cfg.Jobs.Send(ctx, again); err != nil {
		return Disposition{Verdict: Retry, Delay: delay, Reason: ReasonDeferred, Description: desc + " (as a retry: " + err.Error() + ")"}
	}
	if !c.wait(key, again.ID) {
		r.wake(ctx, again.ID) // the run ended meanwhile
	}
	return Disposition{Verdict: Complete, Reason: ReasonDeferred, Description: desc}
}

// wake makes deferred copies due now when the job queue can (jobs.Waker);
// otherwise they run after their back-off.
func (r *Reconciler) wake(ctx context.Context, ids ...string) {
	w, ok := r.cfg.Jobs.(jobs.Waker)
	if !ok {
		return
	}
	if err := w.Wake(context.WithoutCancel(ctx), ids...); err != nil {
		r.cfg.Log.Warn().Err(err).Strs("jobIds", ids).Msg("wake deferred jobs (they run after their back-off)")
	}
}
