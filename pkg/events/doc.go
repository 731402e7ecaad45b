// Package events turns Azure Resource Manager events delivered by Event Grid
// into reconcile jobs.
//
// It parses events in the Event Grid schema and in CloudEvents 1.0 (single
// events and batches), tolerating what the SDK's typed decoders do not (a
// claim that is a number or an array); classifies each event by its type,
// data.operationName and data.status into a domain event (an endpoint, a
// protected target, a VNet or a private DNS zone to reconcile) or an ignored
// event with a reason; and, in Intake, enqueues one reconcile job per affected
// resource with a deterministic message id so that redeliveries collapse.
// Malformed events never fail a batch: they are kept in a DeadStore with the
// reason. Webhook serves the same intake as a plain Event Grid webhook
// (subscription validation and the CloudEvents abuse-protection handshake).
//
// Nothing here calls ARM: the real work happens in the reconcile jobs.
package events
