package sandbox

import (
	"sync"
	"time"
)

// Clock is the time source of the sandbox: latency sleeps and token-bucket
// refills use it, so benchmarks can run on simulated time.
type Clock interface {
	Now() time.Time
	Sleep(d time.Duration)
}

// RealClock is the wall clock.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// Sleep calls time.Sleep.
func (RealClock) Sleep(d time.Duration) { time.Sleep(d) }

// FakeClock is simulated time: Sleep advances it instantly, Advance moves it
// forward explicitly. Safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a FakeClock starting at start (or at a fixed date when
// start is zero).
func NewFakeClock(start time.Time) *FakeClock {
	if start.IsZero() {
		start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	}
	return &FakeClock{now: start}
}

// Now returns the simulated time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Sleep advances the simulated time by d without blocking.
func (c *FakeClock) Sleep(d time.Duration) { c.Advance(d) }

// Advance moves the simulated time forward by d.
func (c *FakeClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
