package verify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
)

func TestReportStatus(t *testing.T) {
	pass := CheckResult{Name: "a", Status: StatusPass}
	skip := CheckResult{Name: "s", Status: StatusSkipped}
	propagating := CheckResult{Name: "dns", Status: StatusFail, Retryable: true}
	timeout := CheckResult{Name: "http", Status: StatusRetry, Retryable: true}
	rejected := CheckResult{Name: "conn", Status: StatusFail}
	tests := []struct {
		name   string
		checks []CheckResult
		want   Status
	}{
		{"all pass or skipped", []CheckResult{pass, skip}, StatusPass},
		{"only failures that may still change", []CheckResult{pass, propagating, timeout}, StatusRetry},
		{"a final failure wins over retryable ones", []CheckResult{propagating, rejected}, StatusFail},
		{"no checks at all is a failure", nil, StatusFail},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Checks: tc.checks}
			r.conclude()
			if r.Status != tc.want {
				t.Errorf("got %s (%s), want %s", r.Status, r.Summary, tc.want)
			}
		})
	}
}

func TestNextAction(t *testing.T) {
	retryRep := Report{Status: StatusRetry}
	tests := []struct {
		name         string
		rep          Report
		attempt, max int
		backoff      time.Duration
		wantRetry    bool
		wantDelay    time.Duration
	}{
		{"first retry waits the base back-off", retryRep, 1, 5, time.Minute, true, time.Minute},
		{"third attempt waits four times as long", retryRep, 3, 5, time.Minute, true, 4 * time.Minute},
		{"back-off is capped at an hour", retryRep, 9, 20, time.Minute, true, time.Hour},
		{"last attempt is final", retryRep, 5, 5, time.Minute, false, 0},
		{"pass is final", Report{Status: StatusPass}, 1, 5, time.Minute, false, 0},
		{"final failure is not retried", Report{Status: StatusFail}, 1, 5, time.Minute, false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			retry, delay := tc.rep.NextAction(tc.attempt, tc.max, tc.backoff)
			if retry != tc.wantRetry || delay != tc.wantDelay {
				t.Errorf("got retry %v after %v, want %v after %v", retry, delay, tc.wantRetry, tc.wantDelay)
			}
		})
	}
}

func sampleReport() Report {
	r := Report{
		Subject:   Subject{FQDNs: []string{guideFQDN}},
		Attempt:   2,
		StartedAt: time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC),
		Checks: []CheckResult{
			{Name: "dns " + guideFQDN + " from hub-vnet", Status: StatusPass, Evidence: []string{"ok chain"}, Duration: 1500 * time.Microsecond},
			{Name: "dns " + guideFQDN + " from spoke-app-vnet", Status: StatusFail, Retryable: true, Duration: 2 * time.Millisecond,
				Evidence: []string{"public chain"}, Diagnosis: "the VNet is not linked"},
		},
	}
	r.conclude()
	return r
}

func TestReportText(t *testing.T) {
	got := sampleReport().Text()
	want := `verification fhirserverxxx.azurehealthcareapis.com (attempt 2, 2026-11-03T09:30:00Z): RETRY
  PASS  dns fhirserverxxx.azurehealthcareapis.com from hub-vnet        1.5ms
  FAIL  dns fhirserverxxx.azurehealthcareapis.com from spoke-app-vnet  2ms

  FAIL dns fhirserverxxx.azurehealthcareapis.com from spoke-app-vnet:
    diagnosis: the VNet is not linked
    observed:  public chain
    may still change: a later run can pass without further action

1 of 2 checks not passing yet, all of them may still change (propagation or work in progress)
`
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("text (-got +want):\n%s", diff)
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := sampleReport()
	var got Report
	if err := json.Unmarshal(r.JSON(), &got); err != nil {
		t.Fatalf("JSON does not parse back: %v\n%s", err, r.JSON())
	}
	if diff := cmp.Diff(got, r); diff != "" {
		t.Errorf("round trip (-got +want):\n%s", diff)
	}
	if !strings.Contains(string(r.JSON()), `"durationMs": 1.5`) {
		t.Errorf("JSON lacks durationMs in milliseconds:\n%s", r.JSON())
	}
}

func TestDirStore(t *testing.T) {
	dir := t.TempDir()
	st, err := NewDirStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	older := sampleReport()
	newer := sampleReport()
	newer.StartedAt = older.StartedAt.Add(time.Minute)
	newer.Attempt = 3
	other := sampleReport()
	other.Subject = Subject{FQDNs: []string{"other.azurehealthcareapis.com"}}
	other.StartedAt = older.StartedAt.Add(2 * time.Minute)
	for _, r := range []Report{older, newer, other} {
		name, err := st.Save(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(name, "-"+SubjectKey(r.Subject)+".json") {
			t.Errorf("file name %q does not end in the subject key", name)
		}
	}
	all, err := st.Latest(ctx, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(all, []Report{other, newer, older}); diff != "" {
		t.Errorf("latest, all subjects (-got +want):\n%s", diff)
	}
	// The same subject spelled differently has the same key.
	s := Subject{FQDNs: []string{strings.ToUpper(guideFQDN) + "."}}
	mine, err := st.Latest(ctx, &s, 1)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(mine, []Report{newer}); diff != "" {
		t.Errorf("latest for the subject (-got +want):\n%s", diff)
	}

	if err := os.WriteFile(filepath.Join(dir, "20270101T000000.000000000Z-broken.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Latest(ctx, nil, 0); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("got %v, want an error naming the unreadable report", err)
	}
}

// TestRunPerVNet runs the whole verifier as the sandbox will: ARM state
// from a Reader, one resolver per VNet. The hub is linked, the peered spoke
// is not: the ARM link check and the spoke's DNS check both say so, the
// report asks for a retry, and the order of checks is fixed.
func TestRunPerVNet(t *testing.T) {
	f := guideWorld()
	f.links[core.IDKey(zoneID)] = f.links[core.IDKey(zoneID)][:1] // spoke not linked
	hubDNS := startDNS(t, guidePrivate...)
	spokeDNS := startDNS(t, guidePublic...)
	srv, pool := fhirTestServer(t)
	v := &Verifier{
		Reader:  f,
		RootCAs: pool,
		ResolverFor: func(vnetID string) string {
			switch core.IDKey(vnetID) {
			case core.IDKey(hubID):
				return hubDNS
			case core.IDKey(spokeID):
				return spokeDNS
			}
			return ""
		},
		Now: func() time.Time { return time.Date(2026, 11, 3, 9, 30, 0, 0, time.UTC) },
	}
	s := guideSubject()
	s.MetadataURL = srv.URL + "/metadata"
	rep := v.RunAttempt(context.Background(), s, 2)

	var got []string
	for _, c := range rep.Checks {
		got = append(got, string(c.Status)+" "+c.Name)
	}
	want := []string{
		"pass arm connection approved",
		"pass arm dns zone groups",
		"pass arm a records",
		"fail arm vnet links",
		"pass arm endpoint dns names",
		"pass dns fhirserverxxx.azurehealthcareapis.com from hub-vnet (the endpoint's VNet)",
		"fail dns fhirserverxxx.azurehealthcareapis.com from spoke-app-vnet (peered with hub-vnet)",
		"pass http GET " + srv.URL + "/metadata from hub-vnet (the endpoint's VNet)",
		"pass http GET " + srv.URL + "/metadata from spoke-app-vnet (peered with hub-vnet)",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("checks (-got +want):\n%s", diff)
	}
	if rep.Status != StatusRetry || rep.Attempt != 2 || !rep.StartedAt.Equal(v.Now()) {
		t.Errorf("got status %s attempt %d at %v, want retry, attempt 2 at the injected clock", rep.Status, rep.Attempt, rep.StartedAt)
	}
	spoke := find(t, rep, "dns fhirserverxxx.azurehealthcareapis.com from spoke-app-vnet (peered with hub-vnet)")
	if !strings.Contains(spoke.Diagnosis, "from spoke-app-vnet (peered with hub-vnet): the private DNS zone privatelink.azurehealthcareapis.com is not linked") {
		t.Errorf("spoke diagnosis does not name the VNet and zone: %s", spoke.Diagnosis)
	}
	if retry, delay := rep.NextAction(rep.Attempt, 5, time.Minute); !retry || delay != 2*time.Minute {
		t.Errorf("got retry %v after %v, want a retry after 2m", retry, delay)
	}
}

// TestRunDerivesSubjectFromEndpoint: with only ARM ids, the FQDNs come from
// the endpoint's DNS configs, those that are host names of the workspace it
// is approved to; every such name is resolved, only FHIR hosts are called at
// /metadata, DICOM hosts get a TLS check, and a VNet without a resolver is
// skipped, not dropped.
func TestRunDerivesSubjectFromEndpoint(t *testing.T) {
	f := guideWorld()
	ws := sub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1"
	updateEP(f, func(e *core.Endpoint) {
		e.Connections = []core.EndpointConnection{{Name: "c", TargetID: ws, GroupIDs: []string{"healthcareworkspace"}, Status: core.StatusApproved}}
		e.DNS = []core.DNSRecord{
			{FQDN: "ws1.workspace.azurehealthcareapis.com", IPs: []string{"172.21.0.5"}},
			{FQDN: "ws1-fhir1.fhir.azurehealthcareapis.com", IPs: []string{"172.21.0.6"}},
			{FQDN: "ws1-dicom1.dicom.azurehealthcareapis.com", IPs: []string{"172.21.0.7"}},
		}
	})
	v := &Verifier{Reader: f, ResolverFor: func(string) string { return "" }}
	rep := v.Run(context.Background(), Subject{EndpointID: epID})
	var got []string
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "arm ") {
			continue
		}
		got = append(got, string(c.Status)+" "+c.Name)
	}
	want := []string{
		"skipped dns ws1.workspace.azurehealthcareapis.com from hub-vnet (the endpoint's VNet)",
		"skipped dns ws1-fhir1.fhir.azurehealthcareapis.com from hub-vnet (the endpoint's VNet)",
		"skipped dns ws1-dicom1.dicom.azurehealthcareapis.com from hub-vnet (the endpoint's VNet)",
		"skipped http GET https://ws1-fhir1.fhir.azurehealthcareapis.com/metadata from hub-vnet (the endpoint's VNet)",
		// DICOM: a TLS handshake, never an HTTP request (dicom.go)
		"skipped tls ws1-dicom1.dicom.azurehealthcareapis.com:443 from hub-vnet (the endpoint's VNet)",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("network checks (-got +want):\n%s", diff)
	}
	recs := find(t, rep, "arm a records")
	// the endpoint's group names only the legacy zone: the workspace FHIR
	// name resolves through privatelink.fhir..., which is not managed
	if recs.Status != StatusFail || !strings.Contains(recs.Diagnosis, "ws1-fhir1.fhir.azurehealthcareapis.com resolves through the zone privatelink.fhir.azurehealthcareapis.com") ||
		!strings.Contains(recs.Diagnosis, "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com") {
		t.Errorf("a records: got %s %q, want the zone that serves the workspace FHIR name", recs.Status, recs.Diagnosis)
	}
	if zg := find(t, rep, "arm dns zone groups"); zg.Status != StatusSkipped && !strings.Contains(zg.Diagnosis, "privatelink.fhir.azurehealthcareapis.com") {
		t.Errorf("zone groups: got %s %q, want the missing workspace zones named", zg.Status, zg.Diagnosis)
	}
}
