package core

import (
	"context"
	"time"
)

type retryBudgetKey struct{}

// WithRetryBudget returns a context telling the adapters how long the
// caller (one reconcile job) can afford to wait for transient ARM failures:
// an adapter retries a call that failed transiently only while the wait
// still ends before until. Past it the error goes back to the caller, which
// reschedules the job. A budget already in ctx that ends earlier is kept.
func WithRetryBudget(ctx context.Context, until time.Time) context.Context {
	if cur, ok := RetryBudget(ctx); ok && cur.Before(until) {
		return ctx
	}
	return context.WithValue(ctx, retryBudgetKey{}, until)
}

// RetryBudget returns the end of the retry budget ctx carries, if any.
func RetryBudget(ctx context.Context) (time.Time, bool) {
	t, ok := ctx.Value(retryBudgetKey{}).(time.Time)
	return t, ok
}
