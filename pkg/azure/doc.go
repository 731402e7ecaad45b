// Package azure is the production implementation of core.Reader and
// core.Writer over the Azure SDK for Go: armhealthcareapis (workspaces,
// legacy FHIR services, their private endpoint connections and workspace
// FHIR services), armnetwork/v7 (private endpoints with their NICs and DNS
// zone groups, virtual networks and peerings) and armprivatedns (zones, VNet
// links and A record sets).
//
// The package is an edge: it translates SDK models into pkg/core types and
// guards every SDK pointer while doing so; nothing above it sees an SDK type.
// ARM failures are classified once (classify) into *core.Error values that
// tell callers whether to retry (and after how long), give up, or treat the
// resource as gone. Transient failures are first retried inside the call
// (retry.go, RetryOptions): after the server's Retry-After or a jittered
// back-off, while the wait fits in the caller's budget
// (core.WithRetryBudget); writes are retried as whole operations, so a busy
// conflict leads to a re-read, not a failure. Every write is idempotent: it reads first and sends
// nothing when the resource is already as wanted; VNet links are created with
// If-None-Match: * and updated or deleted with If-Match; long-running
// operations are waited for a bounded time and otherwise handed back as a
// resume token.
//
// Actions lists the ARM actions the code performs; docs/permissions.md
// explains them and the infrastructure grants exactly these.
//
// The package reads no environment variables: main decides (for example with
// InAzure(os.Getenv)) and passes the decision to NewCredential.
package azure
