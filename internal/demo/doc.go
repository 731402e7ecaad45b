// Package demo plays the private link guide's story on the embedded sandbox,
// with nothing installed beyond Go: the assembled autopilot (pkg/autopilot)
// over the sandbox's ARM (through the production Azure adapters), the
// embedded job queue on a simulated clock, and the sandbox network (per-VNet
// DNS and a FHIR server) for the production verification checks.
//
// Run prints a readable, timed transcript while it plays:
//
//  1. an app team's manual endpoint request from an allowed subscription is
//     approved by a policy rule, gets a DNS zone group, its VNet is linked;
//  2. a request from an unknown subscription is rejected, with the reason;
//  3. a VNet peered with the hub appears and is linked;
//  4. verification: before the link the new VNet resolves the public address
//     (diagnosed), after it the private one; /metadata answers with a FHIR
//     CapabilityStatement; public access is refused;
//  5. a summary of decisions, links and checks, ARM calls and time per event.
//
// Every step's outcome is asserted against the sandbox state and the
// verification reports; Result.OK is false (and Result.Problems says what
// differed) when the story did not go as expected. `handler demo` and
// `make demo` exit 1 then.
package demo
