// Optional Event Grid custom topic for outcome events (CloudEvents schema),
// with the app's identity allowed to publish and nothing more.
param name string
param location string
param tags object
param principalId string

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
  }
}

// EventGrid Data Sender
var dataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7'

resource assign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, dataSender)
  scope: topic
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', dataSender)
  }
}

output endpoint string = topic.properties.endpoint
