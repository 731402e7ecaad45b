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
package main
