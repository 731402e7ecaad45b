// Private Link Autopilot: everything the function app needs, deployed at
// subscription scope (the "platform" subscription that hosts the app).
//
//   az deployment sub create -l <region> -f infra/main.bicep -p infra/main.parameters.json
//   azd up            (azure.yaml at the repository root)
//
// The Bicep compiler is not part of this repository's CI; validate with
// `az bicep build --file infra/main.bicep` or `azd provision --preview`.
targetScope = 'subscription'

@minLength(1)
@maxLength(32)
@description('Name of the environment (azd sets it); used to name resources.')
param environmentName string

@description('Region of the function app, Service Bus and storage.')
param location string

@description('Resource group for the app (created).')
param resourceGroupName string = 'rg-${environmentName}'

@description('Subscriptions the autopilot governs: their ARM events are delivered to it and its role is assignable there. Include the app subscription if it holds targets.')
param governedSubscriptionIds array

@description('Resource IDs of the private DNS zones the autopilot manages (e.g. privatelink.azurehealthcareapis.com). The role is assigned on each zone only.')
param dnsZoneIds array

@description('The policy file content (YAML). Read by the app from the AUTOPILOT_POLICY app setting.')
param policyContent string = loadTextContent('../examples/policy.yaml')

@description('Create an Event Grid custom topic for outcome events (the audit trail).')
param enableOutcomeTopic bool = true

@description('NCRONTAB schedule of the Sweep function.')
param sweepSchedule string = '0 */10 * * * *'

@description('Maximum Flex Consumption instances; keep small: ARM write limits are per subscription, not per instance.')
param maximumInstanceCount int = 10

var tags = { 'azd-env-name': environmentName, application: 'privatelink-autopilot' }
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-autopilot-${token}'
    location: location
    tags: tags
  }
}

module bus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: 'sb-autopilot-${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module outcomes 'modules/outcome-topic.bicep' = if (enableOutcomeTopic) {
  name: 'outcome-topic'
  scope: rg
  params: {
    name: 'evgt-autopilot-${token}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

module app 'modules/app.bicep' = {
  name: 'app'
  scope: rg
  params: {
    name: 'func-autopilot-${token}'
    location: location
    tags: tags
    storageAccountName: 'stautopilot${take(token, 12)}'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityPrincipalId: identity.outputs.principalId
    serviceBusNamespaceFqdn: bus.outputs.fqdn
    reconcileQueueName: bus.outputs.reconcileQueueName
    verifyQueueName: bus.outputs.verifyQueueName
    governedSubscriptionIds: governedSubscriptionIds
    policyContent: policyContent
    sweepSchedule: sweepSchedule
    outcomeTopicEndpoint: enableOutcomeTopic ? outcomes!.outputs.endpoint : ''
    maximumInstanceCount: maximumInstanceCount
  }
}

// The custom role holds exactly the ARM actions the code performs
// (generated/arm-actions.json, written from pkg/azure.Actions and checked by
// infra_test.go). It is defined once in the app subscription and assignable
// in every governed subscription.
module role 'modules/role-definition.bicep' = {
  name: 'role-definition'
  params: {
    environmentName: environmentName
    assignableSubscriptionIds: union([subscription().subscriptionId], governedSubscriptionIds)
  }
}

// Per governed subscription: the Event Grid system topic and its event
// subscription to ResourceEvents, and the role assignment.
module governed 'modules/governed-subscription.bicep' = [for sub in governedSubscriptionIds: {
  name: 'governed-${sub}'
  scope: subscription(sub)
  params: {
    environmentName: environmentName
    functionResourceId: '${app.outputs.id}/functions/ResourceEvents'
    deadLetterStorageId: app.outputs.storageAccountId
    deadLetterContainerName: app.outputs.deadLetterContainerName
    roleDefinitionId: role.outputs.id
    principalId: identity.outputs.principalId
  }
}]

// Links and records are written in the zones only: the role is assigned on
// each zone, not on its subscription.
module zoneAccess 'modules/zone-role-assignment.bicep' = [for (zoneId, i) in dnsZoneIds: {
  name: 'zone-access-${i}'
  scope: resourceGroup(split(zoneId, '/')[2], split(zoneId, '/')[4])
  params: {
    zoneName: last(split(zoneId, '/'))
    roleDefinitionId: role.outputs.id
    principalId: identity.outputs.principalId
  }
}]

output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output AZURE_RESOURCE_GROUP string = rg.name
output AUTOPILOT_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SERVICEBUS_NAMESPACE string = bus.outputs.fqdn
