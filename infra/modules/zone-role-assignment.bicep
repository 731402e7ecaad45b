// The zones role on one private DNS zone: its reads, A record reads and VNet
// links, on this zone only.
param zoneName string
@description('GUID of the zones custom role (role-definition.bicep output name).')
param roleDefinitionName string
param principalId string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' existing = {
  name: zoneName
}

resource assign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(zone.id, principalId, roleDefinitionId)
  scope: zone
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}
