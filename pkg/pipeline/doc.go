// Package pipeline assembles the autopilot's one pipeline: event intake →
// job router → reconcile and verify queues → the reconciler and the
// verification runner → outcome sinks, with the sweep that recovers what
// events missed. Functions mode, `handler local`, the Functions-mode
// sandbox, `handler replay`, the demo and the load test all build it with
// New; they differ only in what they inject (queues, clock, back-off
// jitter, the verification runner, hooks that count or record, the
// reconciler's parallel reads) and in how they run the queues: the
// Functions host's triggers, RunStandalone's worker pools, or jobs.Drain on
// a simulated clock with Handle.
package pipeline
