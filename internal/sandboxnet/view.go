package sandboxnet

import (
	"encoding/json"
	"strings"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// SandboxView is the View over a *sandbox.Sandbox: it reads the sandbox's
// current state (Snapshot) on every query, so links and records written by
// the autopilot show in the next DNS answer, as in Azure once a link
// completes.
type SandboxView struct {
	sb *sandbox.Sandbox
}

// NewSandboxView returns the View of sb for NewDNSServer.
func NewSandboxView(sb *sandbox.Sandbox) *SandboxView { return &SandboxView{sb: sb} }

var _ View = (*SandboxView)(nil)

// resource is the part of a stored ARM resource the view reads.
type resource struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Properties struct {
		// virtualNetworkLinks
		VirtualNetwork *struct {
			ID string `json:"id"`
		} `json:"virtualNetwork"`
		VirtualNetworkLinkState string `json:"virtualNetworkLinkState"`
		// A record sets
		ARecords []struct {
			IPv4Address string `json:"ipv4Address"`
		} `json:"aRecords"`
		// private endpoints
		CustomDNSConfigs []struct {
			FQDN string `json:"fqdn"`
		} `json:"customDnsConfigs"`
	} `json:"properties"`
}

// state is what one query needs from the sandbox.
type state struct {
	zones   map[string][]string // zone name (lower) -> zone ids
	links   map[string][]string // zone id key -> linked VNet ids (completed)
	records map[string][]string // zone id key + "|" + relative name -> IPs
	hosts   map[string]bool     // public host names the sandbox knows
	// targets maps the public host names of the targets' own services to
	// the workspace or legacy service whose publicNetworkAccess governs
	// them.
	targets map[string]string
}

func (v *SandboxView) read() state {
	st := state{zones: map[string][]string{}, links: map[string][]string{}, records: map[string][]string{}, hosts: map[string]bool{}, targets: map[string]string{}}
	for _, raw := range v.sb.Snapshot() {
		var r resource
		if json.Unmarshal(raw, &r) != nil || r.ID == "" {
			continue // the sandbox stores decoded JSON; this does not happen
		}
		typ := strings.ToLower(r.Type)
		switch {
		case typ == "microsoft.network/privatednszones":
			name := strings.ToLower(core.NameOf(r.ID))
			st.zones[name] = append(st.zones[name], r.ID)
		case typ == "microsoft.network/privatednszones/virtualnetworklinks":
			if r.Properties.VirtualNetwork == nil || strings.EqualFold(r.Properties.VirtualNetworkLinkState, "InProgress") {
				continue
			}
			zone := zoneOf(r.ID, "/virtualNetworkLinks/")
			st.links[core.IDKey(zone)] = append(st.links[core.IDKey(zone)], r.Properties.VirtualNetwork.ID)
		case typ == "microsoft.network/privatednszones/a":
			zone := zoneOf(r.ID, "/A/")
			var ips []string
			for _, a := range r.Properties.ARecords {
				if a.IPv4Address != "" {
					ips = append(ips, a.IPv4Address)
				}
			}
			st.records[core.IDKey(zone)+"|"+strings.ToLower(core.NameOf(r.ID))] = ips
			// the public name the record answers for: "ws1-fhir1" in
			// privatelink.fhir... is ws1-fhir1.fhir.azurehealthcareapis.com
			if z, ok := core.ZoneByName(core.NameOf(zone)); ok {
				st.hosts[strings.ToLower(core.NameOf(r.ID))+"."+z.PublicSuffix] = true
			}
		case typ == "microsoft.healthcareapis/services":
			st.target(strings.ToLower(core.NameOf(r.ID))+"."+suffixOf(core.TargetService, core.DNSServiceLegacyFHIR), r.ID)
		case typ == "microsoft.healthcareapis/workspaces":
			st.target(strings.ToLower(core.NameOf(r.ID))+"."+suffixOf(core.TargetWorkspace, core.DNSServiceWorkspace), r.ID)
		case typ == "microsoft.healthcareapis/workspaces/fhirservices":
			ws := core.ParentOf(r.ID)
			st.target(strings.ToLower(core.NameOf(ws)+"-"+core.NameOf(r.ID))+"."+suffixOf(core.TargetWorkspace, core.DNSServiceFHIR), ws)
		case typ == "microsoft.healthcareapis/workspaces/dicomservices":
			ws := core.ParentOf(r.ID)
			st.target(strings.ToLower(core.NameOf(ws)+"-"+core.NameOf(r.ID))+"."+suffixOf(core.TargetWorkspace, core.DNSServiceDICOM), ws)
		case typ == "microsoft.network/privateendpoints":
			for _, d := range r.Properties.CustomDNSConfigs {
				if f := strings.ToLower(strings.TrimSuffix(d.FQDN, ".")); f != "" {
					st.hosts[f] = true
				}
			}
		}
	}
	return st
}

// target records a public host name of a target's own service.
func (st state) target(host, targetID string) {
	st.hosts[host] = true
	st.targets[host] = targetID
}

// suffixOf is the public suffix of a service of a target kind (private DNS
// table).
func suffixOf(kind core.TargetKind, svc core.DNSService) string {
	for _, z := range core.ZonesForKind(kind) {
		if z.Service == svc {
			return z.PublicSuffix
		}
	}
	return core.HealthcareDomain
}

// zoneOf returns the zone id of a child id (".../privateDnsZones/Z/sep/NAME").
func zoneOf(id, sep string) string {
	i := strings.LastIndex(strings.ToLower(id), strings.ToLower(sep))
	if i < 0 {
		return core.ParentOf(id)
	}
	return id[:i]
}

// Resolve answers as Azure's resolver inside vnetID: the zone that serves
// fqdn is the one of the private DNS table (core.ZoneForFQDN:
// "ws1-fhir1.fhir.azurehealthcareapis.com" is record "ws1-fhir1" in
// privatelink.fhir.azurehealthcareapis.com, whatever other zones exist);
// when vnetID is linked to a zone of that name, the answer is its A record
// (none: NXDOMAIN after the alias). Otherwise the public answer: a link to
// another zone (the legacy privatelink.azurehealthcareapis.com holding a
// "ws1-fhir1.fhir" record) is never consulted. known is false for host names
// the sandbox has no resource, endpoint or record for.
func (v *SandboxView) Resolve(vnetID, fqdn string) (privateIPs []string, linked bool, known bool) {
	fqdn = strings.ToLower(strings.TrimSuffix(fqdn, "."))
	st := v.read()
	known = st.hosts[fqdn]
	zone, rel, ok := core.ZoneForFQDN(fqdn)
	if !ok {
		return nil, false, known
	}
	for _, z := range st.zones[zone.Zone] {
		for _, vn := range st.links[core.IDKey(z)] {
			if core.SameID(vn, vnetID) {
				return st.records[core.IDKey(z)+"|"+rel], true, known
			}
		}
	}
	return nil, false, known
}
