// Package autopilot assembles the whole service from its parts: event intake
// (pkg/events), the reconciler and sweeper (pkg/reconcile), the verification
// job runner, outcome sinks and the job queues. The same Service runs under
// the Functions host (handlers/fn_*.go), standalone (`handler local`) and in
// the demo; only the wiring of its Config differs.
//
// It also serves the small HTTP API (API): a dry-run evaluation of one
// private endpoint connection, on-demand verification and a status page,
// in JSON and as plain HTML a person can read.
//
// The Service fails closed: without a policy it is not built at all.
package autopilot
