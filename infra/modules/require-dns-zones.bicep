// Fails the deployment, naming the settings, when no DNS zone is configured
// (ARM refuses a parameter value outside its allowed values; a template has
// no other way to refuse its input). Deploys nothing. main.bicep then also
// assigns nothing on zones, so no half-formed zone id reaches ARM.
targetScope = 'subscription'

@description('False when neither dnsZonesResourceGroupId (AUTOPILOT_DNS_ZONES_RESOURCE_GROUP_ID), dnsZoneId (AUTOPILOT_DNS_ZONE_ID) nor dnsZoneIds is set: set one of them.')
@allowed([true])
param setDnsZonesResourceGroupIdOrDnsZoneIds bool
