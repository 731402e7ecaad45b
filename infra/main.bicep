// Private Link Autopilot: everything the function app needs, deployed at
// subscription scope (the "platform" subscription that hosts the app).
//
//   az deployment sub create -l <region> -f infra/main.bicep -p infra/main.parameters.json
//   azd up            (azure.yaml at the repository root)
//
// CI parses every .bicep file (make bicep-check, a tree-sitter grammar) but
// cannot compile it: type and scope checks need `az bicep build --file
// infra/main.bicep` or `azd provision --preview` (docs/deploy.md).
//
// Order: provision, deploy the code, then create the event subscriptions
// (scripts/postdeploy-eventgrid.sh): Event Grid refuses a subscription to a
// function that does not exist yet.
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

@description('Resource ID of the resource group holding the private DNS zones (e.g. /subscriptions/<hub>/resourceGroups/rg-dns). The zones are those of the private DNS table (pkg/core/dnszones.go, generated/private-dns-zones.json): privatelink.workspace, privatelink.fhir and privatelink.dicom .azurehealthcareapis.com for workspaces and privatelink.azurehealthcareapis.com for Azure API for FHIR. Empty: the resource group of dnsZoneId.')
param dnsZonesResourceGroupId string = ''

@description('Earlier single-zone setting (AUTOPILOT_DNS_ZONE_ID): when dnsZonesResourceGroupId is empty, the zones are taken from this zone\'s resource group.')
param dnsZoneId string = ''

@description('Resource IDs of the private DNS zones, when they do not all sit in one resource group; overrides dnsZonesResourceGroupId. The zones role is assigned on each zone only; the zones may live in any subscription (a hub).')
param dnsZoneIds array = []

@description('The policy file content (YAML). Read by the app from the AUTOPILOT_POLICY app setting.')
param policyContent string = loadTextContent('../examples/policy.yaml')

@description('Create an Event Grid custom topic for outcome events (the audit trail).')
param enableOutcomeTopic bool = true

@description('NCRONTAB schedule of the Sweep function.')
param sweepSchedule string = '0 */10 * * * *'

@description('Maximum Flex Consumption instances; keep small: ARM write limits are per subscription, not per instance.')
param maximumInstanceCount int = 10

var zonesResourceGroupId = !empty(dnsZonesResourceGroupId) ? dnsZonesResourceGroupId : join(take(split(dnsZoneId, '/'), 5), '/')
var tableZoneIds = [for zone in loadJsonContent('generated/private-dns-zones.json'): '${zonesResourceGroupId}/providers/Microsoft.Network/privateDnsZones/${zone}']
var zonesConfigured = !empty(dnsZoneIds) || !empty(zonesResourceGroupId)
var zoneIds = !empty(dnsZoneIds) ? dnsZoneIds : (zonesConfigured ? tableZoneIds : [])

var tags = { 'azd-env-name': environmentName, application: 'privatelink-autopilot' }
var token = toLower(uniqueString(subscription().id, environmentName, location))

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

// No zones configured: the deployment fails naming the settings (and the zone
// loops below are empty, so no half-formed zone id reaches ARM).
module requireZones 'modules/require-dns-zones.bicep' = {
  name: 'require-dns-zones'
  params: {
    setDnsZonesResourceGroupIdOrDnsZoneIds: zonesConfigured
  }
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
    deadLetterPrincipalId: eventGridIdentity.outputs.principalId
  }
}

// Three custom roles hold exactly the ARM actions the code performs, split by
// the scope they are needed at (generated/role-*.json, written from
// pkg/azure.Actions by infra/roles_test.go):
//   - governed: targets, connections, endpoints, zone groups, NICs, VNets and
//     the operation polls under them, assigned on each governed subscription.
//     No private DNS action is in it.
//   - zones: reads and VNet links of one private DNS zone, assigned on each zone.
//   - zone groups: the private DNS operation-status read, assigned on each
//     zone's resource group, where ARM puts the status of a link write.
// A role is assignable exactly where it is assigned (plus the app
// subscription, where it is defined). Adding a scope is a redeploy; removing
// one needs its assignments deleted first (docs/permissions.md).
var appSubscriptionScope = subscription().id
var governedScopes = [for sub in governedSubscriptionIds: '/subscriptions/${sub}']
var zoneResourceGroupOfEachZone = [for zoneId in zoneIds: {
  subscriptionId: toLower(split(zoneId, '/')[2])
  resourceGroup: toLower(split(zoneId, '/')[4])
}]
var zoneResourceGroups = union(zoneResourceGroupOfEachZone, []) // each once
var zoneResourceGroupScopes = [for g in zoneResourceGroups: '/subscriptions/${g.subscriptionId}/resourceGroups/${g.resourceGroup}']

module governedRole 'modules/role-definition.bicep' = {
  name: 'role-governed'
  params: {
    roleKey: 'governed'
    roleName: 'Private Link Autopilot (${environmentName})'
    roleDescription: 'Reads FHIR targets, private endpoints and VNets, approves or rejects private endpoint connections and adds DNS zone groups to endpoints. No private DNS zone action.'
    environmentName: environmentName
    actions: loadJsonContent('generated/role-governed.json')
    assignableScopes: union([appSubscriptionScope], governedScopes)
  }
}

module zoneRole 'modules/role-definition.bicep' = {
  name: 'role-zones'
  params: {
    roleKey: 'zones'
    roleName: 'Private Link Autopilot DNS zones (${environmentName})'
    roleDescription: 'Reads one private DNS zone and its A records, links VNets to it (create, update, delete own links) and lets zone groups reference it.'
    environmentName: environmentName
    actions: loadJsonContent('generated/role-zones.json')
    assignableScopes: union([appSubscriptionScope], zoneResourceGroupScopes)
  }
}

module zoneGroupRole 'modules/role-definition.bicep' = {
  name: 'role-zone-groups'
  params: {
    roleKey: 'zone-groups'
    roleName: 'Private Link Autopilot DNS operations (${environmentName})'
    roleDescription: 'Reads the status of private DNS operations (VNet link writes) in the resource group of a private DNS zone.'
    environmentName: environmentName
    actions: loadJsonContent('generated/role-zone-groups.json')
    assignableScopes: union([appSubscriptionScope], zoneResourceGroupScopes)
  }
}

// The identity Event Grid dead-letters with (deadLetterWithResourceIdentity):
// the post-deploy hook puts it on each subscription's system topic; it may
// only write blobs into the dead-letter container (app.bicep).
module eventGridIdentity 'modules/identity.bicep' = {
  name: 'eventgrid-identity'
  scope: rg
  params: {
    name: 'id-autopilot-eg-${token}'
    location: location
    tags: tags
  }
}

// Per governed subscription: the governed role. The Event Grid system topic
// and the event subscription to ResourceEvents are not here: they are made
// after the code is deployed, by scripts/postdeploy-eventgrid.sh (azd's
// postdeploy hook), which reuses a subscription's existing system topic.
module governed 'modules/governed-subscription.bicep' = [for sub in governedSubscriptionIds: {
  name: 'governed-${sub}'
  scope: subscription(sub)
  params: {
    roleDefinitionName: governedRole.outputs.name
    principalId: identity.outputs.principalId
  }
}]

// Links are written in the zones only: the zones role is assigned on each
// zone, not on its resource group or subscription.
module zoneAccess 'modules/zone-role-assignment.bicep' = [for (zoneId, i) in zoneIds: {
  name: 'zone-access-${i}'
  scope: resourceGroup(split(zoneId, '/')[2], split(zoneId, '/')[4])
  params: {
    zoneName: last(split(zoneId, '/'))
    roleDefinitionName: zoneRole.outputs.name
    principalId: identity.outputs.principalId
  }
}]

// The status of a link write is read in the zone's resource group, once per
// resource group.
module zoneGroupAccess 'modules/zone-group-role-assignment.bicep' = [for (g, i) in zoneResourceGroups: {
  name: 'zone-group-access-${i}'
  scope: resourceGroup(g.subscriptionId, g.resourceGroup)
  params: {
    roleDefinitionName: zoneGroupRole.outputs.name
    principalId: identity.outputs.principalId
  }
}]

output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output AZURE_RESOURCE_GROUP string = rg.name
output AUTOPILOT_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output SERVICEBUS_NAMESPACE string = bus.outputs.fqdn

// Read by scripts/postdeploy-eventgrid.sh (azd passes outputs to hooks as
// environment variables; without azd, export them from the deployment).
output AUTOPILOT_GOVERNED_SUBSCRIPTION_IDS string = join(governedSubscriptionIds, ',')
output AUTOPILOT_EVENT_FUNCTION_ID string = '${app.outputs.id}/functions/ResourceEvents'
output AUTOPILOT_DEADLETTER_STORAGE_ID string = app.outputs.storageAccountId
output AUTOPILOT_DEADLETTER_CONTAINER string = app.outputs.deadLetterContainerName
output AUTOPILOT_DEADLETTER_IDENTITY_ID string = eventGridIdentity.outputs.id
