// Package clock is the one time source of the autopilot: the queues, the
// worker's drain, the Service Bus adapter and the dev harnesses (the
// sandbox's latency and token buckets, the load generator's simulated time)
// all take a Clock, so that tests, scenario replays, the demo and the bench
// run on time they control.
//
//   - Clock tells the time; Real is the wall clock.
//   - Sleeper is a Clock that can also wait (the sandbox sleeps its
//     latency on one).
//   - Settable and Notifier are what a Fake adds: jobs.Drain jumps a
//     Settable clock to the next scheduled job, and the embedded queue
//     wakes on a Notifier's change instead of polling.
//   - Fake only moves when told to (Set, Advance, or Sleep, which advances
//     it at once). internal/loadtest's SimClock, a discrete-event clock,
//     is a Sleeper that keeps a Fake in step for the queue.
//
// The package imports nothing but the standard library.
package clock
