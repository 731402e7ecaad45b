// One of the autopilot's custom roles (main.bicep defines three, split by the
// scope they are assigned at). The actions come from generated/role-*.json,
// written from pkg/azure.Actions; infra/roles_test.go fails when they drift.
// A role definition is a tenant-wide object: it is created here, in the app
// subscription, and assigned wherever assignableScopes allows.
targetScope = 'subscription'

@description('Short stable key of the role (governed, zones, zone-groups); part of its GUID.')
param roleKey string
param roleName string
param roleDescription string
param environmentName string
param actions array
@description('Every scope the role is assigned at or under (subscriptions, resource groups). ARM refuses to remove a scope that still holds assignments (RoleScopeBeingRemovedContainsAssignments): delete them first.')
param assignableScopes array

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  // The governed role keeps the GUID of the earlier single role, so an
  // existing deployment updates it in place.
  name: roleKey == 'governed' ? guid(subscription().id, 'privatelink-autopilot', environmentName) : guid(subscription().id, 'privatelink-autopilot', roleKey, environmentName)
  properties: {
    roleName: roleName
    description: roleDescription
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: assignableScopes
  }
}

// The role's GUID: assignments build its ID in their own subscription.
output name string = role.name
output id string = role.id
