// Package outcome records what the autopilot decided and did as CloudEvents
// 1.0 outcome events: every approval, rejection, connection left pending, VNet
// link created or removed, DNS zone group added, verification result and
// failed job. They are the audit trail platform and compliance teams ask for.
//
// A Sink publishes events. LogSink writes them to a zerolog logger,
// MemorySink keeps the most recent ones for tests, the status API and the
// demo, FileSink appends JSON lines to a folder, Multi fans out to several
// sinks. Publishing to an Event Grid custom topic (azeventgrid) lives in the
// subpackage outcome/eventgrid, so that this package, and the decision core
// that records through it, link no Azure SDK.
package outcome
