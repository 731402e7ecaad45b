// Package replay runs ARM events through the pipeline offline, assembled as
// production assembles it (pkg/pipeline: one router, the coalescer, the
// verification runner): event intake, an embedded job queue on a simulated
// clock, the reconciler against a sandbox ARM, and the verification jobs
// the plans schedule, run through the sandbox network (DNS and FHIR
// listeners) so that their follow-ups (a reconcile of a target whose
// private access passed) appear too. It backs `handler replay` and the
// scenario tests: events + starting scenario + policy in, every action and
// verification in order and the final state out.
package replay
