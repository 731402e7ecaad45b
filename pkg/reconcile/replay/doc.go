// Package replay runs ARM events through the whole pipeline offline: event
// intake, an embedded job queue on a simulated clock, and the reconciler
// against a sandbox ARM. It backs `handler replay` and the scenario tests:
// events + starting scenario + policy in, every action and the final state
// out. Verification jobs are queued and counted but not run (pkg/verify is
// not wired here).
package replay
