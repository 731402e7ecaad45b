package loadtest

import (
	"sync"
	"testing"
	"time"
)

// A participant's parallel readers sleep on the simulated clock like any
// participant: the caller resumes when the slowest is done, at the
// simulated time that one finished, and time never moves while a child
// still runs.
func TestSimClockParallelChildrenSleepAsParticipants(t *testing.T) {
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	c := NewSimClock(start)
	var wg sync.WaitGroup
	var resumed time.Duration
	var mu sync.Mutex
	var childEnds []time.Duration
	c.Go(&wg, func() {
		fs := make([]func(), 3)
		for i := range fs {
			fs[i] = func() {
				for j := 0; j <= i; j++ { // child i sleeps i+1 times 100 ms
					c.Sleep(100 * time.Millisecond)
				}
				mu.Lock()
				childEnds = append(childEnds, c.Elapsed())
				mu.Unlock()
			}
		}
		c.Parallel(fs...)
		resumed = c.Elapsed()
		c.Sleep(50 * time.Millisecond)
	})
	// another participant sleeping meanwhile must not be starved or rushed
	var other time.Duration
	c.Go(&wg, func() {
		c.Sleep(250 * time.Millisecond)
		other = c.Elapsed()
	})
	wg.Wait()
	if resumed != 300*time.Millisecond {
		t.Errorf("caller resumed at %v, want 300ms (the slowest child: 3 sleeps of 100ms)", resumed)
	}
	if len(childEnds) != 3 {
		t.Fatalf("children ended %v, want 3", childEnds)
	}
	if other != 250*time.Millisecond {
		t.Errorf("the other participant woke at %v, want 250ms", other)
	}
	if got := c.Elapsed(); got != 350*time.Millisecond {
		t.Errorf("clock ended at %v, want 350ms", got)
	}
}
