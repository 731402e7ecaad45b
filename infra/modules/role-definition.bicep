// The autopilot's custom role: exactly the ARM actions its code performs.
// The list is generated from pkg/azure.Actions (generated/arm-actions.json);
// infra_test.go fails when the two differ.
targetScope = 'subscription'

param environmentName string
param assignableSubscriptionIds array

var actions = loadJsonContent('../generated/arm-actions.json')

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'privatelink-autopilot', environmentName)
  properties: {
    roleName: 'Private Link Autopilot (${environmentName})'
    description: 'Approves private endpoint connections to FHIR workspaces and services, links VNets to private DNS zones and adds DNS zone groups.'
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [for sub in assignableSubscriptionIds: '/subscriptions/${sub}']
  }
}

output id string = role.id
