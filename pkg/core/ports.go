package core

import "context"

// Reader is what the core needs to know about Azure. Implementations return
// *Error for ARM failures (see Classify). Lists return everything (adapters
// follow pagers to the end).
type Reader interface {
	// GetTarget returns a workspace or legacy service with its connections.
	GetTarget(ctx context.Context, id string) (Target, error)
	// ListTargets returns every workspace and service of a subscription.
	ListTargets(ctx context.Context, subscriptionID string) ([]Target, error)
	// GetEndpoint returns a private endpoint with its connections, private
	// IPs and DNS zone groups.
	GetEndpoint(ctx context.Context, id string) (Endpoint, error)
	// GetVNet returns a virtual network with its address space and peerings.
	GetVNet(ctx context.Context, id string) (VNet, error)
	// ListVNets returns every virtual network of a subscription.
	ListVNets(ctx context.Context, subscriptionID string) ([]VNet, error)
	// ListVNetLinks returns the VNet links of a private DNS zone.
	ListVNetLinks(ctx context.Context, zoneID string) ([]VNetLink, error)
	// ListARecords returns the A record sets of a private DNS zone.
	ListARecords(ctx context.Context, zoneID string) ([]ARecord, error)
}

// Writer performs the autopilot's ARM writes. Every method is idempotent: it
// reads first, sends nothing when the resource is already as wanted
// (WriteResult.Changed false), and uses ETags where ARM has them.
type Writer interface {
	// SetConnectionStatus approves or rejects a connection on its target with
	// the description shown to the requester.
	SetConnectionStatus(ctx context.Context, conn Connection, status ConnectionStatus, description string) (WriteResult, error)
	// EnsureVNetLink creates the link (If-None-Match: *) or updates one the
	// autopilot owns (If-Match). It never rewrites a link it does not own: an
	// existing unmanaged link between the same zone and VNet counts as done.
	EnsureVNetLink(ctx context.Context, spec LinkSpec) (WriteResult, error)
	// DeleteVNetLink deletes a link carrying the ownership tag; it refuses
	// (fatal *Error) to delete one that does not.
	DeleteVNetLink(ctx context.Context, link VNetLink) (WriteResult, error)
	// EnsureZoneGroup gives an endpoint a DNS zone group covering the zones.
	EnsureZoneGroup(ctx context.Context, spec ZoneGroupSpec) (WriteResult, error)
}

// ARM is a Reader and a Writer.
type ARM interface {
	Reader
	Writer
}
