package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrHostedDeadLetter is returned by SettleHosted for a dead-letter settlement.
var ErrHostedDeadLetter = errors.New("dead-letter requested")

// ErrHostedAbandon is returned by SettleHosted after a first handler panic.
var ErrHostedAbandon = errors.New("delivery released after a handler panic")

// SettleHosted applies o to a delivery whose lock the Functions host holds
// (serviceBusTrigger with autoCompleteMessages): the host completes the
// message when the invocation succeeds and abandons it when it fails, and a
// custom handler cannot settle it otherwise.
//
//   - Done: nil; the invocation succeeds and the host completes.
//   - RetryAfter: sends d.Job.Next(delay, now) through s, then nil so the host
//     completes the original (abandon would redeliver at once, no back-off).
//   - DeadLetterWith: an error wrapping ErrHostedDeadLetter carrying the
//     reason and description. The invocation must fail: the host abandons and
//     Service Bus dead-letters the message once the queue's MaxDeliveryCount
//     is reached (reason MaxDeliveryCountExceeded); log the returned error so
//     the handler's reason is kept.
//   - after a handler panic: an error wrapping ErrHostedAbandon (fail the
//     invocation; the host abandons and redelivers).
func SettleHosted(ctx context.Context, s Sender, d Delivery, o Settlement, now time.Time) error {
	switch o.kind {
	case settleRetry:
		next := d.Job
		if o.setResume {
			next.ResumeToken = o.resumeToken
		}
		if o.progress {
			next.Streak = 0
		}
		next = next.Next(o.delay, now)
		if err := s.Send(ctx, next); err != nil {
			return fmt.Errorf("retry job %s as %s: %w", d.Job.ID, next.ID, err)
		}
		return nil
	case settleDeadLetter:
		return fmt.Errorf("job %s: %w: %s: %s", d.Job.ID, ErrHostedDeadLetter, o.reason, o.description)
	case settleAbandon:
		return fmt.Errorf("job %s: %w: %s", d.Job.ID, ErrHostedAbandon, o.description)
	}
	return nil
}

// Run invokes h on d with the pool's panic handling (see Pool)
// and returns its settlement. For hosts that deliver jobs themselves (the
// Functions host), to be followed by SettleHosted.
func Run(ctx context.Context, h Handler, d Delivery) Settlement {
	o, _ := invoke(ctx, h, d)
	return o
}
