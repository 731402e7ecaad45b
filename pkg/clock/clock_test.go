package clock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
)

var t0 = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)

func fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// Queues assume time never goes back: a backwards or zero move is ignored
// and wakes nobody.
func TestFakeNeverGoesBackwards(t *testing.T) {
	c := clock.NewFake(t0)
	ch := c.Changed()
	c.Set(t0.Add(-time.Hour))
	c.Set(t0)
	if got := c.Advance(-time.Minute); !got.Equal(t0) {
		t.Errorf("Advance(-1m) = %s, want %s (unchanged)", got, t0)
	}
	if !c.Now().Equal(t0) {
		t.Errorf("Now = %s after backwards moves, want %s", c.Now(), t0)
	}
	if fired(ch) {
		t.Error("Changed fired although the clock did not move")
	}
}

// A queue waiting on Changed wakes when simulated time moves, by Set,
// Advance or Sleep, and each change gets a fresh channel.
func TestFakeWakesWaitersOnEveryMove(t *testing.T) {
	c := clock.NewFake(t0)
	for i, move := range []func(){
		func() { c.Set(t0.Add(time.Minute)) },
		func() { c.Advance(time.Minute) },
		func() { c.Sleep(time.Minute) },
	} {
		ch := c.Changed()
		move()
		if !fired(ch) {
			t.Errorf("move %d: Changed did not fire", i)
		}
		if fired(c.Changed()) {
			t.Errorf("move %d: the next Changed channel is already closed", i)
		}
	}
	if want := t0.Add(3 * time.Minute); !c.Now().Equal(want) {
		t.Errorf("Now = %s, want %s", c.Now(), want)
	}
}

// Sleeping on a Fake spends simulated time only: an hour of latency takes
// no wall time, and concurrent sleepers add up.
func TestFakeSleepSpendsSimulatedTime(t *testing.T) {
	c := clock.NewFake(t0)
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Sleep(time.Hour) })
	}
	wg.Wait()
	if wall := time.Since(start); wall > 5*time.Second {
		t.Errorf("ten hour-long sleeps took %s of wall time", wall)
	}
	if want := t0.Add(10 * time.Hour); !c.Now().Equal(want) {
		t.Errorf("Now = %s, want %s", c.Now(), want)
	}
}

func TestRealIsTheWallClock(t *testing.T) {
	var c clock.Sleeper = clock.Real{}
	before := time.Now()
	c.Sleep(20 * time.Millisecond)
	now := c.Now()
	if d := now.Sub(before); d < 20*time.Millisecond || d > 10*time.Second {
		t.Errorf("Real slept %s for 20ms", d)
	}
}
