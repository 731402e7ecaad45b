package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"sync"
	"time"

	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
)

// Default queue names (the same as the Service Bus queues).
const (
	DefaultReconcileQueue = "reconcile"
	DefaultVerifyQueue    = "verify"
)

// StandaloneOptions configure RunStandalone.
type StandaloneOptions struct {
	// Store holds the reconcile and verify queues; the Service's Reconcile
	// and Verify senders must be queues of this store with these names.
	Store          *embedded.Store
	ReconcileQueue string // DefaultReconcileQueue when empty
	VerifyQueue    string // DefaultVerifyQueue when empty
	// Workers bounds the jobs of each queue running at once (1 when zero).
	Workers int
	// SweepInterval runs a sweep at start and then on this period; zero or
	// negative runs no sweeps.
	SweepInterval time.Duration
	// Grace is how long running jobs may finish after ctx ends (30s when
	// zero).
	Grace time.Duration
	Log   zerolog.Logger
}

// errNoStore: RunStandalone without a queue store.
var errNoStore = errors.New("autopilot: standalone: no queue store")

// RunStandalone runs the reconcile and verify workers on the embedded
// queues (a jobs.Pool each) and the sweep ticker until ctx ends, then lets
// running jobs finish (up to Grace). It returns nil after a shutdown, or the first error that stopped a
// worker loop.
func (p *Pipeline) RunStandalone(ctx context.Context, o StandaloneOptions) error {
	if o.Store == nil {
		return errNoStore
	}
	if o.ReconcileQueue == "" {
		o.ReconcileQueue = DefaultReconcileQueue
	}
	if o.VerifyQueue == "" {
		o.VerifyQueue = DefaultVerifyQueue
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	run := func(i int, name string, h jobs.Handler) {
		defer wg.Done()
		pool := jobs.Pool{Queue: o.Store.Queue(name), Handler: h, Concurrency: o.Workers, Grace: o.Grace,
			Log: o.Log.With().Str("queue", name).Logger()}
		if err := pool.Run(ctx); err != nil {
			errs[i] = fmt.Errorf("%s workers: %w", name, err)
			cancel()
		}
	}
	wg.Add(2)
	go run(0, o.ReconcileQueue, p.Reconcile)
	go run(1, o.VerifyQueue, p.Verify)
	if o.SweepInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.sweepLoop(ctx, o.SweepInterval, o.Log)
		}()
	}
	o.Log.Info().Int("workers", o.Workers).Dur("sweepInterval", o.SweepInterval).Msg("standalone workers running")
	wg.Wait()
	o.Log.Info().Msg("standalone workers stopped")
	return errors.Join(errs...)
}

func (p *Pipeline) sweepLoop(ctx context.Context, every time.Duration, log zerolog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		res, err := p.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			log.Error().Err(err).Int("enqueued", len(res.Enqueued)).Msg("sweep failed")
		} else if err == nil {
			log.Info().Int("targets", res.Targets).Int("vnets", res.VNets).Int("enqueued", len(res.Enqueued)).
				Int("reads", res.Reads).Msg("sweep done")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
