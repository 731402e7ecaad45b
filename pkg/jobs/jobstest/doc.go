// Package jobstest is the contract every jobs.Queue implementation must meet,
// as one test suite (RunContract) run against the embedded queue always and
// against Service Bus when a live namespace is configured, plus small helpers
// for building jobs in tests.
package jobstest
