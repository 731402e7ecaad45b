package clock

import (
	"sync"
	"time"
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Sleeper is a Clock that can wait: on the wall clock Sleep blocks, on
// simulated time it moves that time.
type Sleeper interface {
	Clock
	Sleep(d time.Duration)
}

// Notifier is implemented by clocks that change by themselves in steps (a
// Fake): Changed returns a channel closed at the next change, so that
// something waiting for a due time wakes when simulated time moves.
type Notifier interface {
	Changed() <-chan struct{}
}

// Settable is a clock that can be set: jobs.Drain jumps it to the next
// scheduled job instead of waiting.
type Settable interface {
	Clock
	Set(t time.Time)
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sleep calls time.Sleep.
func (Real) Sleep(d time.Duration) { time.Sleep(d) }

// Fake is a settable clock for tests, scenario replays, the demo and
// benchmarks. It only moves when told to, never backwards. It is safe for
// concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	changed chan struct{}
}

// NewFake returns a Fake set to t.
func NewFake(t time.Time) *Fake {
	return &Fake{now: t, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t; it never moves it backwards (an earlier t is
// ignored), as queues assume time does not go back.
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.now) {
		return
	}
	c.now = t
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d (not at all when d is not positive)
// and returns the new time.
func (c *Fake) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	t := c.now.Add(d)
	c.mu.Unlock()
	c.Set(t)
	return c.Now()
}

// Sleep advances the clock by d without blocking: a caller sleeping on a
// Fake spends simulated time, not wall time.
func (c *Fake) Sleep(d time.Duration) { c.Advance(d) }

// Changed returns a channel that is closed when the clock next moves.
func (c *Fake) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

var (
	_ Sleeper  = Real{}
	_ Sleeper  = (*Fake)(nil)
	_ Settable = (*Fake)(nil)
	_ Notifier = (*Fake)(nil)
)
