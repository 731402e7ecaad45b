package jobs

import (
	"sync"
	"time"
)

// Clock tells the time. Queues and the worker take one so that tests, scenario
// runs and benchmarks can drive lock expiry and schedules with a FakeClock.
type Clock interface {
	Now() time.Time
}

// SystemClock returns the wall clock.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// Notifier is implemented by clocks that change by themselves in steps (a
// FakeClock): Changed returns a channel closed at the next change, so that
// something waiting for a due time wakes when simulated time moves.
type Notifier interface {
	Changed() <-chan struct{}
}

// Settable is a clock that can be set, used by Drain to jump to the next
// scheduled job instead of waiting.
type Settable interface {
	Clock
	Set(t time.Time)
}

// FakeClock is a settable clock for tests, scenario replays and benchmarks.
// It only moves when told to. It is safe for concurrent use.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	changed chan struct{}
}

// NewFakeClock returns a FakeClock set to t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, changed: make(chan struct{})}
}

// Now returns the clock's current time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t; it never moves it backwards (an earlier t is
// ignored), as queues assume time does not go back.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.After(c.now) {
		return
	}
	c.now = t
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock forward by d and returns the new time.
func (c *FakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	t := c.now.Add(d)
	c.mu.Unlock()
	c.Set(t)
	return c.Now()
}

// Changed returns a channel that is closed when the clock next moves.
func (c *FakeClock) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}
