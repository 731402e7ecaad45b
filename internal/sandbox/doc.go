// Package sandbox is an in-memory Azure subscription (or several) for tests,
// the demo and policy dry-runs. It serves ARM resources loaded from a scenario
// file through the Azure SDK's own generated fake servers
// (armhealthcareapis/fake, armnetwork/v7/fake, armprivatedns/fake), so the
// production adapters run unchanged on top of it with real SDK clients: the
// SDK's serialisation, long-running-operation pollers, retry policy and error
// mapping all execute.
//
// The sandbox behaves like ARM where the autopilot depends on it: writes are
// visible to later reads, approving a connection on a FHIR target updates the
// endpoint's manual connection, a DNS zone group on an approved endpoint
// creates the A records, VNet links and record sets carry ETags honouring
// If-Match / If-None-Match, missing resources answer 404 with ARM's error body.
// A fault and load model (latency, injected errors, ARM's per-subscription
// token buckets) and per-operation accounting sit in front of the fakes.
package sandbox
