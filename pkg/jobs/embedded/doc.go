// Package embedded is the durable job queue for standalone mode, the sandbox
// and tests: the semantics of a Service Bus queue (scheduled delivery,
// peek-lock with expiry and redelivery, delivery count, dead-lettering after
// a maximum number of deliveries, message-id duplicate detection) kept in one
// bbolt file that holds any number of named queues and survives restarts.
//
// Time comes from Options.Clock, so a clock.Fake drives lock expiry and
// schedules in tests, scenario replays and benchmarks.
package embedded
