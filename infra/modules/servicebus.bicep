// Service Bus namespace with the reconcile and verify queues. Standard tier:
// duplicate detection (the job id is the MessageId) needs it.
param name string
param location string
param tags object
param principalId string

resource ns 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: 'Standard', tier: 'Standard' }
  properties: {
    disableLocalAuth: true // identity only
    minimumTlsVersion: '1.2'
  }
}

var queueProperties = {
  requiresDuplicateDetection: true
  duplicateDetectionHistoryTimeWindow: 'PT10M' // redelivered events collapse
  // The Functions host renews the lock while a job runs
  // (maxAutoLockRenewalDuration in host.json), so the lock only bounds how
  // long the job of a crashed worker waits to be delivered again.
  lockDuration: 'PT1M'
  maxDeliveryCount: 10 // retries are new scheduled messages; this catches crashes
  deadLetteringOnMessageExpiration: true
  defaultMessageTimeToLive: 'P7D'
}

resource reconcile 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'reconcile'
  properties: queueProperties
}

resource verify 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'verify'
  properties: queueProperties
}

// Parking queues: a job the handler gives up on (fatal ARM error, too many
// attempts) is sent here with its reason in a job.failed outcome event and
// the original message is completed, because a custom handler cannot
// dead-letter the message the Functions host holds. Nothing reads them
// automatically: inspect, fix the cause, and resubmit to the main queue.
var parkedQueueProperties = {
  requiresDuplicateDetection: true
  duplicateDetectionHistoryTimeWindow: 'PT10M'
  lockDuration: 'PT5M'
  maxDeliveryCount: 10
  deadLetteringOnMessageExpiration: true
  defaultMessageTimeToLive: 'P14D'
}

resource reconcileParked 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'reconcile-failed'
  properties: parkedQueueProperties
}

resource verifyParked 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = {
  parent: ns
  name: 'verify-failed'
  properties: parkedQueueProperties
}

// Azure Service Bus Data Sender and Data Receiver: no manage rights.
var senderRole = '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
var receiverRole = '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'

resource sendAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(ns.id, principalId, senderRole)
  scope: ns
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', senderRole)
  }
}

resource receiveAssign 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(ns.id, principalId, receiverRole)
  scope: ns
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', receiverRole)
  }
}

output fqdn string = '${ns.name}.servicebus.windows.net'
output reconcileQueueName string = reconcile.name
output verifyQueueName string = verify.name
output reconcileParkedQueueName string = reconcileParked.name
output verifyParkedQueueName string = verifyParked.name
