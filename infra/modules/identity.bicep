// The user-assigned identity the function app runs as.
param name string
param location string
param tags object

resource id 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = id.id
output clientId string = id.properties.clientId
output principalId string = id.properties.principalId
