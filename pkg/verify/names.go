package verify

import (
	"fmt"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Which host names the verifier probes. DNS queries and HTTPS requests go
// only to names derived from the governed target itself: the FQDNs ARM
// reports for the target, and the names the private DNS table
// (core.DNSTable) gives a target of that name ({name}.azurehealthcareapis.com
// for a legacy service; {ws}.workspace..., {ws}-{svc}.fhir... and
// {ws}-{svc}.dicom... for a workspace). A name from endpoint-owned data (the
// endpoint's customDnsConfigs, written by whoever owns the endpoint) is used
// only when it is one of those; any other name is never resolved nor
// called, and is reported as a finding ("endpoint dns names").

// kindOfTargetID is the target kind an id names ("" for other ids).
func kindOfTargetID(id string) core.TargetKind {
	l := strings.ToLower(id)
	switch {
	case strings.Contains(l, "/providers/microsoft.healthcareapis/workspaces/") && !strings.Contains(l, "/fhirservices/"):
		return core.TargetWorkspace
	case strings.Contains(l, "/providers/microsoft.healthcareapis/services/"):
		return core.TargetService
	}
	return ""
}

// targetName is the name of the workspace or service an id names.
func targetName(id string) string {
	l := strings.ToLower(id)
	for _, seg := range []string{"/workspaces/", "/services/"} {
		if i := strings.Index(l, seg); i >= 0 {
			rest := l[i+len(seg):]
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				rest = rest[:j]
			}
			return rest
		}
	}
	return ""
}

// derivedFrom reports whether fqdn is a host name of the target with this
// id by the private DNS table: a record of one of the zones the target's
// kind uses, named after the target.
func derivedFrom(fqdn, targetID string) bool {
	kind, name := kindOfTargetID(targetID), targetName(targetID)
	if kind == "" || name == "" {
		return false
	}
	zone, rec, ok := core.ZoneForFQDN(fqdn)
	if !ok || strings.HasSuffix(strings.ToLower(strings.TrimSuffix(fqdn, ".")), "."+zone.Zone) {
		return false // a privatelink name is not a public host name
	}
	inKind := false
	for _, z := range core.ZonesForKind(kind) {
		inKind = inKind || z.Zone == zone.Zone
	}
	if !inKind {
		return false
	}
	switch zone.Service {
	case core.DNSServiceLegacyFHIR, core.DNSServiceWorkspace:
		return rec == name
	default: // fhir and dicom services of a workspace: {ws}-{service}
		svc, ok := strings.CutPrefix(rec, name+"-")
		return ok && svc != "" && !strings.Contains(svc, ".")
	}
}

// governedTargetIDs are the targets whose names may be probed: the
// subject's target, else the targets of the endpoint's approved
// connections.
func (w *world) governedTargetIDs() []string {
	if w.s.TargetID != "" {
		return []string{w.s.TargetID}
	}
	var out []string
	if w.endpoint != nil {
		for _, c := range w.endpoint.Connections {
			if c.Status == core.StatusApproved && c.TargetID != "" {
				out = append(out, c.TargetID)
			}
		}
	}
	return out
}

// zoneTargetIDs are the targets whose table zones the zone checks expect:
// the subject's target, else the targets of all the endpoint's connections
// (zones are only compared, never probed).
func (w *world) zoneTargetIDs() []string {
	if w.s.TargetID != "" {
		return []string{w.s.TargetID}
	}
	var out []string
	if w.endpoint != nil {
		for _, c := range w.endpoint.Connections {
			if c.TargetID != "" {
				out = append(out, c.TargetID)
			}
		}
	}
	return out
}

// governedName reports whether fqdn may be probed: one of the target's
// ARM-reported FQDNs, or derived from a governed target by the table.
func (w *world) governedName(fqdn string) bool {
	if w.target != nil {
		for _, f := range w.target.FQDNs {
			if sameName(f, fqdn) {
				return true
			}
		}
	}
	for _, id := range w.governedTargetIDs() {
		if derivedFrom(fqdn, id) {
			return true
		}
	}
	return false
}

// strayNames are the endpoint's customDnsConfigs names that are not host
// names of the governed target: never probed, reported.
func (w *world) strayNames() []string {
	if w.endpoint == nil {
		return nil
	}
	var out []string
	for _, d := range w.endpoint.DNS {
		f := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d.FQDN), "."))
		if f != "" && !w.governedName(f) {
			out = append(out, f)
		}
	}
	return out
}

// checkEndpointNames compares the endpoint's customDnsConfigs with the
// governed target's host names.
func checkEndpointNames(w *world) CheckResult {
	if w.endpoint == nil || len(w.endpoint.DNS) == 0 {
		return CheckResult{Status: StatusSkipped, Evidence: []string{"no endpoint DNS configuration to compare"}}
	}
	if w.target == nil && len(w.governedTargetIDs()) == 0 {
		return CheckResult{Status: StatusSkipped, Evidence: []string{"no approved connection to a target: the endpoint's DNS names are neither compared nor probed"}}
	}
	stray := w.strayNames()
	res := CheckResult{Status: StatusPass}
	for _, d := range w.endpoint.DNS {
		res.Evidence = append(res.Evidence, fmt.Sprintf("endpoint %s customDnsConfigs: %s -> %s", w.endpoint.Name, d.FQDN, strings.Join(d.IPs, ", ")))
	}
	if len(stray) == 0 {
		return res
	}
	targets := make([]string, 0, 1)
	for _, id := range w.governedTargetIDs() {
		targets = append(targets, nameOf(id))
	}
	who := "the governed target"
	if len(targets) > 0 {
		who = strings.Join(targets, ", ")
	}
	res.Status = StatusFail
	res.Diagnosis = fmt.Sprintf("the endpoint %s names %s in its DNS configuration, which is not a host name of %s (its ARM-reported FQDNs or the private DNS table's names for it): not resolved and not called; the endpoint's DNS configuration does not match its target",
		w.endpoint.Name, strings.Join(stray, ", "), who)
	return res
}

// neededZoneIDs are the managed zones (w.zoneIDs) the governed targets need
// per the private DNS table; all of them when no target kind is known.
func (w *world) neededZoneIDs() []string {
	zones := w.zoneIDs()
	need := map[string]bool{}
	for _, id := range w.zoneTargetIDs() {
		for _, z := range core.ZonesForKind(kindOfTargetID(id)) {
			need[z.Zone] = true
		}
	}
	if w.target != nil && w.target.Kind != "" {
		for _, z := range core.ZonesForKind(w.target.Kind) {
			need[z.Zone] = true
		}
	}
	if len(need) == 0 {
		return zones
	}
	var out []string
	for _, z := range zones {
		if need[core.ZoneNameOfID(z)] {
			out = append(out, z)
		}
	}
	return out
}
