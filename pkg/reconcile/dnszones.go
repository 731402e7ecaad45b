package reconcile

import (
	"fmt"
	"sort"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Zones per target, from the private DNS table (core.DNSTable): an approved
// endpoint's zone group and the links of the VNets that must reach its
// target cover the managed zones its group id needs, and no others. A zone
// the table asks for that the policy does not manage, and records an older
// deployment wrote into a zone no client resolves through, are reported as
// findings (KindDNSFinding), never silently skipped; nothing is deleted.

// tableZones returns the table rows an approved endpoint needs: those of the
// group ids of its connection to the target, else those of the target's
// kind.
func tableZones(s State, ae approvedEndpoint) []core.PrivateDNSZone {
	var out []core.PrivateDNSZone
	seen := map[string]bool{}
	add := func(zs []core.PrivateDNSZone) {
		for _, z := range zs {
			if !seen[z.Zone] {
				seen[z.Zone] = true
				out = append(out, z)
			}
		}
	}
	if es, ok := s.Endpoint(ae.endpointID); ok && es.Endpoint != nil {
		for _, c := range es.Endpoint.Connections {
			if !core.SameID(c.TargetID, ae.targetID) {
				continue
			}
			for _, g := range c.GroupIDs {
				add(core.ZonesForGroupID(g))
			}
		}
	}
	if len(out) == 0 {
		add(core.ZonesForKind(targetKind(s, ae.targetID)))
	}
	return out
}

// targetKind is the kind of a gathered target, else the kind its id names.
func targetKind(s State, id string) core.TargetKind {
	for _, t := range s.Targets {
		if core.SameID(t.ID, id) && t.Kind != "" {
			return t.Kind
		}
	}
	l := strings.ToLower(id)
	switch {
	case strings.Contains(l, "/providers/microsoft.healthcareapis/workspaces/"):
		return core.TargetWorkspace
	case strings.Contains(l, "/providers/microsoft.healthcareapis/services/"):
		return core.TargetService
	}
	return ""
}

// neededManaged returns the managed zones (policy order) an approved
// endpoint needs per the table. A zone name managed twice (two resource
// groups) counts once: the first listed.
func neededManaged(s State, p Policy, ae approvedEndpoint) []core.Zone {
	need := map[string]bool{}
	for _, z := range tableZones(s, ae) {
		need[z.Zone] = true
	}
	var out []core.Zone
	for _, z := range p.Zones() {
		n := core.ZoneNameOfID(z.ID)
		if need[n] {
			out = append(out, z)
			delete(need, n)
		}
	}
	return out
}

// linkedIn reports whether vnetID has a link in every zone of zones (all of
// them listed in s); false for no zones. With unmanagedOnly, only links the
// autopilot does not own count.
func linkedIn(s State, zones []core.Zone, vnetID string, unmanagedOnly bool) bool {
	if len(zones) == 0 {
		return false
	}
	for _, z := range zones {
		links, listed := s.Links[core.IDKey(z.ID)]
		if !listed {
			return false
		}
		l, ok := findLink(links, vnetID)
		if !ok || unmanagedOnly && l.Managed() {
			return false
		}
	}
	return true
}

func zoneNamesOf(zones []core.Zone) []string {
	out := make([]string, 0, len(zones))
	for _, z := range zones {
		out = append(out, core.ZoneNameOfID(z.ID))
	}
	return out
}

func containsZone(zones []core.Zone, id string) bool {
	for _, z := range zones {
		if core.SameID(z.ID, id) {
			return true
		}
	}
	return false
}

// dnsFindings reports, for an approved endpoint, the zones of the table its
// target needs that the policy does not manage, and the records its zone
// groups hold in a zone that does not serve them (a workspace's
// "ws-fhir.fhir" record in privatelink.azurehealthcareapis.com: Azure
// resolves ws-fhir.fhir.azurehealthcareapis.com through
// privatelink.fhir.azurehealthcareapis.com, so the record is never used).
// One finding per endpoint and zone; nothing is written or deleted.
func (b *planner) dnsFindings(ae approvedEndpoint) {
	es, _ := b.s.Endpoint(ae.endpointID)
	if es.Endpoint == nil {
		return
	}
	ep := es.Endpoint
	kind := targetKind(b.s, ae.targetID)
	managed := map[string]bool{}
	for _, z := range b.p.Zones() {
		managed[core.ZoneNameOfID(z.ID)] = true
	}
	inGroup := map[string]bool{}
	for _, g := range ep.ZoneGroups {
		for _, id := range g.ZoneIDs {
			inGroup[core.ZoneNameOfID(id)] = true
		}
	}
	names := endpointNames(ep)
	// Useless records: a record whose public name another zone serves.
	useless := map[string][]string{} // zone that should serve -> records
	var order []string
	for _, g := range ep.ZoneGroups {
		for _, r := range g.Records {
			zone, rec, ok := core.ZoneForFQDN(r.FQDN)
			if !ok {
				continue
			}
			public := rec + "." + zone.PublicSuffix
			right, _, ok := core.ZoneForFQDN(public)
			if !ok || right.Zone == zone.Zone {
				continue
			}
			if _, seen := useless[right.Zone]; !seen {
				order = append(order, right.Zone)
			}
			useless[right.Zone] = append(useless[right.Zone], fmt.Sprintf("%q in %s (for %s)", rec, zone.Zone, public))
		}
	}
	for _, z := range tableZones(b.s, ae) {
		served := namesServedBy(names, z)
		recs := useless[z.Zone]
		delete(useless, z.Zone)
		var missing []string
		if !managed[z.Zone] {
			missing = append(missing, "the policy does not manage the zone "+z.Zone+" (list its resource id under zones)")
		} else if !inGroup[z.Zone] && len(recs) > 0 {
			missing = append(missing, "the endpoint's zone group lacks "+z.Zone)
		}
		if len(missing) == 0 && len(recs) == 0 {
			continue
		}
		var parts []string
		if len(recs) > 0 {
			parts = append(parts, "records no client resolves through: "+strings.Join(recs, ", ")+" (left in place: the autopilot deletes nothing it did not create)")
		}
		parts = append(parts, missing...)
		if !managed[z.Zone] {
			if len(served) > 0 {
				parts = append(parts, "so "+strings.Join(served, ", ")+" still resolve(s) to the public address in every VNet")
			} else {
				parts = append(parts, "so names under "+z.PublicSuffix+" resolve to the public address in every VNet")
			}
		}
		b.plan.Actions = append(b.plan.Actions, dnsFindingAction(ep.ID, ae.targetID, z.Zone, fmt.Sprintf("%s endpoint %s needs private DNS zone %s: %s",
			kind, ep.Name, z.Zone, strings.Join(parts, "; "))))
	}
	// Records in a wrong zone whose right zone this target does not need
	// (should not happen; reported all the same).
	for _, zn := range order {
		recs, left := useless[zn]
		if !left {
			continue
		}
		b.plan.Actions = append(b.plan.Actions, dnsFindingAction(ep.ID, ae.targetID, zn, fmt.Sprintf("endpoint %s: records no client resolves through: %s (names served by %s)",
			ep.Name, strings.Join(recs, ", "), zn)))
	}
}

// endpointNames are the public host names of an endpoint (its
// customDnsConfigs), lower case, sorted.
func endpointNames(ep *core.Endpoint) []string {
	var out []string
	for _, d := range ep.DNS {
		if f := strings.ToLower(strings.TrimSuffix(d.FQDN, ".")); f != "" {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

func namesServedBy(names []string, z core.PrivateDNSZone) []string {
	var out []string
	for _, n := range names {
		if got, _, ok := core.ZoneForFQDN(n); ok && got.Zone == z.Zone {
			out = append(out, n)
		}
	}
	return out
}
