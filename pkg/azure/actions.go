package azure

// Actions are the ARM actions this package performs, each exactly once in
// this list, with the code path that needs it. The three custom roles the
// autopilot's identity holds (infra/) grant exactly these between them, split
// by the scope ARM checks each at (subscription, DNS zone, the zone's
// resource group); docs/permissions.md explains them. Keep them in step:
// `go test ./infra -update` rewrites the split and the test compares it.
//
// Not listed: Microsoft.HealthcareApis/.../privateEndpointConnectionsApproval/action.
// Approving or rejecting an existing connection is a PUT on the connection
// (privateEndpointConnections/write); the approval action is what the network
// provider checks for auto-approval when an endpoint is created, which the
// autopilot never does.
//
// Long-running writes are polled (lro.go) at the URL of the provider's
// Azure-AsyncOperation header, and ARM authorizes that GET like any other: the
// three ".../operations" reads below are that polling. The SDK pollers for
// these PUTs and DELETEs never follow the Location header (azcore's async
// poller: the final GET of a PUT is on the resource itself, a DELETE has
// none), so the matching operationResults reads are not needed.
var Actions = []string{
	// GetTarget, ListTargets: workspace with its embedded connections.
	"Microsoft.HealthcareApis/workspaces/read",
	// GetTarget, ListTargets: FHIR services of a workspace, for their host names.
	"Microsoft.HealthcareApis/workspaces/fhirservices/read",
	// GetTarget, ListTargets: DICOM services of a workspace, for their host names.
	"Microsoft.HealthcareApis/workspaces/dicomservices/read",
	// SetConnectionStatus (workspace): read the connection before deciding.
	"Microsoft.HealthcareApis/workspaces/privateEndpointConnections/read",
	// SetConnectionStatus (workspace): PUT the approved/rejected state.
	"Microsoft.HealthcareApis/workspaces/privateEndpointConnections/write",
	// GetTarget, ListTargets: legacy Azure API for FHIR service.
	"Microsoft.HealthcareApis/services/read",
	// SetConnectionStatus (legacy service): read the connection.
	"Microsoft.HealthcareApis/services/privateEndpointConnections/read",
	// SetConnectionStatus (legacy service): PUT the approved/rejected state.
	"Microsoft.HealthcareApis/services/privateEndpointConnections/write",
	// SetConnectionStatus: poll the connection PUT
	// (/subscriptions/{sub}/providers/Microsoft.HealthcareApis/locations/{loc}/operationresults/{id}).
	"Microsoft.HealthcareApis/locations/operationresults/read",

	// GetEndpoint: the endpoint with its connections, customDnsConfigs and NICs.
	"Microsoft.Network/privateEndpoints/read",
	// GetEndpoint, EnsureZoneGroup: list the endpoint's DNS zone groups.
	"Microsoft.Network/privateEndpoints/privateDnsZoneGroups/read",
	// EnsureZoneGroup: create or extend a zone group.
	"Microsoft.Network/privateEndpoints/privateDnsZoneGroups/write",
	// GetEndpoint: NIC ip configurations when the endpoint GET does not carry them.
	"Microsoft.Network/networkInterfaces/read",
	// GetVNet, ListVNets: address space and embedded peerings.
	"Microsoft.Network/virtualNetworks/read",
	// GetVNet: peerings when the VNet GET does not embed them.
	"Microsoft.Network/virtualNetworks/virtualNetworkPeerings/read",
	// EnsureVNetLink: linking a VNet to a zone is a join on the VNet.
	"Microsoft.Network/virtualNetworks/join/action",
	// EnsureZoneGroup: poll the zone group PUT
	// (/subscriptions/{sub}/providers/Microsoft.Network/locations/{loc}/operations/{id}).
	"Microsoft.Network/locations/operations/read",

	// GetZone: the zone itself.
	"Microsoft.Network/privateDnsZones/read",
	// EnsureZoneGroup: a zone group references the zone (join on the zone).
	"Microsoft.Network/privateDnsZones/join/action",
	// ListVNetLinks, EnsureVNetLink, DeleteVNetLink: list and read links.
	"Microsoft.Network/privateDnsZones/virtualNetworkLinks/read",
	// EnsureVNetLink: create (If-None-Match: *) or update (If-Match) a link.
	"Microsoft.Network/privateDnsZones/virtualNetworkLinks/write",
	// DeleteVNetLink: delete an owned link (If-Match).
	"Microsoft.Network/privateDnsZones/virtualNetworkLinks/delete",
	// ListARecords: list A record sets (ListByType A).
	"Microsoft.Network/privateDnsZones/A/read",
	// EnsureVNetLink, DeleteVNetLink: poll the link PUT/DELETE. The status
	// lives in the zone's resource group, not under the zone
	// (/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/privateDnsOperationStatuses/{id}).
	"Microsoft.Network/privateDnsOperationStatuses/read",
}
