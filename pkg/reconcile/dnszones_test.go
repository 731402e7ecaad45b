package reconcile

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

func zoneIDOf(name string) string {
	return "/subscriptions/" + subHub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/" + name
}

var (
	svcID   = "/subscriptions/" + subHub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/services/legacy1"
	pe2ID   = "/subscriptions/" + subSpoke + "/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe2"
	conn2ID = svcID + "/privateEndpointConnections/pe2.c2"
)

// fourZones is the world of the guide in small: a workspace and a legacy
// service, both with a pending connection from the spoke, and a policy that
// manages the four zones of the private DNS table.
func fourZones(t *testing.T) (*fakeARM, *fakePolicy) {
	t.Helper()
	f := world()
	f.endpoints[core.IDKey(pe1ID)] = withDNS(f.endpoints[core.IDKey(pe1ID)], "ws1-patients.fhir.azurehealthcareapis.com", "ws1.workspace.azurehealthcareapis.com")
	f.targets[core.IDKey(svcID)] = core.Target{ID: svcID, Kind: core.TargetService, Name: "legacy1", SubscriptionID: subHub,
		Connections: []core.Connection{{ID: conn2ID, Name: "pe2.c2", TargetID: svcID, PrivateEndpointID: pe2ID, Status: core.StatusPending}}}
	f.endpoints[core.IDKey(pe2ID)] = withDNS(core.Endpoint{ID: pe2ID, Name: "pe2", SubscriptionID: subSpoke, VNetID: spokeVNet,
		Connections: []core.EndpointConnection{{Name: "c2", TargetID: svcID, GroupIDs: []string{"fhir"}, Status: core.StatusPending, Manual: true}}},
		"legacy1.azurehealthcareapis.com")
	p := newFakePolicy()
	p.zones = nil
	for _, z := range core.AllPrivateDNSZones() {
		p.zones = append(p.zones, core.Zone{ID: zoneIDOf(z.Zone), Name: z.Zone})
	}
	return f, p
}

func withDNS(e core.Endpoint, fqdns ...string) core.Endpoint {
	for _, f := range fqdns {
		e.DNS = append(e.DNS, core.DNSRecord{FQDN: f, IPs: []string{"10.1.2.4"}})
	}
	return e
}

func allZonesState(f *fakeARM, p *fakePolicy, job jobs.Job) State {
	s := stateOf(f, job)
	for _, z := range p.zones {
		s.Links[core.IDKey(z.ID)] = append([]core.VNetLink(nil), f.links[core.IDKey(z.ID)]...)
	}
	return s
}

// The workspace endpoint's zone group names the workspace, fhir and dicom
// zones; the legacy endpoint's only privatelink.azurehealthcareapis.com;
// the VNets that reach the workspace are linked to privatelink.fhir... (and
// the other workspace zones), the legacy service's to the old zone only
// because it is what that target needs.
func TestZoneGroupsAndLinksFollowTheDNSTable(t *testing.T) {
	f, p := fourZones(t)
	pl := ComputePlan(allZonesState(f, p, reconcileJob(jobs.SubjectTarget, wsID)), p)
	groups := map[string][]string{}
	var links []string
	for _, a := range pl.Actions {
		switch a.Kind {
		case KindAddZoneGroup:
			groups[core.NameOf(a.Resource)] = zoneNames(mustZoneGroup(t, a).ZoneIDs)
		case KindCreateLink:
			links = append(links, core.NameOf(a.Resource)+" "+core.NameOf(a.Zone))
		case KindDNSFinding:
			t.Errorf("unexpected finding with all four zones managed: %s", a.Reason)
		}
	}
	slices.Sort(links)
	wantGroups := map[string][]string{
		"pe1": {"privatelink.dicom.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "privatelink.workspace.azurehealthcareapis.com"},
		"pe2": {"privatelink.azurehealthcareapis.com"},
	}
	if diff := cmp.Diff(groups, wantGroups); diff != "" {
		t.Errorf("zone group zones per endpoint (-got +want):\n%s", diff)
	}
	// both endpoints sit in spoke1 (peered with hub): the VNets get the
	// union of what their targets need, each zone once
	var want []string
	for _, v := range []string{"hub", "spoke1"} {
		for _, z := range []string{"privatelink.azurehealthcareapis.com", "privatelink.dicom.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "privatelink.workspace.azurehealthcareapis.com"} {
			want = append(want, v+" "+z)
		}
	}
	if diff := cmp.Diff(links, want); diff != "" {
		t.Errorf("links (-got +want):\n%s", diff)
	}

	// The legacy endpoint alone (an endpoint job): its VNets are linked to
	// the old zone only.
	st := allZonesState(f, p, reconcileJob(jobs.SubjectEndpoint, pe2ID))
	st.OnlyEndpoint = pe2ID
	links = nil
	for _, a := range ComputePlan(st, p).Actions {
		if a.Kind == KindCreateLink {
			links = append(links, core.NameOf(a.Resource)+" "+core.NameOf(a.Zone))
		}
	}
	slices.Sort(links)
	if diff := cmp.Diff(links, []string{"hub privatelink.azurehealthcareapis.com", "spoke1 privatelink.azurehealthcareapis.com"}); diff != "" {
		t.Errorf("legacy endpoint's links (-got +want):\n%s", diff)
	}
}

// A legacy endpoint whose group already names the old zone needs nothing,
// whatever other zones the policy manages.
func TestLegacyEndpointWithOldZoneIsConverged(t *testing.T) {
	f, p := fourZones(t)
	t2 := f.targets[core.IDKey(svcID)]
	t2.Connections[0].Status = core.StatusApproved
	f.targets[core.IDKey(svcID)] = t2
	e := f.endpoints[core.IDKey(pe2ID)]
	e.ZoneGroups = []core.ZoneGroup{{Name: "default", ZoneIDs: []string{zoneIDOf("privatelink.azurehealthcareapis.com")}}}
	f.endpoints[core.IDKey(pe2ID)] = e
	for _, v := range []string{spokeVNet, hubVNet} {
		z := zoneIDOf("privatelink.azurehealthcareapis.com")
		f.links[core.IDKey(z)] = append(f.links[core.IDKey(z)], core.VNetLink{ID: z + "/virtualNetworkLinks/" + core.NameOf(v), ZoneID: z, VNetID: v})
	}
	st := allZonesState(f, p, reconcileJob(jobs.SubjectEndpoint, pe2ID))
	st.OnlyEndpoint = pe2ID
	pl := ComputePlan(st, p)
	if len(pl.Actions) != 0 {
		t.Errorf("converged legacy endpoint: plan %v, want nothing", summary(pl))
	}
}

// The migration case: an earlier deployment put the workspace's record
// "ws1-patients.fhir" into privatelink.azurehealthcareapis.com (via a zone
// group naming only the old zone) and the policy does not manage
// privatelink.fhir...: the finding names the useless record and the missing
// zone, and nothing is deleted.
func TestMigrationFindingNamesUselessRecordsAndMissingZone(t *testing.T) {
	f := world()
	t1 := f.targets[core.IDKey(wsID)]
	t1.Connections[0].Status = core.StatusApproved
	f.targets[core.IDKey(wsID)] = t1
	old := zoneIDOf("privatelink.azurehealthcareapis.com")
	e := withDNS(f.endpoints[core.IDKey(pe1ID)], "ws1-patients.fhir.azurehealthcareapis.com")
	e.ZoneGroups = []core.ZoneGroup{{Name: "default", ZoneIDs: []string{old},
		Records: []core.DNSRecord{{FQDN: "ws1-patients.fhir.privatelink.azurehealthcareapis.com", IPs: []string{"10.1.2.4"}}}}}
	f.endpoints[core.IDKey(pe1ID)] = e
	p := newFakePolicy()
	p.zones = []core.Zone{{ID: old, Name: "privatelink.azurehealthcareapis.com"}}
	pl := ComputePlan(allZonesState(f, p, reconcileJob(jobs.SubjectTarget, wsID)), p)

	var fhir *Action
	zones := map[string]bool{}
	for i, a := range pl.Actions {
		if a.Kind.IsChange() {
			t.Errorf("migration plan writes %s %s; want findings only (old zone serves no workspace name)", a.Kind, a.Resource)
		}
		if a.Kind == KindDNSFinding {
			zones[a.Zone] = true
			if a.Zone == "privatelink.fhir.azurehealthcareapis.com" {
				fhir = &pl.Actions[i]
			}
		}
	}
	if fhir == nil {
		t.Fatalf("no finding for privatelink.fhir...; findings for %v", zones)
	}
	for _, want := range []string{`"ws1-patients.fhir" in privatelink.azurehealthcareapis.com`, "ws1-patients.fhir.azurehealthcareapis.com",
		"does not manage the zone privatelink.fhir.azurehealthcareapis.com", "deletes nothing"} {
		if !strings.Contains(fhir.Reason, want) {
			t.Errorf("finding %q lacks %q", fhir.Reason, want)
		}
	}
	if !zones["privatelink.workspace.azurehealthcareapis.com"] || !zones["privatelink.dicom.azurehealthcareapis.com"] {
		t.Errorf("findings for %v, want the workspace and dicom zones reported missing too", zones)
	}
	if fhir.Resource != pe1ID || fhir.Target != wsID {
		t.Errorf("finding on %s target %s, want the endpoint and its workspace", fhir.Resource, fhir.Target)
	}
}
