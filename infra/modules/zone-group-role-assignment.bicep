// The zone-groups role on the resource group of private DNS zones: ARM keeps
// the status of a VNet link write there
// (.../resourceGroups/{rg}/providers/Microsoft.Network/privateDnsOperationStatuses/{id}),
// and the SDK polls it. The role holds that read only: no write of any kind.
@description('GUID of the zone-groups custom role (role-definition.bicep output name).')
param roleDefinitionName string
param principalId string

var roleDefinitionId = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionName)

resource assign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(resourceGroup().id, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: roleDefinitionId
  }
}
