package reconcile

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
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
// Outcome converts it to the jobs.Outcome a jobs.Handler returns.
type Disposition struct {
	Verdict Verdict       `json:"verdict"`
	Delay   time.Duration `json:"delay,omitempty"` // Retry only
	// Reason is a short code (dead-letter reason), Description the detail.
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	Result      Result `json:"result"`
}

// Backoff configures retry delays: exponential from Base (or the server's
// Retry-After when larger), capped at Max, with jitter, at most MaxAttempts
// runs in total.
type Backoff struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
	// Rand returns a number in [0,1) for jitter; nil uses math/rand/v2.
	Rand func() float64
}

// Defaults of Backoff.
const (
	DefaultBackoffBase = 5 * time.Second
	DefaultBackoffMax  = 15 * time.Minute
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

// Delay is the wait before run attempt+1 after a failed run attempt
// (1-based). It is base*2^(attempt-1), where base is the larger of Base and
// the server's Retry-After, capped at Max, then jittered into
// [d/2 + d/2*rand]: never below half the computed delay nor below one
// second, so failing jobs never loop hot, and spread so that jobs throttled
// together do not return together. A Retry-After above Max is honoured
// as is: retrying earlier would only be throttled again.
func (b Backoff) Delay(attempt int, retryAfter time.Duration) time.Duration {
	b = b.withDefaults()
	if attempt < 1 {
		attempt = 1
	}
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
// MaxAttempts and then dead-letter it, fatal errors dead-letter it.
func (b Backoff) Dispose(job jobs.Job, err error) Disposition {
	b = b.withDefaults()
	attempt := max(job.Attempt, 1)
	switch core.ClassOf(err) {
	case "":
		return Disposition{Verdict: Complete}
	case core.NotFound:
		return Disposition{Verdict: Complete, Reason: "NotFound", Description: err.Error()}
	case core.Retryable:
		if attempt >= b.MaxAttempts {
			return Disposition{Verdict: DeadLetter, Reason: "RetriesExhausted",
				Description: fmt.Sprintf("gave up after %d attempts: %v", attempt, err)}
		}
		_, after := core.IsRetryable(err)
		return Disposition{Verdict: Retry, Delay: b.Delay(attempt, after), Reason: "Retryable", Description: err.Error()}
	default:
		reason := "Fatal"
		var ce *core.Error
		if asCore(err, &ce) && ce.Code != "" {
			reason = ce.Code
		}
		return Disposition{Verdict: DeadLetter, Reason: reason, Description: err.Error()}
	}
}

// Outcome converts the disposition to a jobs.Outcome.
func (d Disposition) Outcome() jobs.Outcome {
	switch d.Verdict {
	case Retry:
		return jobs.RetryAfter(d.Delay)
	case DeadLetter:
		return jobs.DeadLetterWith(d.Reason, d.Description)
	}
	return jobs.Done()
}

// Process runs a delivered job and settles it: it is a jobs.Handler. See
// ProcessDelivery.
func (r *Reconciler) Process(ctx context.Context, d jobs.Delivery) jobs.Outcome {
	return r.ProcessDelivery(ctx, d).Outcome()
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
			return r.deferJob(ctx, job, created, c.deferBy())
		}
		began = r.cfg.Now()
	}
	res, err := r.Handle(ctx, job)
	disp := r.cfg.Backoff.Dispose(job, err)
	disp.Result = res
	if key != "" {
		r.cfg.Coalesce.done(key, began, err == nil && ctx.Err() == nil)
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
// retry would count an attempt). When the copy cannot be sent, the job is
// retried the ordinary way, which loses nothing.
func (r *Reconciler) deferJob(ctx context.Context, job jobs.Job, created time.Time, delay time.Duration) Disposition {
	again := job
	again.NotBefore = r.cfg.Now().Add(delay).UTC()
	again.ID = jobs.NewID(job.Kind, job.Subject, job.TargetID, "defer\x00"+job.ID+"\x00"+again.NotBefore.Format(time.RFC3339Nano))
	if again.Created.IsZero() {
		again.Created = created
	}
	desc := "the same subject is being reconciled; the job runs again after " + delay.String()
	if err := r.cfg.Jobs.Send(ctx, again); err != nil {
		return Disposition{Verdict: Retry, Delay: delay, Reason: ReasonDeferred, Description: desc + " (as a retry: " + err.Error() + ")"}
	}
	return Disposition{Verdict: Complete, Reason: ReasonDeferred, Description: desc}
}
