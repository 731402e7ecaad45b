package verify

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// armChecks lists the ARM checks in report order.
func (v *Verifier) armChecks(w *world) []check {
	return []check{
		{name: "arm connection approved", run: func(ctx context.Context) CheckResult { return checkConnection(w) }},
		{name: "arm dns zone groups", run: func(ctx context.Context) CheckResult { return checkZoneGroups(w) }},
		{name: "arm a records", run: func(ctx context.Context) CheckResult { return v.checkARecords(ctx, w) }},
		{name: "arm vnet links", run: func(ctx context.Context) CheckResult { return v.checkVNetLinks(ctx, w) }},
		{name: "arm endpoint dns names", run: func(ctx context.Context) CheckResult { return checkEndpointNames(w) }},
	}
}

// readFailure turns a failed ARM read into a result: a resource that does
// not exist fails for good, anything else is an error that may go away.
func readFailure(what, id string, err error) CheckResult {
	if core.IsNotFound(err) {
		return CheckResult{
			Status:    StatusFail,
			Evidence:  []string{fmt.Sprintf("read %s %s: %v", what, id, err)},
			Diagnosis: fmt.Sprintf("the %s %s does not exist (deleted?); nothing to verify", what, nameOf(id)),
		}
	}
	retry, _ := core.IsRetryable(err)
	return CheckResult{
		Status:    StatusError,
		Evidence:  []string{fmt.Sprintf("read %s %s: %v", what, id, err)},
		Diagnosis: fmt.Sprintf("could not read the %s from ARM: %v", what, err),
		Retryable: retry,
	}
}

func checkConnection(w *world) CheckResult {
	s := w.s
	switch {
	case s.TargetID != "" && w.targetErr != nil:
		return readFailure("target", s.TargetID, w.targetErr)
	case s.TargetID != "" && w.target != nil:
		var found *core.Connection
		for i, c := range w.target.Connections {
			if (s.ConnectionID != "" && core.SameID(c.ID, s.ConnectionID)) ||
				(s.ConnectionID == "" && s.EndpointID != "" && core.SameID(c.PrivateEndpointID, s.EndpointID)) {
				found = &w.target.Connections[i]
				break
			}
		}
		if found == nil {
			which := "for endpoint " + nameOf(s.EndpointID)
			if s.ConnectionID != "" {
				which = nameOf(s.ConnectionID)
			}
			return CheckResult{
				Status:    StatusFail,
				Evidence:  []string{fmt.Sprintf("target %s has %d connections, none %s", w.target.Name, len(w.target.Connections), which)},
				Diagnosis: fmt.Sprintf("no private endpoint connection %s on %s: the endpoint was deleted or its request never reached the target", which, w.target.Name),
			}
		}
		return connectionStatus(fmt.Sprintf("connection %s on %s", found.Name, w.target.Name), found.Status, found.Description)
	case s.EndpointID != "" && w.endpointErr != nil:
		return readFailure("endpoint", s.EndpointID, w.endpointErr)
	case w.endpoint != nil && len(w.endpoint.Connections) > 0:
		// No target given: the endpoint's own view of its connections.
		res := CheckResult{Status: StatusPass}
		for _, c := range w.endpoint.Connections {
			r := connectionStatus(fmt.Sprintf("endpoint %s connection %s to %s", w.endpoint.Name, c.Name, nameOf(c.TargetID)), c.Status, c.Description)
			res.Evidence = append(res.Evidence, r.Evidence...)
			if r.Status != StatusPass && res.Status == StatusPass {
				res.Status, res.Diagnosis, res.Retryable = r.Status, r.Diagnosis, r.Retryable
			}
		}
		return res
	}
	return CheckResult{Status: StatusSkipped, Evidence: []string{"no target or endpoint connection to read"}}
}

func connectionStatus(what string, st core.ConnectionStatus, desc string) CheckResult {
	ev := fmt.Sprintf("%s: status %s", what, st)
	if desc != "" {
		ev += fmt.Sprintf(" (%q)", desc)
	}
	r := CheckResult{Evidence: []string{ev}}
	switch st {
	case core.StatusApproved:
		r.Status = StatusPass
	case core.StatusPending:
		r.Status = StatusFail
		r.Retryable = true
		r.Diagnosis = "the connection is still Pending: traffic does not flow until the FHIR resource's owner approves it (the autopilot approves it when a policy rule allows)"
	case core.StatusRejected:
		r.Status = StatusFail
		r.Diagnosis = "the connection was Rejected; a rejected request comes back only if the requester re-creates the private endpoint"
	case core.StatusDisconnected:
		r.Status = StatusFail
		r.Diagnosis = "the connection is Disconnected (the target or its connection was removed); re-create the private endpoint"
	default:
		r.Status = StatusFail
		r.Retryable = true
		r.Diagnosis = fmt.Sprintf("the connection status %q is not Approved", st)
	}
	return r
}

func checkZoneGroups(w *world) CheckResult {
	if w.s.EndpointID == "" {
		return CheckResult{Status: StatusSkipped, Evidence: []string{"no endpoint given"}}
	}
	if w.endpoint == nil {
		return readFailure("endpoint", w.s.EndpointID, w.endpointErr)
	}
	ep := w.endpoint
	var res CheckResult
	for _, zg := range ep.ZoneGroups {
		names := make([]string, 0, len(zg.ZoneIDs))
		for _, z := range zg.ZoneIDs {
			names = append(names, nameOf(z))
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("endpoint %s zone group %s: zones %s", ep.Name, zg.Name, strings.Join(names, ", ")))
	}
	if len(ep.ZoneGroups) == 0 {
		res.Evidence = append(res.Evidence, fmt.Sprintf("endpoint %s has no DNS zone group", ep.Name))
	}
	var missing []string
	for _, z := range w.neededZoneIDs() {
		if !endpointHasZone(ep, z) {
			missing = append(missing, nameOf(z))
		}
	}
	// The zones the private DNS table gives the target, by name, whether
	// managed or not: a group naming only other zones (a workspace endpoint
	// with only privatelink.azurehealthcareapis.com) writes no usable record.
	if len(w.zoneTargetIDs()) > 0 || (w.target != nil && w.target.Kind != "") {
		for _, zn := range w.tableZoneNames() {
			if !endpointHasZoneName(ep, zn) && !slices.Contains(missing, zn) {
				missing = append(missing, zn)
			}
		}
	}
	switch {
	case len(missing) > 0:
		res.Status = StatusFail
		res.Retryable = true
		res.Diagnosis = fmt.Sprintf("the endpoint %s has no DNS zone group for %s: without it no A record for the FHIR host is written to the zone and linked VNets get NXDOMAIN for the privatelink name; add a zone group (the autopilot's reconcile does; a landing-zone policy may add one about 10 minutes after creation)",
			ep.Name, strings.Join(missing, ", "))
	case len(ep.ZoneGroups) == 0:
		res.Status = StatusFail
		res.Retryable = true
		res.Diagnosis = fmt.Sprintf("the endpoint %s has no DNS zone group and no managed zone is configured: add a zone group for %s", ep.Name, strings.Join(w.tableZoneNames(), ", "))
	default:
		res.Status = StatusPass
	}
	return res
}

func endpointHasZoneName(ep *core.Endpoint, zoneName string) bool {
	for _, zg := range ep.ZoneGroups {
		for _, z := range zg.ZoneIDs {
			if core.ZoneNameOfID(z) == zoneName {
				return true
			}
		}
	}
	return false
}

func endpointHasZone(ep *core.Endpoint, zoneID string) bool {
	for _, zg := range ep.ZoneGroups {
		for _, z := range zg.ZoneIDs {
			if core.SameID(z, zoneID) {
				return true
			}
		}
	}
	return false
}

// zoneFor picks the managed zone that serves fqdn per the private DNS table
// and the record's FQDN in it ("ws1-fhir1.fhir.azurehealthcareapis.com" ->
// "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com" in
// privatelink.fhir.azurehealthcareapis.com). zoneID is "" when no managed
// zone has that name; zoneName is the table's zone ("" outside the table).
func zoneFor(zoneIDs []string, fqdn string) (zoneID, zoneName, recordFQDN string) {
	z, rec, ok := core.ZoneForFQDN(fqdn)
	if !ok {
		return "", "", ""
	}
	for _, id := range zoneIDs {
		if core.ZoneNameOfID(id) == z.Zone {
			return id, z.Zone, rec + "." + z.Zone
		}
	}
	return "", z.Zone, rec + "." + z.Zone
}

// tableZoneNames are the zones the governed targets need per the table
// (every zone of the table when no target is known).
func (w *world) tableZoneNames() []string {
	var out []string
	seen := map[string]bool{}
	add := func(zs []core.PrivateDNSZone) {
		for _, z := range zs {
			if !seen[z.Zone] {
				seen[z.Zone] = true
				out = append(out, z.Zone)
			}
		}
	}
	for _, id := range w.zoneTargetIDs() {
		add(core.ZonesForKind(kindOfTargetID(id)))
	}
	if w.target != nil {
		add(core.ZonesForKind(w.target.Kind))
	}
	if len(out) == 0 {
		add(core.AllPrivateDNSZones())
	}
	return out
}

func (v *Verifier) checkARecords(ctx context.Context, w *world) CheckResult {
	if w.s.EndpointID == "" {
		return CheckResult{Status: StatusSkipped, Evidence: []string{"no endpoint given"}}
	}
	if w.endpoint == nil {
		return readFailure("endpoint", w.s.EndpointID, w.endpointErr)
	}
	zones := w.zoneIDs()
	fqdns := w.fqdns()
	if len(zones) == 0 || len(fqdns) == 0 {
		return CheckResult{Status: StatusSkipped, Evidence: []string{fmt.Sprintf("%d managed zones and %d FQDNs known: nothing to compare", len(zones), len(fqdns))}}
	}
	records := map[string][]core.ARecord{}
	res := CheckResult{Status: StatusPass}
	var problems []string
	for _, f := range fqdns {
		z, zn, rec := zoneFor(zones, f)
		if z == "" {
			if zn == "" {
				problems = append(problems, fmt.Sprintf("%s is not a name of the private DNS table: no private zone serves it", f))
			} else {
				problems = append(problems, fmt.Sprintf("%s resolves through the zone %s (private DNS table), which is not among the managed zones or the endpoint's zone group: the record %s cannot exist, and every VNet gets the public address; add the zone",
					f, zn, rec))
			}
			res.Evidence = append(res.Evidence, fmt.Sprintf("%s: served by %s, not among %d managed zones", f, orUnknown(zn), len(zones)))
			if res.Status == StatusPass {
				res.Status = StatusFail
			}
			continue
		}
		rs, ok := records[core.IDKey(z)]
		if !ok {
			var err error
			rs, err = v.Reader.ListARecords(ctx, z)
			if err != nil {
				return readFailure("A records of zone", z, err)
			}
			records[core.IDKey(z)] = rs
		}
		want := w.expectIPs(f)
		var got *core.ARecord
		for i, r := range rs {
			name := r.FQDN
			if name == "" {
				name = r.Name + "." + nameOf(z)
			}
			if sameName(name, rec) {
				got = &rs[i]
				break
			}
		}
		if got == nil {
			res.Evidence = append(res.Evidence, fmt.Sprintf("zone %s: no A record %s", nameOf(z), rec))
			problems = append(problems, fmt.Sprintf("the zone %s has no A record %s (endpoint IP %s): the endpoint's zone group writes it; until then linked VNets get NXDOMAIN",
				nameOf(z), rec, strings.Join(want, ", ")))
			if res.Status == StatusPass {
				res.Status, res.Retryable = StatusFail, true
			}
			continue
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("zone %s: A %s -> %s (ttl %d)", nameOf(z), rec, strings.Join(got.IPs, ", "), got.TTL))
		if len(want) > 0 && !anyIn(got.IPs, want) {
			problems = append(problems, fmt.Sprintf("the A record %s points to %s but the endpoint's private IP is %s: a stale record (from a deleted endpoint?); delete it and let the zone group re-create it",
				rec, strings.Join(got.IPs, ", "), strings.Join(want, ", ")))
			res.Status, res.Retryable = StatusFail, false
		}
	}
	if len(problems) > 0 {
		if res.Status == StatusPass {
			res.Status = StatusFail
		}
		res.Diagnosis = strings.Join(problems, "; ")
	}
	return res
}

func anyIn(got, want []string) bool {
	for _, g := range got {
		if slices.Contains(want, g) {
			return true
		}
	}
	return false
}

func (v *Verifier) checkVNetLinks(ctx context.Context, w *world) CheckResult {
	if w.s.EndpointID != "" && w.endpoint == nil {
		return readFailure("endpoint", w.s.EndpointID, w.endpointErr)
	}
	zones := w.neededZoneIDs()
	vnets := w.vnetIDs()
	if len(zones) == 0 || len(vnets) == 0 {
		return CheckResult{Status: StatusSkipped, Evidence: []string{fmt.Sprintf("%d managed zones and %d VNets to reach the target: nothing to check", len(zones), len(vnets))}}
	}
	res := CheckResult{Status: StatusPass}
	var problems []string
	for _, z := range zones {
		links, err := v.Reader.ListVNetLinks(ctx, z)
		if err != nil {
			return readFailure("VNet links of zone", z, err)
		}
		zn := nameOf(z)
		for _, vn := range vnets {
			var link *core.VNetLink
			for i, l := range links {
				if core.SameID(l.VNetID, vn) {
					link = &links[i]
					break
				}
			}
			who := w.vnetName(vn)
			switch {
			case link == nil:
				res.Evidence = append(res.Evidence, fmt.Sprintf("zone %s: no link for VNet %s", zn, who))
				problems = append(problems, fmt.Sprintf("the VNet %s is not linked to %s; it resolves the public address and would get 403", who, zn))
				if res.Status == StatusPass {
					res.Status = StatusFail
				}
				res.Retryable = true
			case link.State == "" || strings.EqualFold(link.State, "Completed"):
				state := link.State
				if state == "" {
					state = "state not reported"
				}
				res.Evidence = append(res.Evidence, fmt.Sprintf("zone %s: link %s for VNet %s: %s", zn, link.Name, who, state))
			default:
				res.Evidence = append(res.Evidence, fmt.Sprintf("zone %s: link %s for VNet %s: %s", zn, link.Name, who, link.State))
				problems = append(problems, fmt.Sprintf("the link %s of VNet %s to %s is %s, not Completed; resolution stays public until it completes", link.Name, who, zn, link.State))
				if res.Status == StatusPass {
					res.Status = StatusRetry
				}
				res.Retryable = true
			}
		}
	}
	if len(problems) > 0 {
		res.Diagnosis = strings.Join(problems, "; ")
	}
	return res
}

func orUnknown(s string) string {
	if s == "" {
		return "no zone"
	}
	return s
}
