package pipeline

import (
	"context"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Router is the pipeline's one job router: verification jobs go to Verify,
// every other job to Reconcile. Wake-ups of deferred reconcile jobs pass to
// the reconcile queue when it can wake them (the embedded queue; Service
// Bus cannot, and a deferred job then waits out its back-off).
type Router struct {
	Reconcile, Verify jobs.Sender
	// Sent, when set, is told every job sent.
	Sent func(jobs.Job)
}

// Send puts j on its kind's queue.
func (r Router) Send(ctx context.Context, j jobs.Job) error {
	q := r.Reconcile
	if j.Kind == jobs.KindVerify {
		q = r.Verify
	}
	if err := q.Send(ctx, j); err != nil {
		return err
	}
	if r.Sent != nil {
		r.Sent(j)
	}
	return nil
}

// Wake makes the deferred reconcile jobs ids due now, when the reconcile
// queue is a jobs.Waker.
func (r Router) Wake(ctx context.Context, ids ...string) error {
	if w, ok := r.Reconcile.(jobs.Waker); ok {
		return w.Wake(ctx, ids...)
	}
	return nil
}
