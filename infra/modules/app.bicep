// The function app on the Flex Consumption plan (runtime "custom": the Go
// handler built for linux/amd64), its storage, Application Insights and the
// app settings the handler reads (see docs/functions-host.md).
param name string
param location string
param tags object
param storageAccountName string
param identityId string
param identityClientId string
param identityPrincipalId string
param serviceBusNamespaceFqdn string
param reconcileQueueName string
param verifyQueueName string
@description('Queue where reconcile jobs the handler gives up on are parked (servicebus.bicep creates reconcile-failed).')
param reconcileParkedQueueName string = '${reconcileQueueName}-failed'
@description('Queue where verification jobs the handler gives up on are parked.')
param verifyParkedQueueName string = '${verifyQueueName}-failed'
param governedSubscriptionIds array
param policyContent string
param sweepSchedule string
param outcomeTopicEndpoint string
param maximumInstanceCount int
@description('Principal of the identity Event Grid dead-letters with (deadLetterWithResourceIdentity).')
param deadLetterPrincipalId string

var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var reportsContainerName = 'verification-reports'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deploymentContainerName
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: deadLetterContainerName
}

resource reportsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: reportsContainerName
}

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${name}'
  location: location
  tags: tags
  properties: { retentionInDays: 30, sku: { name: 'PerGB2018' } }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${name}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: true
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'autopilot' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: 2048
      }
      runtime: { name: 'custom', version: '1.0' }
    }
    siteConfig: {
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
        { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
        { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
        { name: 'ServiceBus__fullyQualifiedNamespace', value: serviceBusNamespaceFqdn }
        { name: 'ServiceBus__credential', value: 'managedidentity' }
        { name: 'ServiceBus__clientId', value: identityClientId }
        { name: 'ReconcileQueueName', value: reconcileQueueName }
        { name: 'VerifyQueueName', value: verifyQueueName }
        { name: 'ReconcileParkedQueueName', value: reconcileParkedQueueName }
        { name: 'VerifyParkedQueueName', value: verifyParkedQueueName }
        { name: 'SweepSchedule', value: sweepSchedule }
        { name: 'AZURE_CLIENT_ID', value: identityClientId }
        { name: 'AUTOPILOT_SUBSCRIPTIONS', value: join(governedSubscriptionIds, ',') }
        { name: 'AUTOPILOT_POLICY', value: policyContent }
        { name: 'AUTOPILOT_OUTCOME_TOPIC_ENDPOINT', value: outcomeTopicEndpoint }
        { name: 'AUTOPILOT_REPORTS_URL', value: '${storage.properties.primaryEndpoints.blob}${reportsContainerName}' }
      ]
    }
  }
}

// Storage Blob Data Owner (host storage and deployment package), Storage
// Queue Data Contributor (host internals), Monitoring Metrics Publisher.
var roles = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
]

resource storageAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in roles: {
  name: guid(storage.id, identityPrincipalId, role)
  scope: storage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

resource metricsAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identityPrincipalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: insights
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
  }
}

// Event Grid dead-letters undeliverable events with the system topic's
// user-assigned identity (the storage account takes no shared keys): Storage
// Blob Data Contributor on the dead-letter container only.
var blobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource deadLetterAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, deadLetterPrincipalId, blobDataContributor)
  scope: deadLetterContainer
  properties: {
    principalId: deadLetterPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', blobDataContributor)
  }
}

output id string = site.id
output name string = site.name
output storageAccountId string = storage.id
output deadLetterContainerName string = deadLetterContainerName
