// Package jobs defines the job message format and the narrow queue interface
// through which all long work travels (reconcile and verify jobs), with two
// implementations of the same semantics: Azure Service Bus in production and
// an embedded durable queue for standalone mode, the demo and tests.
package jobs
