package verify_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
)

const (
	subA      = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
	subB      = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
	legacySvc = subA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	workspace = subA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	hubPE     = subA + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/privateEndpoints/pe-hub-fhirserverxxx"
	hubVNet   = subA + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	spokeVNet = subB + "/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	appPE     = subB + "/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
	zoneID    = subA + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
)

var t0 = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)

// rig is the guide's sandbox with its network and a job runner over it.
type rig struct {
	sb      *sandbox.Sandbox
	runner  *verify.JobRunner
	sink    *outcome.MemorySink
	reports *verify.DirStore
}

func newRig(t *testing.T) *rig {
	t.Helper()
	gw := guidetest.New(t)
	sb, pol, client := gw.Sandbox, gw.Policy, gw.ARM
	n, err := sandboxnet.NewNetwork(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	v := n.Verifier(client)
	v.Timeout = 5 * time.Second
	v.Now = func() time.Time { return t0 }
	store, err := verify.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sink := outcome.NewMemorySink(100)
	return &rig{sb: sb, sink: sink, reports: store, runner: &verify.JobRunner{
		Verifier: v, Policy: pol, Sink: sink, Reports: store, Now: func() time.Time { return t0 }, Log: zerolog.Nop(),
	}}
}

// link links a VNet to the zone as a user would.
func (r *rig) link(t *testing.T, vnetID, name string) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{
		"id": zoneID + "/virtualNetworkLinks/" + name, "location": "global",
		"properties": map[string]any{"virtualNetwork": map[string]string{"id": vnetID}, "registrationEnabled": false},
	})
	if err := r.sb.Put(b); err != nil {
		t.Fatal(err)
	}
}

func delivery(subject jobs.Subject, id string, attempt int) jobs.Delivery {
	j := jobs.New(jobs.KindVerify, subject, id, "test")
	j.Attempt = attempt
	j.CorrelationID = "corr-1"
	return jobs.Delivery{Job: j, MessageID: j.ID}
}

// outcomeOf renders a settlement for comparison.
func outcomeOf(o jobs.Settlement) string {
	switch {
	case o.IsRetry():
		return "retry after " + o.Delay().String()
	case o.IsDeadLetter():
		return "dead-letter " + o.Reason()
	}
	return "done"
}

func TestJobRunnerSettlesByReport(t *testing.T) {
	tests := []struct {
		name        string
		subject     jobs.Subject
		id          string
		attempt     int
		linkSpoke   bool
		wantOutcome string
		wantStatus  verify.Status
		wantEvent   outcome.Type
		// wantDiagnosis are substrings of the event's diagnosis text.
		wantDiagnosis []string
	}{
		{
			name:    "legacy service: the hub resolves privately, its peered spoke is not linked: retry with the spoke named",
			subject: jobs.SubjectTarget, id: legacySvc, attempt: 1,
			wantOutcome: "retry after 1m0s", wantStatus: verify.StatusRetry, wantEvent: verify.VerifyRetry,
			wantDiagnosis: []string{"spoke-app-vnet (peered with hub-vnet)", "is not linked to privatelink.azurehealthcareapis.com", "203.0.113.10"},
		},
		{
			name:    "third attempt waits twice as long again (backoff doubles)",
			subject: jobs.SubjectTarget, id: legacySvc, attempt: 3,
			wantOutcome: "retry after 4m0s", wantStatus: verify.StatusRetry, wantEvent: verify.VerifyRetry,
			wantDiagnosis: []string{"spoke-app-vnet (peered with hub-vnet)"},
		},
		{
			name:    "last attempt: the job finishes failed with the report kept and published, not dead-lettered",
			subject: jobs.SubjectTarget, id: legacySvc, attempt: 6,
			wantOutcome: "done", wantStatus: verify.StatusRetry, wantEvent: outcome.VerifyFailed,
			wantDiagnosis: []string{"spoke-app-vnet (peered with hub-vnet)"},
		},
		{
			name:    "spoke linked: every check passes",
			subject: jobs.SubjectTarget, id: legacySvc, attempt: 1, linkSpoke: true,
			wantOutcome: "done", wantStatus: verify.StatusPass, wantEvent: outcome.VerifyPassed,
		},
		{
			name:    "endpoint subject: the same checks for the hub endpoint",
			subject: jobs.SubjectEndpoint, id: hubPE, attempt: 1,
			wantOutcome: "retry after 1m0s", wantStatus: verify.StatusRetry, wantEvent: verify.VerifyRetry,
			wantDiagnosis: []string{"spoke-app-vnet (peered with hub-vnet)"},
		},
		{
			name:    "vnet subject: the spoke checks the endpoints it should reach (the hub's)",
			subject: jobs.SubjectVNet, id: spokeVNet, attempt: 1,
			wantOutcome: "retry after 1m0s", wantStatus: verify.StatusRetry, wantEvent: verify.VerifyRetry,
			wantDiagnosis: []string{"spoke-app-vnet (peered with hub-vnet) is not linked"},
		},
		{
			name:    "vnet subject once linked passes",
			subject: jobs.SubjectVNet, id: spokeVNet, attempt: 1, linkSpoke: true,
			wantOutcome: "done", wantStatus: verify.StatusPass, wantEvent: outcome.VerifyPassed,
		},
		{
			name:    "workspace whose connections are all pending: nothing to verify",
			subject: jobs.SubjectTarget, id: workspace, attempt: 1,
			wantOutcome: "done", wantStatus: verify.StatusPass, wantEvent: outcome.VerifyPassed,
		},
		{
			name:    "pending endpoint without zone group: may still change, retried",
			subject: jobs.SubjectEndpoint, id: appPE, attempt: 1,
			wantOutcome: "retry after 1m0s", wantStatus: verify.StatusRetry, wantEvent: verify.VerifyRetry,
			wantDiagnosis: []string{"still Pending", "no DNS zone group"},
		},
		{
			name:    "deleted endpoint: subject gone, job done",
			subject: jobs.SubjectEndpoint, id: subB + "/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-deleted", attempt: 1,
			wantOutcome: "done", wantStatus: verify.StatusPass, wantEvent: outcome.SubjectGone,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if tc.linkSpoke {
				r.link(t, spokeVNet, "spoke-link")
			}
			d := delivery(tc.subject, tc.id, tc.attempt)
			got := outcomeOf(r.runner.Process(context.Background(), d))
			if got != tc.wantOutcome {
				t.Errorf("settlement: got %s, want %s", got, tc.wantOutcome)
			}
			evs := r.sink.Events()
			if len(evs) != 1 {
				t.Fatalf("got %d outcome events, want 1: %+v", len(evs), evs)
			}
			ev := evs[0]
			if ev.Type != tc.wantEvent || ev.Subject != tc.id || ev.Data.Result != string(tc.wantStatus) ||
				ev.Data.Attempt != tc.attempt || ev.Data.JobID != d.Job.ID || ev.Data.CorrelationID != "corr-1" {
				t.Errorf("event: got type %s subject %s result %s attempt %d job %s corr %s; want %s %s %s %d %s corr-1",
					ev.Type, ev.Subject, ev.Data.Result, ev.Data.Attempt, ev.Data.JobID, ev.Data.CorrelationID,
					tc.wantEvent, tc.id, tc.wantStatus, tc.attempt, d.Job.ID)
			}
			for _, w := range tc.wantDiagnosis {
				if !strings.Contains(ev.Data.Error, w) {
					t.Errorf("diagnosis lacks %q:\n%s", w, ev.Data.Error)
				}
			}
			if len(tc.wantDiagnosis) == 0 && ev.Data.Error != "" {
				t.Errorf("unexpected diagnosis: %s", ev.Data.Error)
			}
			reps, err := r.reports.Latest(context.Background(), nil, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != 1 || reps[0].Status != tc.wantStatus || reps[0].Attempt != tc.attempt {
				t.Fatalf("kept reports: got %d, want 1 with status %s attempt %d: %+v", len(reps), tc.wantStatus, tc.attempt, reps)
			}
			if ev.Data.After == "" {
				t.Errorf("event does not name the kept report")
			}
		})
	}
}

// The checks behind a pass: DNS and /metadata from both VNets and the
// public probe refused.
func TestJobRunnerPassRunsEveryCheck(t *testing.T) {
	r := newRig(t)
	r.link(t, spokeVNet, "spoke-link")
	res := r.runner.ProcessJob(context.Background(), delivery(jobs.SubjectTarget, legacySvc, 1).Job)
	var got []string
	for _, c := range res.Report.Checks {
		got = append(got, string(c.Status)+" "+c.Name)
	}
	want := []string{
		"pass arm connection approved",
		"pass arm dns zone groups",
		"pass arm a records",
		"pass arm vnet links",
		"pass arm endpoint dns names",
		"pass dns fhirserverxxx.azurehealthcareapis.com from hub-vnet (the endpoint's VNet)",
		"pass dns fhirserverxxx.azurehealthcareapis.com from spoke-app-vnet (peered with hub-vnet)",
		"pass http GET https://fhirserverxxx.azurehealthcareapis.com/metadata from hub-vnet (the endpoint's VNet)",
		"pass http GET https://fhirserverxxx.azurehealthcareapis.com/metadata from spoke-app-vnet (peered with hub-vnet)",
		"pass public GET https://fhirserverxxx.azurehealthcareapis.com/metadata refused",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("checks (-got +want):\n%s\n%s", diff, res.Report.Text())
	}
	if res.Retry {
		t.Errorf("a pass is not retried")
	}
}

func TestJobRunnerHonoursProbeMetadataFalse(t *testing.T) {
	r := newRig(t)
	r.link(t, spokeVNet, "spoke-link")
	src, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	if !strings.Contains(text, "probeMetadata: true") {
		t.Fatal("examples/policy.yaml does not say probeMetadata: true")
	}
	pol, err := policy.Parse("no-metadata.yaml", []byte(strings.Replace(text, "probeMetadata: true", "probeMetadata: false", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if pol.Verification().ProbeMetadata {
		t.Fatal("policy still probes /metadata")
	}
	r.runner.Policy = pol
	res := r.runner.ProcessJob(context.Background(), delivery(jobs.SubjectTarget, legacySvc, 1).Job)
	skipped := false
	for _, c := range res.Report.Checks {
		if strings.HasPrefix(c.Name, "http GET https://") {
			t.Errorf("ran %q although the policy says probeMetadata: false", c.Name)
		}
		if c.Name == "http GET /metadata" && c.Status == verify.StatusSkipped {
			skipped = true
		}
	}
	if !skipped {
		t.Errorf("no skipped /metadata check saying why:\n%s", res.Report.Text())
	}
	if res.Report.Status != verify.StatusPass {
		t.Errorf("status %s, want pass (DNS, ARM and the public probe pass):\n%s", res.Report.Status, res.Report.Text())
	}
}

func TestJobRunnerRefusesOtherJobs(t *testing.T) {
	r := newRig(t)
	d := delivery(jobs.SubjectTarget, legacySvc, 1)
	d.Job.Kind = jobs.KindReconcile
	if got := outcomeOf(r.runner.Process(context.Background(), d)); got != "dead-letter WrongQueue" {
		t.Errorf("reconcile job on the verify runner: got %s, want dead-letter WrongQueue", got)
	}
	if n := len(r.sink.Events()); n != 0 {
		t.Errorf("published %d events for a refused job", n)
	}
}

// The endpoint's owner writes its customDnsConfigs: a verification job never
// probes a name there that is not a host of the governed target (no check,
// no public probe for it), and reports the mismatch.
func TestJobRunnerNeverProbesEndpointOwnedNames(t *testing.T) {
	r := newRig(t)
	var pe map[string]any
	for _, raw := range r.sb.Snapshot() {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil && strings.EqualFold(m["id"].(string), hubPE) {
			pe = m
		}
	}
	if pe == nil {
		t.Fatal("no hub endpoint in the guide scenario")
	}
	props := pe["properties"].(map[string]any)
	props["customDnsConfigs"] = []any{
		map[string]any{"fqdn": "evil.fhir.attacker.example", "ipAddresses": []any{"10.0.1.4"}},
		map[string]any{"fqdn": "fhirserverxxx.azurehealthcareapis.com", "ipAddresses": []any{"10.0.1.4"}},
	}
	b, _ := json.Marshal(pe)
	if err := r.sb.Put(b); err != nil {
		t.Fatal(err)
	}
	rep := r.runner.ProcessJob(context.Background(), delivery(jobs.SubjectEndpoint, hubPE, 1).Job).Report
	if strings.Contains(rep.Subject.PublicURL, "evil") || !strings.Contains(rep.Subject.PublicURL, "fhirserverxxx.azurehealthcareapis.com") {
		t.Errorf("public probe URL %q, want the target's own host", rep.Subject.PublicURL)
	}
	found := false
	for _, c := range rep.Checks {
		if strings.Contains(c.Name, "evil") {
			t.Errorf("check %q probes an endpoint-owned name", c.Name)
		}
		if strings.HasSuffix(c.Name, "arm endpoint dns names") {
			found = c.Status == verify.StatusFail && strings.Contains(c.Diagnosis, "evil.fhir.attacker.example")
		}
	}
	if !found {
		t.Errorf("the report does not name the stray endpoint name as a finding: %+v", rep.Checks)
	}
}
