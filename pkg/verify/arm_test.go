package verify

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
)

// runARM runs only the ARM checks (no DNS or HTTP leaves the test).
func runARM(t *testing.T, r core.Reader, s Subject) map[string]CheckResult {
	t.Helper()
	v := &Verifier{Reader: r}
	w := v.gather(context.Background(), s)
	out := map[string]CheckResult{}
	for _, c := range v.armChecks(w) {
		res := c.run(context.Background())
		out[c.name] = res
	}
	return out
}

func TestARMChecks(t *testing.T) {
	type want struct {
		status    Status
		retryable bool
		diagnosis []string
	}
	tests := []struct {
		name   string
		break_ func(f *fakeReader)
		subj   func(s *Subject)
		want   map[string]want // checks not listed must pass
	}{
		{name: "guide's situation fully configured passes every check"},
		{
			name:   "pending connection waits for approval",
			break_: func(f *fakeReader) { setConn(f, core.StatusPending) },
			want:   map[string]want{"arm connection approved": {StatusFail, true, []string{"still Pending", "approves"}}},
		},
		{
			name:   "rejected connection is final",
			break_: func(f *fakeReader) { setConn(f, core.StatusRejected) },
			want:   map[string]want{"arm connection approved": {StatusFail, false, []string{"Rejected", "re-creates"}}},
		},
		{
			name: "connection found by its id",
			subj: func(s *Subject) { s.ConnectionID = strings.ToUpper(connID) },
		},
		{
			name:   "endpoint without zone group",
			break_: func(f *fakeReader) { updateEP(f, func(e *core.Endpoint) { e.ZoneGroups = nil }) },
			want: map[string]want{"arm dns zone groups": {StatusFail, true,
				[]string{"pe-fhir has no DNS zone group for privatelink.azurehealthcareapis.com", "NXDOMAIN"}}},
		},
		{
			name:   "zone without the endpoint's A record",
			break_: func(f *fakeReader) { f.records = nil },
			want: map[string]want{"arm a records": {StatusFail, true,
				[]string{"privatelink.azurehealthcareapis.com has no A record fhirserverxxx.privatelink.azurehealthcareapis.com", "172.21.0.4"}}},
		},
		{
			name: "stale A record from an older endpoint",
			break_: func(f *fakeReader) {
				f.records[core.IDKey(zoneID)][0].IPs = []string{"10.9.9.9"}
			},
			want: map[string]want{"arm a records": {StatusFail, false, []string{"points to 10.9.9.9", "172.21.0.4", "stale"}}},
		},
		{
			name: "peered spoke VNet not linked to the zone",
			break_: func(f *fakeReader) {
				f.links[core.IDKey(zoneID)] = f.links[core.IDKey(zoneID)][:1]
			},
			want: map[string]want{"arm vnet links": {StatusFail, true, []string{
				"the VNet spoke-app-vnet (peered with hub-vnet) is not linked to privatelink.azurehealthcareapis.com; it resolves the public address and would get 403"}}},
		},
		{
			name: "endpoint's own VNet not linked",
			break_: func(f *fakeReader) {
				f.links[core.IDKey(zoneID)] = f.links[core.IDKey(zoneID)][1:]
			},
			want: map[string]want{"arm vnet links": {StatusFail, true, []string{"hub-vnet (the endpoint's VNet) is not linked"}}},
		},
		{
			name: "link still in progress",
			break_: func(f *fakeReader) {
				f.links[core.IDKey(zoneID)][1].State = "InProgress"
			},
			want: map[string]want{"arm vnet links": {StatusRetry, true, []string{"is InProgress, not Completed"}}},
		},
		{
			name: "zones read from the endpoint's zone groups when the subject names none",
			subj: func(s *Subject) { s.ZoneIDs = nil },
		},
		{
			name:   "deleted endpoint is final",
			break_: func(f *fakeReader) { f.endpoints = nil },
			want: map[string]want{
				"arm dns zone groups":    {StatusFail, false, []string{"endpoint pe-fhir does not exist"}},
				"arm a records":          {StatusFail, false, []string{"endpoint pe-fhir does not exist"}},
				"arm vnet links":         {StatusFail, false, []string{"endpoint pe-fhir does not exist"}},
				"arm endpoint dns names": {StatusSkipped, false, nil},
			},
		},
		{
			name: "endpoint's DNS configuration names an outside host",
			break_: func(f *fakeReader) {
				updateEP(f, func(e *core.Endpoint) {
					e.DNS = append(e.DNS, core.DNSRecord{FQDN: "evil.fhir.attacker.example", IPs: []string{"172.21.0.4"}})
				})
			},
			want: map[string]want{"arm endpoint dns names": {StatusFail, false, []string{
				"pe-fhir names evil.fhir.attacker.example", "not a host name of fhirserverxxx", "not resolved and not called"}}},
		},
		{
			name: "endpoint's DNS configuration names another target's host under the table's suffixes",
			break_: func(f *fakeReader) {
				updateEP(f, func(e *core.Endpoint) {
					e.DNS = []core.DNSRecord{{FQDN: "someoneelse.azurehealthcareapis.com", IPs: []string{"172.21.0.4"}}}
				})
			},
			want: map[string]want{"arm endpoint dns names": {StatusFail, false, []string{"someoneelse.azurehealthcareapis.com"}}},
		},
		{
			name: "ARM throttling is an error that may go away",
			break_: func(f *fakeReader) {
				f.err = &core.Error{Class: core.Retryable, Op: "get", StatusCode: 429, Code: "TooManyRequests"}
			},
			want: map[string]want{
				"arm connection approved": {StatusError, true, []string{"could not read the target"}},
				"arm dns zone groups":     {StatusError, true, []string{"could not read the endpoint"}},
				"arm a records":           {StatusError, true, []string{"could not read the endpoint"}},
				"arm vnet links":          {StatusError, true, []string{"could not read the endpoint"}},
				"arm endpoint dns names":  {StatusSkipped, false, nil},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := guideWorld()
			if tc.break_ != nil {
				tc.break_(f)
			}
			s := guideSubject()
			if tc.subj != nil {
				tc.subj(&s)
			}
			got := runARM(t, f, s)
			for name, res := range got {
				w, ok := tc.want[name]
				if !ok {
					w = want{status: StatusPass}
				}
				if res.Status != w.status || res.Retryable != w.retryable {
					t.Errorf("%s: got %s retryable %v, want %s retryable %v\nevidence: %q\ndiagnosis: %s",
						name, res.Status, res.Retryable, w.status, w.retryable, res.Evidence, res.Diagnosis)
				}
				for _, d := range w.diagnosis {
					if !strings.Contains(res.Diagnosis, d) {
						t.Errorf("%s: diagnosis %q does not mention %q", name, res.Diagnosis, d)
					}
				}
				if len(res.Evidence) == 0 {
					t.Errorf("%s: no evidence", name)
				}
			}
			for name := range tc.want {
				if _, ok := got[name]; !ok {
					t.Errorf("expected check %q did not run", name)
				}
			}
		})
	}
}

func TestARMEvidenceShowsWhatWasRead(t *testing.T) {
	got := runARM(t, guideWorld(), guideSubject())
	want := map[string][]string{
		"arm connection approved": {`connection pe-fhir.conn on fhirserverxxx: status Approved ("approved by rule app-teams")`},
		"arm dns zone groups":     {"endpoint pe-fhir zone group default: zones privatelink.azurehealthcareapis.com"},
		"arm a records":           {"zone privatelink.azurehealthcareapis.com: A fhirserverxxx.privatelink.azurehealthcareapis.com -> 172.21.0.4 (ttl 10)"},
		"arm vnet links": {
			"zone privatelink.azurehealthcareapis.com: link hub for VNet hub-vnet (the endpoint's VNet): Completed",
			"zone privatelink.azurehealthcareapis.com: link spoke for VNet spoke-app-vnet (peered with hub-vnet): Completed",
		},
	}
	for name, ev := range want {
		if diff := cmp.Diff(got[name].Evidence, ev); diff != "" {
			t.Errorf("%s evidence (-got +want):\n%s", name, diff)
		}
	}
}

// zoneFor follows the private DNS table: a workspace FHIR name is served by
// privatelink.fhir... even when only the legacy zone is managed (then no
// managed zone serves it), never by the legacy zone.
func TestZoneForFollowsTheDNSTable(t *testing.T) {
	dicom := sub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.dicom.azurehealthcareapis.com"
	fhir := sub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com"
	tests := []struct {
		name     string
		zones    []string
		fqdn     string
		wantZone string
		wantName string
		wantRec  string
	}{
		{"legacy FHIR", []string{legacyZoneID, dicom}, "fhirserverxxx.azurehealthcareapis.com", legacyZoneID, "privatelink.azurehealthcareapis.com", "fhirserverxxx.privatelink.azurehealthcareapis.com"},
		{"workspace FHIR", []string{legacyZoneID, fhir}, "ws1-fhir1.fhir.azurehealthcareapis.com", fhir, "privatelink.fhir.azurehealthcareapis.com", "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com"},
		{"workspace FHIR with only the legacy zone managed", []string{legacyZoneID}, "ws1-fhir1.fhir.azurehealthcareapis.com", "", "privatelink.fhir.azurehealthcareapis.com", "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com"},
		{"workspace DICOM in its own zone", []string{legacyZoneID, dicom}, "ws1-dicom1.dicom.azurehealthcareapis.com", dicom, "privatelink.dicom.azurehealthcareapis.com", "ws1-dicom1.privatelink.dicom.azurehealthcareapis.com"},
		{"unrelated name", []string{legacyZoneID}, "example.org", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, zn, rec := zoneFor(tc.zones, tc.fqdn)
			if z != tc.wantZone || zn != tc.wantName || rec != tc.wantRec {
				t.Errorf("got %q %q %q, want %q %q %q", nameOf(z), zn, rec, nameOf(tc.wantZone), tc.wantName, tc.wantRec)
			}
		})
	}
}

func setConn(f *fakeReader, st core.ConnectionStatus) {
	t := f.targets[core.IDKey(targetID)]
	t.Connections[0].Status = st
	f.targets[core.IDKey(targetID)] = t
}

func updateEP(f *fakeReader, fn func(*core.Endpoint)) {
	e := f.endpoints[core.IDKey(epID)]
	fn(&e)
	f.endpoints[core.IDKey(epID)] = e
}
