package jobs

import (
	"context"
	"errors"
	"time"
)

// ErrLockLost is returned when a delivery is settled (completed, retried,
// dead-lettered, abandoned) after its lock expired or was taken over by a
// redelivery. The job will be (or already was) delivered again; handlers are
// idempotent, so the right reaction is to log and move on.
var ErrLockLost = errors.New("lock lost")

// ErrClosed is returned by queue operations after the queue's store was closed.
var ErrClosed = errors.New("queue closed")

// Dead-letter reasons set by the queues themselves (handlers choose their own).
const (
	// DeadLetterReasonMaxDelivery: delivered MaxDeliveries times without being
	// settled (lock expired or abandoned each time). Same text as Service Bus.
	DeadLetterReasonMaxDelivery = "MaxDeliveryCountExceeded"
	// DeadLetterReasonPanic: the handler panicked on two deliveries.
	DeadLetterReasonPanic = "HandlerPanic"
)

// Abandoner is implemented by queues that can release a lock at once, making
// the job available again with its delivery count kept (Service Bus abandon).
// Used on shutdown and after a handler panic.
type Abandoner interface {
	Abandon(ctx context.Context, d Delivery) error
}

// Stats is a snapshot of a queue's depth.
type Stats struct {
	Active       int `json:"active"`       // due now and not locked
	Scheduled    int `json:"scheduled"`    // due later
	Locked       int `json:"locked"`       // delivered, lock not yet expired
	DeadLettered int `json:"deadLettered"` // in the dead-letter store
	// NextDue is the earliest time a job that is not active now becomes
	// receivable (a scheduled time or a lock expiry); zero if none.
	NextDue time.Time `json:"nextDue,omitzero"`
}

// Pending is the number of jobs not yet settled.
func (s Stats) Pending() int { return s.Active + s.Scheduled + s.Locked }

// StatsReporter is implemented by queues that can report their depth (the
// embedded queue). Drain needs it.
type StatsReporter interface {
	Stats(ctx context.Context) (Stats, error)
}

// DeadLetter is a job in a dead-letter store, with why it is there.
type DeadLetter struct {
	Job            Job       `json:"job"`
	MessageID      string    `json:"messageId"`
	Reason         string    `json:"reason"`
	Description    string    `json:"description,omitempty"`
	DeliveryCount  int       `json:"deliveryCount"`
	EnqueuedAt     time.Time `json:"enqueuedAt,omitzero"`
	DeadLetteredAt time.Time `json:"deadLetteredAt,omitzero"`
	// Body is the raw message body when it could not be decoded as a job
	// (Job is then zero).
	Body []byte `json:"body,omitempty"`
}

// DeadLetterLister is implemented by queues that can list their dead letters.
type DeadLetterLister interface {
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
}

// Waker is implemented by queues that can make scheduled jobs due at once
// (the embedded queue). The reconciler uses it to wake jobs it deferred
// while their subject was busy as soon as the subject's running job ends;
// without it a deferred job waits out its back-off. Ids that are not
// scheduled (unknown, already due, delivered) are ignored.
type Waker interface {
	Wake(ctx context.Context, ids ...string) error
}
