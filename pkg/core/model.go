package core

import "fmt"

// ARM resource types the autopilot works with (as ARM spells them; compare
// with strings.EqualFold).
const (
	TypeWorkspace          = "Microsoft.HealthcareApis/workspaces"
	TypeService            = "Microsoft.HealthcareApis/services"
	TypeFHIRService        = "Microsoft.HealthcareApis/workspaces/fhirservices"
	TypePrivateEndpoint    = "Microsoft.Network/privateEndpoints"
	TypeVirtualNetwork     = "Microsoft.Network/virtualNetworks"
	TypePrivateDNSZone     = "Microsoft.Network/privateDnsZones"
	TypeVirtualNetworkLink = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
)

// Ownership tag carried by every VNet link and DNS zone group the autopilot
// creates. The autopilot only ever deletes or rewrites resources carrying it.
const (
	OwnerTagKey   = "managed-by"
	OwnerTagValue = "privatelink-autopilot"
)

// TargetKind distinguishes the protected resources that own private endpoint
// connections.
type TargetKind string

const (
	// TargetWorkspace is an Azure Health Data Services workspace (group id
	// "healthcareworkspace"); its FHIR services sit behind its connections.
	TargetWorkspace TargetKind = "workspace"
	// TargetService is a legacy Azure API for FHIR service (group id "fhir").
	TargetService TargetKind = "service"
)

// ConnectionStatus is the state of a private endpoint connection.
type ConnectionStatus string

const (
	StatusPending      ConnectionStatus = "Pending"
	StatusApproved     ConnectionStatus = "Approved"
	StatusRejected     ConnectionStatus = "Rejected"
	StatusDisconnected ConnectionStatus = "Disconnected"
)

// Target is a protected resource (workspace or legacy FHIR service) with its
// private endpoint connections.
type Target struct {
	ID             string            `json:"id"`
	Kind           TargetKind        `json:"kind"`
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	// PublicNetworkAccess is "Enabled" or "Disabled" ("" when unknown).
	PublicNetworkAccess string `json:"publicNetworkAccess,omitempty"`
	// FQDNs are the public host names clients use (legacy:
	// {name}.azurehealthcareapis.com; workspace FHIR:
	// {ws}-{fhir}.fhir.azurehealthcareapis.com; workspace DICOM:
	// {ws}-{dicom}.dicom.azurehealthcareapis.com). core.ZoneForFQDN tells
	// which service a name belongs to.
	FQDNs       []string     `json:"fqdns,omitempty"`
	Connections []Connection `json:"connections,omitempty"`
}

// Connection is a private endpoint connection as seen on the target.
type Connection struct {
	ID                string           `json:"id"`
	Name              string           `json:"name"`
	TargetID          string           `json:"targetId"`
	PrivateEndpointID string           `json:"privateEndpointId"`
	Status            ConnectionStatus `json:"status"`
	Description       string           `json:"description,omitempty"`
	ActionsRequired   string           `json:"actionsRequired,omitempty"`
	GroupIDs          []string         `json:"groupIds,omitempty"`
}

// Endpoint is a private endpoint as the network provider describes it.
type Endpoint struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	SubscriptionID string            `json:"subscriptionId"`
	ResourceGroup  string            `json:"resourceGroup"`
	Location       string            `json:"location"`
	Tags           map[string]string `json:"tags,omitempty"`
	SubnetID       string            `json:"subnetId"`
	VNetID         string            `json:"vnetId"`
	// Connections lists both manual (approval-needing) and automatic
	// connections of the endpoint.
	Connections []EndpointConnection `json:"connections,omitempty"`
	// DNS holds the endpoint's customDnsConfigs: FQDN to private IPs.
	DNS []DNSRecord `json:"dns,omitempty"`
	// PrivateIPs are all private IPs of the endpoint (NIC ip configurations
	// or customDnsConfigs).
	PrivateIPs        []string    `json:"privateIps,omitempty"`
	ZoneGroups        []ZoneGroup `json:"zoneGroups,omitempty"`
	ProvisioningState string      `json:"provisioningState,omitempty"`
}

// EndpointConnection is one private link service connection of an endpoint.
type EndpointConnection struct {
	Name           string           `json:"name"`
	TargetID       string           `json:"targetId"`
	GroupIDs       []string         `json:"groupIds,omitempty"`
	RequestMessage string           `json:"requestMessage,omitempty"`
	Status         ConnectionStatus `json:"status"`
	Description    string           `json:"description,omitempty"`
	Manual         bool             `json:"manual"`
}

// DNSRecord maps a fully qualified domain name to IP addresses.
type DNSRecord struct {
	FQDN string   `json:"fqdn"`
	IPs  []string `json:"ips"`
}

// ZoneGroup is a private DNS zone group of an endpoint.
type ZoneGroup struct {
	ID      string      `json:"id"`
	Name    string      `json:"name"`
	ZoneIDs []string    `json:"zoneIds"`
	Records []DNSRecord `json:"records,omitempty"`
}

// VNet is a virtual network with its address space and peerings.
type VNet struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	SubscriptionID  string            `json:"subscriptionId"`
	ResourceGroup   string            `json:"resourceGroup"`
	Location        string            `json:"location"`
	Tags            map[string]string `json:"tags,omitempty"`
	AddressPrefixes []string          `json:"addressPrefixes,omitempty"`
	Peerings        []Peering         `json:"peerings,omitempty"`
}

// Peering is one side of a VNet peering.
type Peering struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	RemoteVNetID string `json:"remoteVnetId"`
	// State is Initiated, Connected or Disconnected.
	State string `json:"state"`
}

// Zone is a private DNS zone.
type Zone struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// VNetLink links a VNet to a private DNS zone.
type VNetLink struct {
	ID                  string            `json:"id"`
	Name                string            `json:"name"`
	ZoneID              string            `json:"zoneId"`
	VNetID              string            `json:"vnetId"`
	RegistrationEnabled bool              `json:"registrationEnabled"`
	ResolutionPolicy    string            `json:"resolutionPolicy,omitempty"`
	State               string            `json:"state,omitempty"` // Completed | InProgress
	Tags                map[string]string `json:"tags,omitempty"`
	ETag                string            `json:"etag,omitempty"`
}

// Managed reports whether the autopilot created (and so owns) the link.
func (l VNetLink) Managed() bool { return l.Tags[OwnerTagKey] == OwnerTagValue }

// ARecord is an A record set in a private DNS zone.
type ARecord struct {
	ZoneID string   `json:"zoneId"`
	Name   string   `json:"name"` // relative name, e.g. "ws1-fhir1.fhir"
	FQDN   string   `json:"fqdn"` // e.g. "ws1-fhir1.fhir.privatelink.azurehealthcareapis.com"
	IPs    []string `json:"ips"`
	TTL    int64    `json:"ttl"`
}

// LinkSpec is the desired VNet link of a VNet to a zone.
type LinkSpec struct {
	ZoneID              string `json:"zoneId"`
	VNetID              string `json:"vnetId"`
	Name                string `json:"name"`
	RegistrationEnabled bool   `json:"registrationEnabled"`
	ResolutionPolicy    string `json:"resolutionPolicy,omitempty"`
	// Update is true when the caller found a link for the VNet that may need
	// new settings: the writer reads the zone's links and updates the one it
	// owns with If-Match. False (the caller read the zone's links and found
	// none for the VNet): the writer creates the link without reading again
	// (If-None-Match: *), and reads only when ARM answers 412 or 409.
	Update bool `json:"update,omitempty"`
}

// ZoneGroupSpec is the desired DNS zone group of an endpoint.
type ZoneGroupSpec struct {
	EndpointID string   `json:"endpointId"`
	Name       string   `json:"name"`
	ZoneIDs    []string `json:"zoneIds"`
}

// WriteResult tells what an idempotent write did.
type WriteResult struct {
	// Changed is false when the resource was already in the wanted state and
	// no write was sent.
	Changed bool `json:"changed"`
	// InProgress is true when a long-running operation was started but not
	// finished within the adapter's bounded wait; ResumeToken lets a later job
	// pick it up (re-reading state is always enough to converge).
	InProgress  bool   `json:"inProgress,omitempty"`
	ResumeToken string `json:"resumeToken,omitempty"`
}

// Principal is who made an ARM call, from an event's claims (pkg/events
// says which claim fills which field; docs/policy.md, "Requester").
type Principal struct {
	ObjectID string `json:"objectId,omitempty"`
	AppID    string `json:"appId,omitempty"`
	TenantID string `json:"tenantId,omitempty"`
	// UPN is only ever the upn claim; a display name never fills it.
	UPN string `json:"upn,omitempty"`
	// DisplayName is the name or unique_name claim: for people to read,
	// mutable, not unique, never an identity.
	DisplayName string `json:"displayName,omitempty"`
	// Source is the event the principal was read from, when it is the
	// requester of a private endpoint connection.
	Source PrincipalSource `json:"source,omitzero"`
}

// PrincipalSource names the event a requester was read from. Only the
// events that create or change a connection request supply a requester
// (see RequesterFrom*); the reconciler hands it to the policy only for the
// pending connection that event is about.
type PrincipalSource struct {
	// Kind is RequesterFromEndpointWrite or RequesterFromConnectionProxyWrite.
	Kind string `json:"kind"`
	// Operation is the event's data.operationName.
	Operation string `json:"operation"`
	// ResourceID is the event's resource: the private endpoint, or the
	// target's private endpoint connection proxy.
	ResourceID string `json:"resourceId"`
	// EventID is the event's id.
	EventID string `json:"eventId,omitempty"`
}

// Kinds of requester sources.
const (
	// RequesterFromEndpointWrite: the private endpoint's own write (its
	// creation, or a write that re-submits its connection request).
	RequesterFromEndpointWrite = "endpointWrite"
	// RequesterFromConnectionProxyWrite: the network provider's write of a
	// connection proxy on the target, made for the endpoint's creator.
	RequesterFromConnectionProxyWrite = "connectionProxyWrite"
)

// String says where the principal came from, for logs and policy rules.
func (s PrincipalSource) String() string {
	if s.Kind == "" {
		return ""
	}
	return fmt.Sprintf("%s (%s on %s, event %s)", s.Kind, s.Operation, s.ResourceID, s.EventID)
}
