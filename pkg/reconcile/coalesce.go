package reconcile

import (
	"fmt"
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

// DefaultDeferBy is the first wait of a job whose subject is reconciled by
// another worker; each further deferral of the same job doubles it, up to
// DefaultDeferMax. The wait is only a safety net: the job is woken as soon
// as the running job of its subject ends (when the queue is a jobs.Waker),
// so a short subject costs one deferral and no polling.
const (
	DefaultDeferBy  = 2 * time.Second
	DefaultDeferMax = 30 * time.Second
)

// Coalescer is the work-queue deduplication of a level-triggered
// controller, kept in the process that runs the workers (Config.Coalesce):
//
//   - a reconcile job whose subject (subject kind, id, deleted flag, peering
//     or not) had a fully successful reconcile that *started* after the job
//     was created (Job.Created, else the delivery's EnqueuedAt) is completed
//     without work: that reconcile read the world after the event happened,
//     and a reconcile re-reads everything, so it covered the job;
//   - a job whose subject is being reconciled by another worker is
//     deferred (a copy with the same attempt is sent for later and the
//     delivery completes) rather than run concurrently. The copy waits
//     DeferBy, doubled on each further deferral up to DeferMax, and is woken
//     at once when the subject's running job ends (Wake on a queue that is a
//     jobs.Waker): it then completes as covered or runs.
//
// It is safe because coverage is decided from start times only (never from
// a job's content), and a job is skipped only after a run that completed
// every change without error. The state is per process: with several
// processes (Functions scale-out) each coalesces its own deliveries, and
// the rest run as before. Verification jobs are never coalesced here.
type Coalescer struct {
	// DeferBy is the first wait of a job whose subject is busy (default
	// DefaultDeferBy); DeferMax caps the doubling (default DefaultDeferMax).
	DeferBy, DeferMax time.Duration

	mu       sync.Mutex
	lastGood map[string]time.Time
	inflight map[string]bool
	waiting  map[string][]string // key -> ids of deferred copies to wake
}

// NewCoalescer returns an empty Coalescer.
func NewCoalescer() *Coalescer {
	return &Coalescer{lastGood: map[string]time.Time{}, inflight: map[string]bool{}, waiting: map[string][]string{}}
}

// CoalesceKey names what a job reconciles: subject, id, and the flags that
// change what the reconciler does (a deleted subject, a peering event).
func CoalesceKey(j jobs.Job) string {
	peering := j.EffectiveTrigger() == jobs.TriggerPeering
	key := fmt.Sprintf("%s|%s|%t|%t", j.Subject, core.IDKey(j.TargetID), j.Deleted, peering)
	if j.PrivateVerified {
		// only a run that knew private access was verified may close public
		// access: other reconciles of the target do not cover it
		key += "|verified"
	}
	return key
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
		c.lastGood, c.inflight, c.waiting = map[string]time.Time{}, map[string]bool{}, map[string][]string{}
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

// done ends the run of key and returns the deferred copies to wake.
func (c *Coalescer) done(key string, began time.Time, good bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.inflight, key)
	if good && began.After(c.lastGood[key]) {
		c.lastGood[key] = began
	}
	ids := c.waiting[key]
	delete(c.waiting, key)
	return ids
}

// wait registers a deferred copy (sent already) to be woken when the run of
// key ends. It returns false when no run of key is in progress any more:
// the caller wakes the copy itself.
func (c *Coalescer) wait(key, id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.inflight[key] {
		return false
	}
	if c.waiting == nil {
		c.waiting = map[string][]string{}
	}
	c.waiting[key] = append(c.waiting[key], id)
	return true
}

// deferBy is the wait before the copy of a job deferred n times already.
func (c *Coalescer) deferBy(n int) time.Duration {
	d, top := c.DeferBy, c.DeferMax
	if d <= 0 {
		d = DefaultDeferBy
	}
	if top <= 0 {
		top = DefaultDeferMax
	}
	for i := 0; i < n && d < top; i++ {
		d *= 2
	}
	return min(d, top)
}
