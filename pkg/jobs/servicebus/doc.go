// Package servicebus carries jobs on Azure Service Bus queues (azservicebus):
// the mapping between jobs.Job and Service Bus messages, a Sender for the
// Functions mode (the host receives through serviceBusTrigger; the handler
// sends new jobs and scheduled retries), a full jobs.Queue for standalone use
// and the contract tests, and FromTrigger for what the host delivers.
//
// Duplicate detection by MessageID needs the queue's RequiresDuplicateDetection
// setting; the dead-letter limit is the queue's MaxDeliveryCount.
package servicebus
