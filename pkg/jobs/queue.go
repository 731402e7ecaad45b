package jobs

import (
	"context"
	"time"
)

// Sender puts jobs on a queue. A job whose ID was already sent within the
// queue's duplicate-detection window is silently collapsed (nil error).
// A non-zero Job.NotBefore schedules the job for that time.
type Sender interface {
	Send(ctx context.Context, job Job) error
}

// Delivery is a job received under a peek-lock.
type Delivery struct {
	Job           Job       `json:"job"`
	MessageID     string    `json:"messageId"`
	LockToken     string    `json:"lockToken"`
	DeliveryCount int       `json:"deliveryCount"`
	EnqueuedAt    time.Time `json:"enqueuedAt"`
	LockedUntil   time.Time `json:"lockedUntil"`
}

// Queue is the narrow job-queue interface the core uses. Service Bus and the
// embedded queue implement it with the same semantics.
type Queue interface {
	Sender
	// Receive waits until at least one job is due (or ctx ends) and returns
	// up to max of them, each locked for the queue's lock duration.
	Receive(ctx context.Context, max int) ([]Delivery, error)
	// Complete removes a delivered job.
	Complete(ctx context.Context, d Delivery) error
	// Retry schedules a copy of the job with Attempt+1 after delay and
	// completes the current delivery (abandon would redeliver at once).
	Retry(ctx context.Context, d Delivery, delay time.Duration) error
	// DeadLetter moves the job to the dead-letter store with a reason.
	DeadLetter(ctx context.Context, d Delivery, reason, description string) error
}
