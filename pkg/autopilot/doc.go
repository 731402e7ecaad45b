// Package autopilot assembles the whole service from its parts: event intake
// (pkg/events), the reconciler and sweeper (pkg/reconcile), the verification
// job runner, outcome sinks and the job queues. The same Service runs under
// the Functions host (handlers/fn_*.go), standalone (`handler local`) and in
// the demo; only the wiring of its Config differs.
//
// It also serves the small HTTP API (API): a dry-run evaluation of one
// private endpoint connection, on-demand verification, a status page of
// recent changes, and the estate (Estate, GET /api/targets): every governed
// target with its connections and why, the VNets that must reach it with
// their link state per needed zone and last verification, and a health;
// in JSON and as plain HTML a person can read, with a server-rendered SVG
// picture (no script).
//
// The Service fails closed: without a policy it is not built at all.
package autopilot
