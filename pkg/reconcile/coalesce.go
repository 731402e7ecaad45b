package reconcile

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Settlement reasons of coalesced jobs (Disposition.Reason).
const (
	// ReasonCoalesced: a fully successful reconcile of the same subject
	// started after the job was created, so it saw everything the job was
	// sent for; the job completes without reading anything.
	ReasonCoalesced = "Coalesced"
	// ReasonDeferred: another worker of this process is reconciling the
	// same subject; a copy of the job runs after Coalescer.DeferBy.
	ReasonDeferred = "Deferred"
)

// DefaultDeferBy is how long a job waits while its subject is reconciled
// by another worker. Short: a deferred job costs a queue round trip and no
// ARM call, while a long wait leaves a converged queue busy for nothing.
const DefaultDeferBy = 4 * time.Second

// Coalescer is the work-queue deduplication of a level-triggered
// controller, kept in the process that runs the workers (Config.Coalesce):
//
//   - a reconcile job whose subject (subject kind, id, deleted flag, peering
//     or not) had a fully successful reconcile that *started* after the job
//     was created (Job.Created, else the delivery's EnqueuedAt) is completed
//     without work: that reconcile read the world after the event happened,
//     and a reconcile re-reads everything, so it covered the job;
//   - a job whose subject is being reconciled by another worker is
//     deferred (a copy with the same attempt is sent for DeferBy later and
//     the delivery completes) rather than run concurrently.
//
// It is safe because coverage is decided from start times only (never from
// a job's content), and a job is skipped only after a run that completed
// every change without error. The state is per process: with several
// processes (Functions scale-out) each coalesces its own deliveries, and
// the rest run as before. Verification jobs are never coalesced here.
type Coalescer struct {
	// DeferBy is the retry delay of a job whose subject is busy (default
	// DefaultDeferBy).
	DeferBy time.Duration

	mu       sync.Mutex
	lastGood map[string]time.Time
	inflight map[string]bool
}

// NewCoalescer returns an empty Coalescer.
func NewCoalescer() *Coalescer {
	return &Coalescer{lastGood: map[string]time.Time{}, inflight: map[string]bool{}}
}

// CoalesceKey names what a job reconciles: subject, id, and the flags that
// change what the reconciler does (a deleted subject, a peering event).
func CoalesceKey(j jobs.Job) string {
	peering := strings.Contains(strings.ToLower(j.Reason), "virtualnetworkpeerings")
	return fmt.Sprintf("%s|%s|%t|%t", j.Subject, core.IDKey(j.TargetID), j.Deleted, peering)
}

type admission int

const (
	admitRun admission = iota
	admitCovered
	admitBusy
)

func (c *Coalescer) admit(key string, created time.Time) admission {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastGood == nil {
		c.lastGood, c.inflight = map[string]time.Time{}, map[string]bool{}
	}
	if t, ok := c.lastGood[key]; ok && !created.IsZero() && t.After(created) {
		return admitCovered
	}
	if c.inflight[key] {
		return admitBusy
	}
	c.inflight[key] = true
	return admitRun
}

func (c *Coalescer) done(key string, began time.Time, good bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	if good && began.After(c.lastGood[key]) {
		c.lastGood[key] = began
	}
}

func (c *Coalescer) deferBy() time.Duration {
	if c.DeferBy > 0 {
		return c.DeferBy
	}
	return DefaultDeferBy
}
