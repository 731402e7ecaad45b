// Command handler is the Private Link Autopilot binary: the Azure Functions
// custom handler (no arguments, or `serve`), the standalone service (`local`),
// the demo, and the CLI (`replay`, `verify`, `policy check|explain`, `bench`).
//
// It is the thin layer over pkg/: server.go speaks the Functions host's
// protocol (pkg/funchost), fn_*.go are the five functions, cmd_*.go the
// subcommands, and app.go is the only place that reads the environment and
// wires credentials, clients, queues and the policy into a pkg/autopilot
// Service (standalone.go is the assembly `local` and the Functions-mode
// sandbox, AUTOPILOT_SANDBOX, share).
//
// Two builds: the default one has everything; `-tags production` (make
// build, the binary make stage deploys) leaves out the dev harnesses under
// internal/ (sandbox, demo, load generator) and the SDK's fake servers, and
// answers demo, bench, replay, --sandbox and AUTOPILOT_SANDBOX with an error
// naming the build (build.go, build_dev.go, build_production.go).
package main
