package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"

	"github.com/plautopilot/autopilot/pkg/core"
)

const (
	typeConnWorkspace = core.TypeWorkspace + "/privateEndpointConnections"
	typeConnService   = core.TypeService + "/privateEndpointConnections"
)

// GetTarget returns a workspace or legacy FHIR service with its private
// endpoint connections and FHIR host names. A workspace FHIR service ID
// resolves to its workspace (the connections belong to the workspace).
// A workspace costs 3 reads (the workspace, its FHIR and its DICOM services
// for the host names); GetTargetConnections is the 1-read variant without
// host names.
func (c *Client) GetTarget(ctx context.Context, id string) (core.Target, error) {
	return c.getTarget(ctx, id, true)
}

// GetTargetConnections is GetTarget without the FHIR host names of a
// workspace (Target.FQDNs is empty for workspaces): one ARM read, since the
// workspace GET embeds properties.privateEndpointConnections. The
// reconciler decides and approves from it; only verification needs the
// host names (GetTarget, TargetFQDNs).
func (c *Client) GetTargetConnections(ctx context.Context, id string) (core.Target, error) {
	return c.getTarget(ctx, id, false)
}

// TargetFQDNs returns the public host names of a workspace's FHIR and DICOM
// services (two list reads) or of a legacy service (no read).
func (c *Client) TargetFQDNs(ctx context.Context, id string) ([]string, error) {
	const op = "list fhir services"
	r, err := c.resolve(op, id, core.TypeWorkspace, core.TypeService, core.TypeFHIRService)
	if err != nil {
		return nil, err
	}
	rid := r.id
	if strings.EqualFold(rid.ResourceType.String(), core.TypeFHIRService) {
		rid = rid.Parent
	}
	if strings.EqualFold(rid.ResourceType.String(), core.TypeService) {
		return []string{strings.ToLower(rid.Name + "." + c.cfg.FHIRDomain)}, nil
	}
	out, err := c.workspaceFQDNs(ctx, r.f, rid.ResourceGroupName, rid.Name)
	if err != nil {
		return nil, classify(op, rid.String(), err)
	}
	return out, nil
}

func (c *Client) getTarget(ctx context.Context, id string, fqdns bool) (core.Target, error) {
	const op = "get target"
	r, err := c.resolve(op, id, core.TypeWorkspace, core.TypeService, core.TypeFHIRService)
	if err != nil {
		return core.Target{}, err
	}
	rid := r.id
	if strings.EqualFold(rid.ResourceType.String(), core.TypeFHIRService) {
		rid = rid.Parent
	}
	if strings.EqualFold(rid.ResourceType.String(), core.TypeService) {
		resp, err := r.f.health.NewServicesClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
		if err != nil {
			return core.Target{}, classify(op, id, err)
		}
		return serviceTarget(resp.ServicesDescription, c.cfg.FHIRDomain), nil
	}
	resp, err := r.f.health.NewWorkspacesClient().Get(ctx, rid.ResourceGroupName, rid.Name, nil)
	if err != nil {
		return core.Target{}, classify(op, id, err)
	}
	t := workspaceTarget(resp.Workspace)
	if !fqdns {
		return t, nil
	}
	if t.FQDNs, err = c.workspaceFQDNs(ctx, r.f, rid.ResourceGroupName, rid.Name); err != nil {
		return core.Target{}, classify("list fhir services", rid.String(), err)
	}
	return t, nil
}

// workspaceFQDNs lists a workspace's FHIR and DICOM services (two list
// reads) and returns their host names.
func (c *Client) workspaceFQDNs(ctx context.Context, f *factories, rg, ws string) ([]string, error) {
	var out []string
	pager := f.health.NewFhirServicesClient().NewListByWorkspacePager(rg, ws, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, fs := range page.Value {
			out = appendUnique(out, fhirFQDN(ws, fs, c.cfg.FHIRDomain))
		}
	}
	dicom, err := c.workspaceDICOMFQDNs(ctx, f, rg, ws)
	if err != nil {
		return nil, err
	}
	return appendUnique(out, dicom...), nil
}

// ListTargets returns every workspace and legacy FHIR service of a
// subscription with their connections and host names: 2 list reads plus a
// FHIR services list and a DICOM services list per workspace (for the host
// names verification needs). ListTargetConnections is the variant without the fan-out.
func (c *Client) ListTargets(ctx context.Context, subscriptionID string) ([]core.Target, error) {
	return c.listTargets(ctx, subscriptionID, true)
}

// ListTargetConnections is ListTargets without the FHIR host names of
// workspaces: 2 list reads per subscription (workspaces, legacy services;
// more only when ARM pages), whatever the number of workspaces. The
// reconciler's follow-ups and the sweep use it.
func (c *Client) ListTargetConnections(ctx context.Context, subscriptionID string) ([]core.Target, error) {
	return c.listTargets(ctx, subscriptionID, false)
}

func (c *Client) listTargets(ctx context.Context, subscriptionID string, fqdns bool) ([]core.Target, error) {
	const op = "list targets"
	scope := "/subscriptions/" + subscriptionID
	f, err := c.clients(subscriptionID)
	if err != nil {
		return nil, invalidID(op, scope, err)
	}
	var out []core.Target
	wp := f.health.NewWorkspacesClient().NewListBySubscriptionPager(nil)
	for wp.More() {
		page, err := wp.NextPage(ctx)
		if err != nil {
			return nil, classify(op, scope, err)
		}
		for _, w := range page.Value {
			if w == nil {
				continue
			}
			t := workspaceTarget(*w)
			if fqdns && t.ResourceGroup != "" && t.Name != "" {
				if t.FQDNs, err = c.workspaceFQDNs(ctx, f, t.ResourceGroup, t.Name); err != nil {
					return nil, classify("list fhir services", t.ID, err)
				}
			}
			out = append(out, t)
		}
	}
	sp := f.health.NewServicesClient().NewListPager(nil)
	for sp.More() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			return nil, classify(op, scope, err)
		}
		for _, s := range page.Value {
			if s != nil {
				out = append(out, serviceTarget(*s, c.cfg.FHIRDomain))
			}
		}
	}
	return out, nil
}

// GetEndpoint returns a private endpoint with its connections, private IPs
// (from customDnsConfigs and its NICs) and DNS zone groups.
func (c *Client) GetEndpoint(ctx context.Context, id string) (core.Endpoint, error) {
	const op = "get endpoint"
	r, err := c.resolve(op, id, core.TypePrivateEndpoint)
	if err != nil {
		return core.Endpoint{}, err
	}
	rg, name := r.id.ResourceGroupName, r.id.Name
	resp, err := r.f.network.NewPrivateEndpointsClient().Get(ctx, rg, name,
		&armnetwork.PrivateEndpointsClientGetOptions{Expand: to.Ptr("networkInterfaces")})
	if err != nil {
		return core.Endpoint{}, classify(op, id, err)
	}
	e := endpoint(resp.PrivateEndpoint)
	if len(e.PrivateIPs) == 0 {
		// the expansion did not carry ip configurations: read the NICs
		for _, nicID := range unexpandedNICs(resp.PrivateEndpoint) {
			ips, err := c.nicIPs(ctx, nicID)
			if err != nil {
				return core.Endpoint{}, err
			}
			e.PrivateIPs = appendUnique(e.PrivateIPs, ips...)
		}
	}
	// NewListPager takes (privateEndpointName, resourceGroupName): swapped
	pager := r.f.network.NewPrivateDNSZoneGroupsClient().NewListPager(name, rg, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return core.Endpoint{}, classify("list zone groups", id, err)
		}
		for _, g := range page.Value {
			if zg, ok := zoneGroup(g); ok {
				e.ZoneGroups = append(e.ZoneGroups, zg)
			}
		}
	}
	return e, nil
}

func (c *Client) nicIPs(ctx context.Context, nicID string) ([]string, error) {
	const op = "get network interface"
	r, err := c.resolve(op, nicID, "Microsoft.Network/networkInterfaces")
	if err != nil {
		return nil, err
	}
	resp, err := r.f.network.NewInterfacesClient().Get(ctx, r.id.ResourceGroupName, r.id.Name, nil)
	if err != nil {
		return nil, classify(op, nicID, err)
	}
	return nicIPs(&resp.Interface), nil
}

// GetVNet returns a virtual network with its address space and peerings.
func (c *Client) GetVNet(ctx context.Context, id string) (core.VNet, error) {
	const op = "get vnet"
	r, err := c.resolve(op, id, core.TypeVirtualNetwork)
	if err != nil {
		return core.VNet{}, err
	}
	resp, err := r.f.network.NewVirtualNetworksClient().Get(ctx, r.id.ResourceGroupName, r.id.Name, nil)
	if err != nil {
		return core.VNet{}, classify(op, id, err)
	}
	v := vnet(resp.VirtualNetwork)
	if resp.Properties != nil && resp.Properties.VirtualNetworkPeerings == nil {
		// ARM normally embeds peerings (an empty list when there are none);
		// when the field is absent, ask for them
		pager := r.f.network.NewVirtualNetworkPeeringsClient().NewListPager(r.id.ResourceGroupName, r.id.Name, nil)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return core.VNet{}, classify("list peerings", id, err)
			}
			v.Peerings = append(v.Peerings, peerings(page.Value)...)
		}
	}
	return v, nil
}

// ListVNets returns every virtual network of a subscription.
func (c *Client) ListVNets(ctx context.Context, subscriptionID string) ([]core.VNet, error) {
	const op = "list vnets"
	scope := "/subscriptions/" + subscriptionID
	f, err := c.clients(subscriptionID)
	if err != nil {
		return nil, invalidID(op, scope, err)
	}
	var out []core.VNet
	pager := f.network.NewVirtualNetworksClient().NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(op, scope, err)
		}
		for _, v := range page.Value {
			if v != nil {
				out = append(out, vnet(*v))
			}
		}
	}
	return out, nil
}

// GetZone returns a private DNS zone (not part of core.Reader: used by the
// live checks and diagnostics).
func (c *Client) GetZone(ctx context.Context, zoneID string) (core.Zone, error) {
	const op = "get zone"
	r, err := c.resolve(op, zoneID, core.TypePrivateDNSZone)
	if err != nil {
		return core.Zone{}, err
	}
	resp, err := r.f.dns.NewPrivateZonesClient().Get(ctx, r.id.ResourceGroupName, r.id.Name, nil)
	if err != nil {
		return core.Zone{}, classify(op, zoneID, err)
	}
	z := core.Zone{ID: str(resp.ID), Name: str(resp.Name)}
	if z.ID == "" {
		z.ID = zoneID
	}
	if z.Name == "" {
		z.Name = r.id.Name
	}
	return z, nil
}

// ListVNetLinks returns the VNet links of a private DNS zone.
func (c *Client) ListVNetLinks(ctx context.Context, zoneID string) ([]core.VNetLink, error) {
	const op = "list vnet links"
	r, err := c.resolve(op, zoneID, core.TypePrivateDNSZone)
	if err != nil {
		return nil, err
	}
	return c.listLinks(ctx, r, op)
}

func (c *Client) listLinks(ctx context.Context, zone resource, op string) ([]core.VNetLink, error) {
	var out []core.VNetLink
	pager := zone.f.dns.NewVirtualNetworkLinksClient().NewListPager(zone.id.ResourceGroupName, zone.id.Name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(op, zone.raw, err)
		}
		for _, l := range page.Value {
			if link, ok := vnetLink(zone.raw, l); ok {
				out = append(out, link)
			}
		}
	}
	return out, nil
}

// ListARecords returns the A record sets of a private DNS zone.
func (c *Client) ListARecords(ctx context.Context, zoneID string) ([]core.ARecord, error) {
	const op = "list a records"
	r, err := c.resolve(op, zoneID, core.TypePrivateDNSZone)
	if err != nil {
		return nil, err
	}
	var out []core.ARecord
	pager := r.f.dns.NewRecordSetsClient().NewListByTypePager(r.id.ResourceGroupName, r.id.Name, armprivatedns.RecordTypeA, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, classify(op, zoneID, err)
		}
		for _, rs := range page.Value {
			if rec, ok := aRecord(zoneID, r.id.Name, rs); ok {
				out = append(out, rec)
			}
		}
	}
	return out, nil
}
