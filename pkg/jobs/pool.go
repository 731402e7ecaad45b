package jobs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Pool runs Handler on the jobs of Queue, at most Concurrency at once,
// until the context of Run ends.
//
// Shutdown: when the context ends no more jobs are received; running
// handlers get Grace to finish and their settlements are applied. After the
// grace period their contexts are cancelled and their locks released
// (Abandon when the queue supports it, else left to expire); what such a
// handler returns later is discarded.
//
// Receive errors other than ErrClosed are logged and retried with back-off
// (1s doubling to 30s). Settle errors are logged: a lost lock means the job
// is delivered again, which idempotent handlers tolerate. A handler panic is
// settled as invoke says (released once, then dead-lettered).
type Pool struct {
	Queue   Queue
	Handler Handler
	// Concurrency bounds the handlers running at once (default 1).
	Concurrency int
	// Grace is how long running handlers may take to finish after shutdown
	// begins (default 30s).
	Grace time.Duration
	// SettleTimeout bounds each settle call (default 30s).
	SettleTimeout time.Duration
	Log           zerolog.Logger
}

// Run receives and handles jobs until ctx ends, then shuts down (see
// Pool). It returns nil after a shutdown, or the error that stopped
// receiving (ErrClosed).
func (p Pool) Run(ctx context.Context) error {
	r := p.newRun(ctx)
	defer r.cancelHandlers()
	err := r.receive(ctx)
	r.shutdown(ctx)
	return err
}

// poolRun is the state of one Run.
type poolRun struct {
	Pool
	slots          chan struct{} // one token per running handler
	handlerCtx     context.Context
	cancelHandlers context.CancelFunc

	mu      sync.Mutex
	running map[string]*handling // by lock token and message id
	wg      sync.WaitGroup
}

// handling is one delivery a handler is working on.
type handling struct {
	d        Delivery
	released bool // its lock was released on shutdown; its settlement is discarded
}

func (p Pool) newRun(ctx context.Context) *poolRun {
	p.Concurrency = max(p.Concurrency, 1)
	if p.Grace <= 0 {
		p.Grace = 30 * time.Second
	}
	if p.SettleTimeout <= 0 {
		p.SettleTimeout = 30 * time.Second
	}
	r := &poolRun{Pool: p, slots: make(chan struct{}, p.Concurrency), running: map[string]*handling{}}
	// handlers outlive ctx by the grace period
	r.handlerCtx, r.cancelHandlers = context.WithCancel(context.WithoutCancel(ctx))
	return r
}

// receive fills free slots with deliveries until ctx ends or the queue
// closes.
func (r *poolRun) receive(ctx context.Context) error {
	var backoff time.Duration
	for ctx.Err() == nil {
		free, ok := r.acquire(ctx)
		if !ok {
			return nil
		}
		ds, err := r.Queue.Receive(ctx, free)
		r.release(free - len(ds))
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case errors.Is(err, ErrClosed):
			return err
		case err != nil:
			backoff = min(max(2*backoff, time.Second), 30*time.Second)
			r.Log.Error().Err(err).Dur("backoff", backoff).Msg("receive failed")
			sleep(ctx, backoff)
			continue
		}
		backoff = 0
		for _, d := range ds {
			r.start(ctx, d)
		}
	}
	return nil
}

// acquire waits for one free slot, then takes the others free now; it
// returns how many it took, or false when ctx ended first.
func (r *poolRun) acquire(ctx context.Context) (int, bool) {
	select {
	case r.slots <- struct{}{}:
	case <-ctx.Done():
		return 0, false
	}
	n := 1
	for n < cap(r.slots) {
		select {
		case r.slots <- struct{}{}:
			n++
		default:
			return n, true
		}
	}
	return n, true
}

// release gives back n slots.
func (r *poolRun) release(n int) {
	for range n {
		<-r.slots
	}
}

// start runs the handler on d in its own goroutine, holding one slot.
func (r *poolRun) start(ctx context.Context, d Delivery) {
	h := &handling{d: d}
	key := d.LockToken + "\x00" + d.MessageID
	r.mu.Lock()
	r.running[key] = h
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.release(1)
		r.handle(ctx, key, h)
	}()
}

// handle runs the handler and settles the delivery, unless its lock was
// released on shutdown meanwhile.
func (r *poolRun) handle(ctx context.Context, key string, h *handling) {
	began := time.Now()
	s, panicked := invoke(r.handlerCtx, r.Handler, h.d)
	if !r.finish(key, h) {
		jobLog(r.Log.Warn(), h.d).Str("outcome", s.String()).Msg("handler finished after its lock was released on shutdown; outcome discarded")
		return
	}
	if panicked {
		jobLog(r.Log.Error(), h.d).Str("outcome", s.String()).Msg("handler panicked")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.SettleTimeout)
	err := Settle(sctx, r.Queue, h.d, s)
	cancel()
	jobLog(r.settledEvent(s, err), h.d).Str("outcome", s.String()).Dur("took", time.Since(began)).Msg("job handled")
}

// finish removes h from the running handlers; false when shutdown already
// released its lock.
func (r *poolRun) finish(key string, h *handling) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, key)
	return !h.released
}

// settledEvent is the log level of a settled delivery: errors and dead
// letters are errors, retries and releases warnings, a lost lock a warning.
func (r *poolRun) settledEvent(s Settlement, err error) *zerolog.Event {
	switch {
	case err != nil && errors.Is(err, ErrLockLost):
		return r.Log.Warn().Err(err)
	case err != nil:
		return r.Log.Error().Err(err)
	case s.kind == settleDeadLetter:
		return r.Log.Error()
	case s.kind == settleRetry || s.kind == settleAbandon:
		return r.Log.Warn()
	}
	return r.Log.Info()
}

// shutdown waits up to Grace for the running handlers, then cancels the
// rest and releases their locks.
func (r *poolRun) shutdown(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	t := time.NewTimer(r.Grace)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	r.cancelHandlers()
	for _, d := range r.releaseRunning() {
		r.abandon(ctx, d)
	}
}

// releaseRunning marks every running handler released and returns their
// deliveries.
func (r *poolRun) releaseRunning() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Delivery
	for _, h := range r.running {
		h.released = true
		out = append(out, h.d)
	}
	return out
}

// abandon releases the lock of a delivery whose handler outlived the grace
// period, when the queue can; else the lock expires.
func (r *poolRun) abandon(ctx context.Context, d Delivery) {
	a, ok := r.Queue.(Abandoner)
	if !ok {
		jobLog(r.Log.Warn(), d).Msg("handler still running after the grace period; its lock will expire")
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.SettleTimeout)
	err := a.Abandon(sctx, d)
	cancel()
	ev := r.Log.Warn()
	if err != nil {
		ev = r.Log.Error().Err(err)
	}
	jobLog(ev, d).Msg("handler still running after the grace period; lock released")
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
