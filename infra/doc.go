// Package infra holds the Bicep templates that deploy the autopilot
// (main.bicep and modules/) and the Go tests that check them without the
// Bicep compiler: module wiring (parameters, outputs, loaded files), and that
// the custom role and the Event Grid filter match the Go code
// (generated/*.json from pkg/azure.Actions and pkg/events.HandledOperations).
package infra
