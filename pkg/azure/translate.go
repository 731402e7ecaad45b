package azure

import (
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Translation of SDK models into core types. Every function accepts models
// with any field nil and returns zero values for what is missing.

// status normalises a connection status (an enum on the HealthcareApis side,
// a plain string on the network side) to the core constants.
func status(s string) core.ConnectionStatus {
	for _, known := range []core.ConnectionStatus{core.StatusPending, core.StatusApproved, core.StatusRejected, core.StatusDisconnected} {
		if strings.EqualFold(s, string(known)) {
			return known
		}
	}
	return core.ConnectionStatus(s)
}

// lastName returns the last "/"-separated part of a name: HealthcareApis
// child resources come back named "workspace/fhir".
func lastName(name string) string {
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[i+1:]
	}
	return name
}

func nameOr(name *string, id string) string {
	if n := lastName(str(name)); n != "" {
		return n
	}
	return core.NameOf(id)
}

// targetConnection translates a HealthcareApis private endpoint connection
// (list item or single GET: both share the properties type).
func targetConnection(targetID string, id, name *string, p *armhealthcareapis.PrivateEndpointConnectionProperties) core.Connection {
	c := core.Connection{ID: str(id), TargetID: targetID}
	c.Name = nameOr(name, c.ID)
	if c.TargetID == "" {
		c.TargetID = core.ParentOf(c.ID)
	}
	if p == nil {
		return c
	}
	if p.PrivateEndpoint != nil {
		c.PrivateEndpointID = str(p.PrivateEndpoint.ID)
	}
	if s := p.PrivateLinkServiceConnectionState; s != nil {
		c.Status = status(strOf(s.Status))
		c.Description = str(s.Description)
		c.ActionsRequired = str(s.ActionsRequired)
	}
	return c
}

func targetConnections(targetID string, list []*armhealthcareapis.PrivateEndpointConnection) []core.Connection {
	var out []core.Connection
	for _, pec := range list {
		if pec == nil {
			continue
		}
		out = append(out, targetConnection(targetID, pec.ID, pec.Name, pec.Properties))
	}
	return out
}

func workspaceTarget(w armhealthcareapis.Workspace) core.Target {
	t := core.Target{ID: str(w.ID), Kind: core.TargetWorkspace, Location: str(w.Location), Tags: tags(w.Tags)}
	t.Name = nameOr(w.Name, t.ID)
	t.SubscriptionID, t.ResourceGroup = core.SubscriptionOf(t.ID), core.ResourceGroupOf(t.ID)
	if p := w.Properties; p != nil {
		t.PublicNetworkAccess = strOf(p.PublicNetworkAccess)
		t.Connections = targetConnections(t.ID, p.PrivateEndpointConnections)
	}
	return t
}

func serviceTarget(s armhealthcareapis.ServicesDescription, domain string) core.Target {
	t := core.Target{ID: str(s.ID), Kind: core.TargetService, Location: str(s.Location), Tags: tags(s.Tags)}
	t.Name = nameOr(s.Name, t.ID)
	t.SubscriptionID, t.ResourceGroup = core.SubscriptionOf(t.ID), core.ResourceGroupOf(t.ID)
	if t.Name != "" {
		t.FQDNs = []string{strings.ToLower(t.Name + "." + domain)}
	}
	if p := s.Properties; p != nil {
		t.PublicNetworkAccess = strOf(p.PublicNetworkAccess)
		t.Connections = targetConnections(t.ID, p.PrivateEndpointConnections)
	}
	return t
}

// fhirFQDN is the public host name of a workspace FHIR service:
// {workspace}-{fhirservice}.fhir.{domain}.
func fhirFQDN(workspace string, f *armhealthcareapis.FhirService, domain string) string {
	if f == nil || workspace == "" {
		return ""
	}
	name := nameOr(f.Name, str(f.ID))
	if name == "" {
		return ""
	}
	return strings.ToLower(workspace + "-" + name + ".fhir." + domain)
}

func endpointConnections(list []*armnetwork.PrivateLinkServiceConnection, manual bool) []core.EndpointConnection {
	var out []core.EndpointConnection
	for _, c := range list {
		if c == nil {
			continue
		}
		ec := core.EndpointConnection{Name: nameOr(c.Name, str(c.ID)), Manual: manual}
		if p := c.Properties; p != nil {
			ec.TargetID = str(p.PrivateLinkServiceID)
			ec.GroupIDs = strs(p.GroupIDs)
			ec.RequestMessage = str(p.RequestMessage)
			if s := p.PrivateLinkServiceConnectionState; s != nil {
				ec.Status = status(str(s.Status))
				ec.Description = str(s.Description)
			}
		}
		out = append(out, ec)
	}
	return out
}

// nicIPs returns the private IPs of a NIC's ip configurations.
func nicIPs(n *armnetwork.Interface) []string {
	if n == nil || n.Properties == nil {
		return nil
	}
	var ips []string
	for _, ipc := range n.Properties.IPConfigurations {
		if ipc == nil || ipc.Properties == nil {
			continue
		}
		ips = appendUnique(ips, str(ipc.Properties.PrivateIPAddress))
	}
	return ips
}

// endpoint translates a private endpoint (GET with expanded NICs). The
// private IPs are those of customDnsConfigs, of static ipConfigurations and
// of the NICs' ip configurations when expanded.
func endpoint(pe armnetwork.PrivateEndpoint) core.Endpoint {
	e := core.Endpoint{ID: str(pe.ID), Location: str(pe.Location), Tags: tags(pe.Tags)}
	e.Name = nameOr(pe.Name, e.ID)
	e.SubscriptionID, e.ResourceGroup = core.SubscriptionOf(e.ID), core.ResourceGroupOf(e.ID)
	p := pe.Properties
	if p == nil {
		return e
	}
	e.ProvisioningState = strOf(p.ProvisioningState)
	if p.Subnet != nil {
		e.SubnetID = str(p.Subnet.ID)
		e.VNetID = core.ParentOf(e.SubnetID)
	}
	e.Connections = append(endpointConnections(p.ManualPrivateLinkServiceConnections, true),
		endpointConnections(p.PrivateLinkServiceConnections, false)...)
	for _, d := range p.CustomDNSConfigs {
		if d == nil {
			continue
		}
		ips := strs(d.IPAddresses)
		e.PrivateIPs = appendUnique(e.PrivateIPs, ips...)
		if fqdn := str(d.Fqdn); fqdn != "" {
			e.DNS = append(e.DNS, core.DNSRecord{FQDN: strings.TrimSuffix(fqdn, "."), IPs: ips})
		}
	}
	for _, ipc := range p.IPConfigurations {
		if ipc != nil && ipc.Properties != nil {
			e.PrivateIPs = appendUnique(e.PrivateIPs, str(ipc.Properties.PrivateIPAddress))
		}
	}
	for _, n := range p.NetworkInterfaces {
		e.PrivateIPs = appendUnique(e.PrivateIPs, nicIPs(n)...)
	}
	return e
}

// unexpandedNICs returns the IDs of NICs whose ip configurations the
// endpoint GET did not include.
func unexpandedNICs(pe armnetwork.PrivateEndpoint) []string {
	if pe.Properties == nil {
		return nil
	}
	var ids []string
	for _, n := range pe.Properties.NetworkInterfaces {
		if n == nil || str(n.ID) == "" {
			continue
		}
		if n.Properties == nil || len(n.Properties.IPConfigurations) == 0 {
			ids = append(ids, str(n.ID))
		}
	}
	return ids
}

func zoneGroup(g *armnetwork.PrivateDNSZoneGroup) (core.ZoneGroup, bool) {
	if g == nil {
		return core.ZoneGroup{}, false
	}
	zg := core.ZoneGroup{ID: str(g.ID)}
	zg.Name = nameOr(g.Name, zg.ID)
	if g.Properties == nil {
		return zg, true
	}
	for _, cfg := range g.Properties.PrivateDNSZoneConfigs {
		if cfg == nil || cfg.Properties == nil {
			continue
		}
		if z := str(cfg.Properties.PrivateDNSZoneID); z != "" {
			zg.ZoneIDs = append(zg.ZoneIDs, z)
		}
		for _, rs := range cfg.Properties.RecordSets {
			if rs == nil {
				continue
			}
			fqdn := strings.TrimSuffix(str(rs.Fqdn), ".")
			if fqdn == "" {
				continue
			}
			zg.Records = append(zg.Records, core.DNSRecord{FQDN: fqdn, IPs: strs(rs.IPAddresses)})
		}
	}
	return zg, true
}

func vnet(v armnetwork.VirtualNetwork) core.VNet {
	n := core.VNet{ID: str(v.ID), Location: str(v.Location), Tags: tags(v.Tags)}
	n.Name = nameOr(v.Name, n.ID)
	n.SubscriptionID, n.ResourceGroup = core.SubscriptionOf(n.ID), core.ResourceGroupOf(n.ID)
	if p := v.Properties; p != nil {
		if p.AddressSpace != nil {
			n.AddressPrefixes = strs(p.AddressSpace.AddressPrefixes)
		}
		n.Peerings = peerings(p.VirtualNetworkPeerings)
	}
	return n
}

func peerings(list []*armnetwork.VirtualNetworkPeering) []core.Peering {
	var out []core.Peering
	for _, p := range list {
		if p == nil {
			continue
		}
		cp := core.Peering{ID: str(p.ID)}
		cp.Name = nameOr(p.Name, cp.ID)
		if p.Properties != nil {
			cp.State = strOf(p.Properties.PeeringState)
			if p.Properties.RemoteVirtualNetwork != nil {
				cp.RemoteVNetID = str(p.Properties.RemoteVirtualNetwork.ID)
			}
		}
		out = append(out, cp)
	}
	return out
}

func vnetLink(zoneID string, l *armprivatedns.VirtualNetworkLink) (core.VNetLink, bool) {
	if l == nil {
		return core.VNetLink{}, false
	}
	out := core.VNetLink{ID: str(l.ID), ZoneID: zoneID, Tags: tags(l.Tags), ETag: str(l.Etag)}
	out.Name = nameOr(l.Name, out.ID)
	if out.ZoneID == "" {
		out.ZoneID = core.ParentOf(out.ID)
	}
	if p := l.Properties; p != nil {
		if p.VirtualNetwork != nil {
			out.VNetID = str(p.VirtualNetwork.ID)
		}
		out.RegistrationEnabled = boolOf(p.RegistrationEnabled)
		out.ResolutionPolicy = strOf(p.ResolutionPolicy)
		out.State = strOf(p.VirtualNetworkLinkState)
	}
	return out, true
}

// aRecord translates an A record set; ok is false for nil sets and sets of
// another type.
func aRecord(zoneID, zoneName string, rs *armprivatedns.RecordSet) (core.ARecord, bool) {
	if rs == nil {
		return core.ARecord{}, false
	}
	if t := str(rs.Type); t != "" && !strings.HasSuffix(strings.ToLower(t), "/a") {
		return core.ARecord{}, false
	}
	r := core.ARecord{ZoneID: zoneID, Name: nameOr(rs.Name, str(rs.ID))}
	if p := rs.Properties; p != nil {
		r.FQDN = strings.TrimSuffix(str(p.Fqdn), ".")
		r.TTL = int64Of(p.TTL)
		for _, a := range p.ARecords {
			if a != nil {
				r.IPs = appendUnique(r.IPs, str(a.IPv4Address))
			}
		}
	}
	if r.FQDN == "" && zoneName != "" {
		if r.Name == "@" {
			r.FQDN = zoneName
		} else if r.Name != "" {
			r.FQDN = r.Name + "." + zoneName
		}
	}
	return r, true
}
