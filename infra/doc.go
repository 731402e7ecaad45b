// Package infra holds the Bicep templates that deploy the autopilot
// (main.bicep and modules/), the syntax check run on them (bicepcheck/, the
// tree-sitter Bicep grammar from npm; make bicep-check), and the Go tests that
// check them without the Bicep compiler: module wiring (parameters, outputs,
// loaded files); that the three custom roles, the Event Grid filter and the
// default DNS zones match the Go code (generated/*.json from
// pkg/azure.Actions, pkg/events.HandledOperations and core.AllPrivateDNSZones);
// that every role assignment lies within its role's assignable scopes and no
// DNS write is granted on a subscription; and the post-deploy hook
// (scripts/postdeploy-eventgrid.sh) run against a fake az.
package infra
