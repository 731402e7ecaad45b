package jobs

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Handler runs one job. It must be idempotent (deliveries are at least once)
// and should honour ctx: on shutdown ctx is cancelled after the grace period.
// It says what to do with the delivery by returning a Settlement.
type Handler func(ctx context.Context, d Delivery) Settlement

type settleKind int

const (
	settleComplete settleKind = iota
	settleRetry
	settleDeadLetter
	settleAbandon // internal: after a first handler panic
)

// Settlement is what a Handler decided about a delivery: how it is settled. Build it with Done,
// RetryAfter or DeadLetterWith; the zero value is Done.
type Settlement struct {
	kind        settleKind
	delay       time.Duration
	reason      string
	description string
	resumeToken string
	setResume   bool
	progress    bool
}

// Done completes the delivery: the job is finished.
func Done() Settlement { return Settlement{kind: settleComplete} }

// RetryAfter completes the delivery and schedules the job's next attempt
// (Attempt+1, new id) after delay. Negative delays count as zero.
func RetryAfter(delay time.Duration) Settlement {
	return Settlement{kind: settleRetry, delay: max(delay, 0)}
}

// DeadLetterWith moves the job to the dead-letter store with a short reason
// (a code such as "PolicyInvalid") and a human description.
func DeadLetterWith(reason, description string) Settlement {
	if strings.TrimSpace(reason) == "" {
		reason = "HandlerDeadLettered"
	}
	return Settlement{kind: settleDeadLetter, reason: reason, description: description}
}

// WithResumeToken sets the ResumeToken the next attempt carries (a
// long-running operation to resume). It only matters for RetryAfter.
func (o Settlement) WithResumeToken(token string) Settlement {
	o.resumeToken, o.setResume = token, true
	return o
}

// WithProgress marks a RetryAfter settlement of a run that made progress
// (changed something before failing): the next attempt's Streak starts
// again at 1, so its back-off does too.
func (o Settlement) WithProgress() Settlement {
	o.progress = true
	return o
}

// Progress reports whether WithProgress was set.
func (o Settlement) Progress() bool { return o.progress }

// IsDone, IsRetry and IsDeadLetter tell the settlement's kind (for tests and logs).
func (o Settlement) IsDone() bool       { return o.kind == settleComplete }
func (o Settlement) IsRetry() bool      { return o.kind == settleRetry }
func (o Settlement) IsDeadLetter() bool { return o.kind == settleDeadLetter }

// Delay is the retry delay of a RetryAfter settlement.
func (o Settlement) Delay() time.Duration { return o.delay }

// Reason and Description are those of a DeadLetterWith settlement.
func (o Settlement) Reason() string      { return o.reason }
func (o Settlement) Description() string { return o.description }

// String renders the settlement for logs: "complete", "retry after 30s",
// "dead-letter PolicyInvalid: ...".
func (o Settlement) String() string {
	switch o.kind {
	case settleRetry:
		return "retry after " + o.delay.String()
	case settleDeadLetter:
		if o.description == "" {
			return "dead-letter " + o.reason
		}
		return "dead-letter " + o.reason + ": " + o.description
	case settleAbandon:
		return "abandon"
	}
	return "complete"
}

// panicDeliveries is the delivery count at which a panicking handler's job is
// dead-lettered rather than released for one more try.
const panicDeliveries = 2

// invoke runs h, turning a panic into a settlement: on the first delivery the
// lock is released (abandon) so the job comes back at once with its delivery
// count raised; from the second delivery on it is dead-lettered with reason
// HandlerPanic and the panic value. A panic is most likely a bug that will
// recur, so it does not get the retry schedule (which would reset the count).
func invoke(ctx context.Context, h Handler, d Delivery) (o Settlement, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			if d.DeliveryCount >= panicDeliveries {
				o = DeadLetterWith(DeadLetterReasonPanic, fmt.Sprintf("handler panicked on delivery %d: %v\n%s", d.DeliveryCount, r, trimStack(debug.Stack())))
			} else {
				o = Settlement{kind: settleAbandon, description: fmt.Sprint(r)}
			}
		}
	}()
	return h(ctx, d), false
}

func trimStack(b []byte) string {
	const limit = 2048
	if len(b) > limit {
		b = b[:limit]
	}
	return string(b)
}

// Settle applies a settlement to a delivery on q. An abandon on a queue that
// cannot abandon leaves the lock to expire.
func Settle(ctx context.Context, q Queue, d Delivery, o Settlement) error {
	switch o.kind {
	case settleRetry:
		if o.setResume {
			d.Job.ResumeToken = o.resumeToken
		}
		if o.progress {
			d.Job.Streak = 0
		}
		return q.Retry(ctx, d, o.delay)
	case settleDeadLetter:
		return q.DeadLetter(ctx, d, o.reason, o.description)
	case settleAbandon:
		if a, ok := q.(Abandoner); ok {
			return a.Abandon(ctx, d)
		}
		return nil
	}
	return q.Complete(ctx, d)
}

func jobLog(e *zerolog.Event, d Delivery) *zerolog.Event {
	return e.Str("jobId", d.Job.ID).Str("kind", string(d.Job.Kind)).Str("subject", string(d.Job.Subject)).
		Str("targetId", d.Job.TargetID).Int("attempt", d.Job.Attempt).Int("deliveryCount", d.DeliveryCount).
		Str("correlationId", d.Job.CorrelationID)
}
