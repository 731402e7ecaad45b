// One governed subscription: the governed role for the autopilot's identity.
// Endpoints, VNets, NICs and targets are read and written wherever requesters
// put them, so this role is assigned on the whole subscription; it holds no
// private DNS zone action (those are granted on the zones only, see
// zone-role-assignment.bicep). The Event Grid system topic and subscription
// are made after the code is deployed, by scripts/postdeploy-eventgrid.sh.
targetScope = 'subscription'

@description('GUID of the governed custom role (role-definition.bicep output name).')
param roleDefinitionName string
param principalId string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)

resource subAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}
