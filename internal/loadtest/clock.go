package loadtest

import (
	"container/heap"
	"sync"
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
)

// SimClock is a discrete-event clock shared by the pipeline's workers, the
// sandbox (latency, token buckets) and the job queue (schedules, locks).
//
// Every goroutine that sleeps on it must be started with Go. Simulated time
// only moves when every such goroutine is asleep on the clock: then it jumps
// to the earliest wake-up time and wakes the sleepers due then. Work between
// sleeps (CPU: JSON, bbolt, the SDK) takes no simulated time; waiting for
// ARM latency, a token or a retry delay takes simulated time and no wall
// time. Time therefore advances deterministically (always to the next
// wake-up, never by a wall-clock measure); which of several workers woken at
// the same instant runs first is up to the Go scheduler.
//
// It is a clock.Sleeper (Now, Sleep: the sandbox's clock) and keeps a
// clock.Fake in step (Queue), which the embedded queue uses.
type SimClock struct {
	mu       sync.Mutex
	queue    *clock.Fake
	now      time.Time
	start    time.Time
	running  int
	sleepers sleepHeap
	seq      int
}

var _ clock.Sleeper = (*SimClock)(nil)

// NewSimClock starts simulated time at t.
func NewSimClock(t time.Time) *SimClock {
	return &SimClock{queue: clock.NewFake(t), now: t, start: t}
}

// Queue is the jobs clock to give the embedded queue: it moves with the
// simulated time.
func (c *SimClock) Queue() *clock.Fake { return c.queue }

// Now is the simulated time.
func (c *SimClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Elapsed is the simulated time since the clock started.
func (c *SimClock) Elapsed() time.Duration { return c.Now().Sub(c.start) }

// Go runs f as a participant: simulated time waits for it whenever it is
// not asleep on the clock.
func (c *SimClock) Go(wg *sync.WaitGroup, f func()) {
	c.mu.Lock()
	c.running++
	c.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer c.exit()
		f()
	}()
}

func (c *SimClock) exit() {
	c.mu.Lock()
	c.running--
	c.advance()
	c.mu.Unlock()
}

// Sleep blocks the calling participant for d of simulated time.
func (c *SimClock) Sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.sleepUntilLocked(c.now.Add(d))
}

// SleepUntil blocks the calling participant until simulated time t.
func (c *SimClock) SleepUntil(t time.Time) {
	c.mu.Lock()
	if !t.After(c.now) {
		c.mu.Unlock()
		return
	}
	c.sleepUntilLocked(t)
}

// sleepUntilLocked is entered with c.mu held and returns without it.
func (c *SimClock) sleepUntilLocked(t time.Time) {
	ch := make(chan struct{})
	c.seq++
	heap.Push(&c.sleepers, sleeper{at: t, seq: c.seq, ch: ch})
	c.running--
	c.advance()
	c.mu.Unlock()
	<-ch
}

// advance moves time to the earliest wake-up when no participant runs.
// Called with c.mu held.
func (c *SimClock) advance() {
	if c.running > 0 || len(c.sleepers) == 0 {
		return
	}
	t := c.sleepers[0].at
	if t.After(c.now) {
		c.now = t
		c.queue.Set(t)
	}
	for len(c.sleepers) > 0 && !c.sleepers[0].at.After(c.now) {
		s := heap.Pop(&c.sleepers).(sleeper)
		c.running++
		close(s.ch)
	}
}

type sleeper struct {
	at  time.Time
	seq int
	ch  chan struct{}
}

type sleepHeap []sleeper

func (h sleepHeap) Len() int { return len(h) }
func (h sleepHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h sleepHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sleepHeap) Push(x any)   { *h = append(*h, x.(sleeper)) }
func (h *sleepHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Parallel runs fs concurrently as participants and returns when all have
// finished. The calling participant does not count as running meanwhile (it
// only waits), and the last function to finish hands its slot back to the
// caller under the lock, so simulated time cannot slip forward between the
// children ending and the caller going on. The reconciler's gather step uses
// it (reconcile.Config.Parallel) for its concurrent reads.
func (c *SimClock) Parallel(fs ...func()) {
	if len(fs) == 0 {
		return
	}
	done := make(chan struct{})
	c.mu.Lock()
	left := len(fs)
	c.running += len(fs) - 1 // the children run; the caller waits
	c.mu.Unlock()
	for _, f := range fs {
		go func() {
			f()
			c.mu.Lock()
			left--
			if left == 0 {
				close(done) // this child's running slot becomes the caller's
			} else {
				c.running--
				c.advance()
			}
			c.mu.Unlock()
		}()
	}
	<-done
}
