package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/rs/zerolog"
)

// DrainOptions tunes Drain.
type DrainOptions struct {
	// Clock is the queues' clock. When it is Settable (a clock.Fake), Drain
	// jumps it to the next scheduled time instead of waiting, so scheduled
	// retries run at once in simulated time. Otherwise Drain waits in real
	// time for them.
	Clock clock.Clock
	// MaxDeliveries stops a drain that does not converge (a handler that
	// retries for ever) with an error (default 100000).
	MaxDeliveries int
	// Until, when set, stops the drain before simulated (or real) time would
	// pass it; jobs due later stay queued.
	Until time.Time
	Log   zerolog.Logger
}

// DrainResult counts what a Drain did.
type DrainResult struct {
	Deliveries   int       `json:"deliveries"`
	Completed    int       `json:"completed"`
	Retried      int       `json:"retried"`
	DeadLettered int       `json:"deadLettered"`
	Abandoned    int       `json:"abandoned"`
	LockLost     int       `json:"lockLost"`
	Now          time.Time `json:"now"` // the clock when the drain ended
}

// Drain runs h on every job of the given queues, one at a time in due order
// per queue, until none holds a job that is due, scheduled or locked (or
// opts.Until is reached). It is meant for replays and scenario tests: with a
// clock.Fake as opts.Clock scheduled retries and verifications run without
// waiting, deterministically. Drain must be the queues' only consumer; every
// queue must implement StatsReporter (the embedded queue does).
func Drain(ctx context.Context, h Handler, opts DrainOptions, queues ...Queue) (DrainResult, error) {
	var res DrainResult
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	limit := opts.MaxDeliveries
	if limit <= 0 {
		limit = 100000
	}
	reporters := make([]StatsReporter, len(queues))
	for i, q := range queues {
		sr, ok := q.(StatsReporter)
		if !ok {
			return res, fmt.Errorf("drain: queue %d (%T) cannot report its depth", i, q)
		}
		reporters[i] = sr
	}
	for {
		if err := ctx.Err(); err != nil {
			res.Now = clk.Now()
			return res, fmt.Errorf("drain: %w", err)
		}
		var (
			progressed bool
			pending    int
			next       time.Time
		)
		for i, q := range queues {
			st, err := reporters[i].Stats(ctx)
			if err != nil {
				return res, fmt.Errorf("drain: stats of queue %d: %w", i, err)
			}
			pending += st.Pending()
			if !st.NextDue.IsZero() && (next.IsZero() || st.NextDue.Before(next)) {
				next = st.NextDue
			}
			if st.Active == 0 {
				continue
			}
			rctx, cancel := context.WithTimeout(ctx, time.Second)
			ds, err := q.Receive(rctx, min(st.Active, 64))
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return res, fmt.Errorf("drain: receive from queue %d: %w", i, err)
			}
			for _, d := range ds {
				if res.Deliveries >= limit {
					return res, fmt.Errorf("drain: stopped after %d deliveries without emptying the queues (a job retrying for ever?)", res.Deliveries)
				}
				res.Deliveries++
				progressed = true
				o, panicked := invoke(ctx, h, d)
				if panicked {
					jobLog(opts.Log.Error(), d).Str("outcome", o.String()).Msg("handler panicked")
				}
				if err := Settle(ctx, q, d, o); err != nil {
					if errors.Is(err, ErrLockLost) {
						res.LockLost++
						jobLog(opts.Log.Warn().Err(err), d).Msg("lock lost while settling")
						continue
					}
					return res, fmt.Errorf("drain: settle job %s (%s): %w", d.Job.ID, o, err)
				}
				switch o.kind {
				case settleComplete:
					res.Completed++
				case settleRetry:
					res.Retried++
				case settleDeadLetter:
					res.DeadLettered++
				case settleAbandon:
					res.Abandoned++
				}
				jobLog(opts.Log.Debug(), d).Str("outcome", o.String()).Msg("job handled")
			}
		}
		if progressed {
			continue
		}
		res.Now = clk.Now()
		if pending == 0 {
			return res, nil
		}
		if next.IsZero() || !next.After(res.Now) {
			return res, fmt.Errorf("drain: %d jobs pending but none could be received (another consumer?)", pending)
		}
		if !opts.Until.IsZero() && next.After(opts.Until) {
			return res, nil
		}
		if s, ok := clk.(clock.Settable); ok {
			s.Set(next)
			continue
		}
		t := time.NewTimer(next.Sub(res.Now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}
