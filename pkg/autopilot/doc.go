// Package autopilot is the autopilot's HTTP API over the pipeline
// (pkg/pipeline) it builds with pipeline.New: a dry-run evaluation of one
// private endpoint connection, on-demand verification, a status page of
// recent changes and counters (kept through the pipeline's hooks), and the
// estate (Estate, GET /api/targets): every governed target with its
// connections and why, the VNets that must reach it with their link state
// per needed zone and last verification, and a health; in JSON and as
// plain HTML a person can read, with a server-rendered SVG picture (no
// script). The same Service runs under the Functions host (handlers/fn_*.go),
// standalone (`handler local`) and in the demo; only the wiring of its
// Config differs. Its job handlers are the pipeline's.
//
// The Service fails closed: without a policy it is not built at all.
package autopilot
