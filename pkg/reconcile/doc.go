// Package reconcile is the autopilot's core: it converges one subject (a
// protected FHIR target, a private endpoint, a VNet or a private DNS zone) to
// what the policy says, whatever order events arrive in and however often
// they repeat, and sweeps governed subscriptions for what events missed.
//
// Handling a job has four steps, in the manner of cert-manager:
//
//   - gather: read the world through core.Reader, each resource at most once
//     per job (State);
//   - plan: a pure function of the State and the Policy (ComputePlan) that
//     returns a Plan, plain data with json tags: approve, reject, leave
//     pending, create, update or remove a VNet link, add a DNS zone group,
//     schedule a verification, enqueue a follow-up job. Each Action is built
//     by the constructor of its kind (changes.go) with a typed payload, so a
//     change that lacks what it writes cannot be expressed;
//   - apply: the only step that writes (core.Writer, jobs.Sender), switching
//     on each change's payload; skipped entirely in audit mode;
//   - record: one outcome event per decision and change (pkg/outcome).
//
// A Plan rerun on a converged state has no changes: Plan.Changes() lists ARM
// writes only, observations (connections left pending, notes) and follow-ups
// never count. DryRunJob and DryRunConnection run gather and plan alone:
// `policy explain` and /api/evaluate show the reconciler's own decision.
// Behaviour that depends on why a job exists follows its trigger
// (jobs.Job.Trigger), never its Reason note. The package imports no Azure SDK; it declares the small Policy
// interface it needs so tests can use the real policy or a fake.
package reconcile
