// Package policy is the autopilot's policy engine: it loads the reviewed
// policy file (YAML), compiles its CEL conditions once, and answers the
// questions the reconciler asks - which targets are governed, what to do with
// a private endpoint connection (approve, reject, or leave pending for a
// human) and why, which VNets to link to which managed private DNS zones, and
// the zone-group, verification and mode settings.
//
// The engine fails closed. A policy that does not load, validate and compile
// completely yields an error and no *Policy, so a process with a bad policy
// has nothing to act with. Approval is never the default, never the result
// of an evaluation error, and never given to an endpoint that could not be
// read unless a rule explicitly allows unreadable endpoints.
//
// Evaluation is pure: no I/O, no clock; the caller gathers the facts into a
// ConnectionInput or LinkInput first. docs/policy.md is the file reference.
package policy
