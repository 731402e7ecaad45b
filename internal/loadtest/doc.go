// Package loadtest measures the autopilot's whole pipeline under a landing
// zone's worth of events: a generator of scenarios (workspaces, spokes peered
// to a hub, endpoint requests from allowed and unknown subscriptions) with
// their Event Grid event stream (duplicates, reordering, drops) and a policy;
// a runner that pushes the events through the intake onto an embedded queue
// and reconciles them with bounded concurrency against the sandbox under
// ARM's per-subscription token buckets and per-call latency, on a simulated
// discrete-event clock; a fault run (injected 429/500/409, killed workers,
// duplicate deliveries); and an invariant checker comparing the end state
// with what the policy says. `handler bench` and the tests drive it; the
// measured numbers are in docs/scale.md.
package loadtest
