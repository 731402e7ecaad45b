package sandboxnet

import (
	"encoding/json"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/sandbox"
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
}

func (v *SandboxView) read() state {
	st := state{zones: map[string][]string{}, links: map[string][]string{}, records: map[string][]string{}, hosts: map[string]bool{}}
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
			if zn := strings.ToLower(core.NameOf(zone)); strings.HasPrefix(zn, "privatelink.") {
				st.hosts[strings.ToLower(core.NameOf(r.ID))+"."+strings.TrimPrefix(zn, "privatelink.")] = true
			}
		case typ == "microsoft.healthcareapis/services":
			st.hosts[strings.ToLower(core.NameOf(r.ID))+".azurehealthcareapis.com"] = true
		case typ == "microsoft.healthcareapis/workspaces/fhirservices":
			ws := core.NameOf(core.ParentOf(r.ID))
			st.hosts[strings.ToLower(ws+"-"+core.NameOf(r.ID))+".fhir.azurehealthcareapis.com"] = true
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

// zoneOf returns the zone id of a child id (".../privateDnsZones/Z/sep/NAME").
func zoneOf(id, sep string) string {
	i := strings.LastIndex(strings.ToLower(id), strings.ToLower(sep))
	if i < 0 {
		return core.ParentOf(id)
	}
	return id[:i]
}

// Resolve answers as Azure's resolver inside vnetID: the zone shadowing
// fqdn is the one named "privatelink." + the longest suffix of fqdn for
// which such a zone exists; when vnetID is linked to one of the zones of
// that name, the answer is its A record for the rest of the name (none:
// NXDOMAIN after the alias). known is false for host names the sandbox has
// no resource, endpoint or record for.
func (v *SandboxView) Resolve(vnetID, fqdn string) (privateIPs []string, linked bool, known bool) {
	fqdn = strings.ToLower(strings.TrimSuffix(fqdn, "."))
	st := v.read()
	known = st.hosts[fqdn]
	labels := strings.Split(fqdn, ".")
	for i := 1; i < len(labels); i++ { // longest suffix first
		suffix := strings.Join(labels[i:], ".")
		zones := st.zones["privatelink."+suffix]
		if len(zones) == 0 {
			continue
		}
		rel := strings.Join(labels[:i], ".")
		for _, z := range zones {
			for _, vn := range st.links[core.IDKey(z)] {
				if core.SameID(vn, vnetID) {
					return st.records[core.IDKey(z)+"|"+rel], true, known
				}
			}
		}
		return nil, false, known
	}
	return nil, false, known
}
