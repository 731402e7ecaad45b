package policy

import (
	"fmt"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// ZoneWarnings says where the managed zones (zones) cannot serve the
// governed targets, per the private DNS table (core.DNSTable): a zone a
// governed target type needs that is not managed (its endpoints get no
// record there, and every client keeps resolving the public address), and
// a managed zone no governed target needs (never put in a zone group nor
// linked for an endpoint; only link rules naming it use it). The policy is
// valid all the same; `policy check` prints these. Empty when the zones fit.
func (p *Policy) ZoneWarnings() []string {
	if p == nil || len(p.zones) == 0 && !p.zoneGroup.Enabled && !p.linkEndpointVNets && !p.linkPeeredVNets {
		return nil
	}
	kinds := map[core.TargetKind]bool{}
	var order []core.TargetKind
	addKind := func(k core.TargetKind) {
		if k != "" && !kinds[k] {
			kinds[k] = true
			order = append(order, k)
		}
	}
	for _, k := range p.TargetTypes() {
		addKind(k)
	}
	for _, id := range p.ids {
		if k, ok := targetKindOf(id); ok {
			addKind(k)
		}
	}
	managed := map[string]bool{}
	for _, z := range p.zones {
		managed[core.ZoneNameOfID(z.ID)] = true
	}
	needed := map[string]bool{}
	var out []string
	for _, k := range order {
		for _, z := range core.ZonesForKind(k) {
			needed[z.Zone] = true
			if !managed[z.Zone] {
				out = append(out, fmt.Sprintf("zones: the governed %ss need the private DNS zone %s (names under %s) and it is not listed: their endpoints get no record there and clients keep resolving the public address; add the zone's resource id under zones",
					k, z.Zone, z.PublicSuffix))
			}
		}
	}
	for _, z := range p.zones {
		n := core.ZoneNameOfID(z.ID)
		if needed[n] {
			continue
		}
		var why string
		if row, ok := core.ZoneByName(n); ok {
			why = fmt.Sprintf("it serves %s names (%s), and no governed target is of that type", row.Service, row.PublicSuffix)
		} else {
			why = "it is not a zone of the private DNS table for " + strings.Join(kindNames(), " or ")
		}
		out = append(out, fmt.Sprintf("zones: %s serves none of the governed targets: %s; it gets no zone group and no endpoint link, only link rules that name it use it", n, why))
	}
	return out
}

func kindNames() []string {
	var out []string
	for _, row := range core.DNSTable() {
		out = append(out, row.ResourceType)
	}
	return out
}
