// One governed subscription: its Event Grid system topic delivering the ARM
// events the classifier handles to ResourceEvents, and the autopilot's role.
targetScope = 'subscription'

param environmentName string
param functionResourceId string
param deadLetterStorageId string
param deadLetterContainerName string
param roleDefinitionId string
param principalId string

// Exactly the operations pkg/events classifies (generated/event-operations.json,
// checked by infra_test.go); Event Grid allows 25 values in all.
var operations = loadJsonContent('../generated/event-operations.json')

resource eventsRg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}-events'
  location: deployment().location
}

module topic 'system-topic.bicep' = {
  name: 'system-topic'
  scope: eventsRg
  params: {
    name: 'evgst-autopilot-${environmentName}'
    functionResourceId: functionResourceId
    deadLetterStorageId: deadLetterStorageId
    deadLetterContainerName: deadLetterContainerName
    operations: operations
  }
}

// Endpoints, VNets and NICs are read wherever requesters put them, so the
// role is assigned on the governed subscription. Link and record writes are
// granted on the zones only (zone-role-assignment.bicep) - but the action
// list is one role: see docs/permissions.md for splitting it further.
resource subAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}
