package jobs

import (
	"time"

	"github.com/plautopilot/autopilot/pkg/clock"
)

// The queues' and Drain's time source is pkg/clock; these names are the
// same types under the names the jobs API has used (DrainOptions.Clock,
// embedded.Options.Clock). New code uses pkg/clock.
type (
	// Clock tells the time (clock.Clock).
	Clock = clock.Clock
	// Notifier is a clock that says when it changes (clock.Notifier).
	Notifier = clock.Notifier
	// Settable is a clock Drain can set (clock.Settable).
	Settable = clock.Settable
	// FakeClock is simulated time for tests and replays (clock.Fake).
	FakeClock = clock.Fake
)

// SystemClock returns the wall clock (clock.Real).
func SystemClock() Clock { return clock.Real{} }

// NewFakeClock returns a clock.Fake set to t.
func NewFakeClock(t time.Time) *FakeClock { return clock.NewFake(t) }
