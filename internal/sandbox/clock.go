package sandbox

import "github.com/plautopilot/autopilot/pkg/clock"

// Clock is the time source of the sandbox: latency sleeps and token-bucket
// refills use it, so tests and the bench run on simulated time (a
// clock.Fake, or internal/loadtest's SimClock).
type Clock = clock.Sleeper

// RealClock is the wall clock, the default (clock.Real).
type RealClock = clock.Real
