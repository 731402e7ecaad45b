package autopilot_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/rs/zerolog"
)

const (
	subC       = "/subscriptions/00000000-0000-0000-0000-0000000000cc"
	unknownPE  = subC + "/resourceGroups/rg-other/providers/Microsoft.Network/privateEndpoints/pe-unknown"
	pipelineID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46" // the appid in the recorded events' claims
)

// requesterPolicy approves whatever the pipeline's app asks for, and leaves
// everything else pending.
const requesterPolicy = `apiVersion: autopilot.plautopilot.io/v1
mode: enforce
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
zones:
  - /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com
connectionRules:
  - name: pipeline-requests
    when: requester.known && requester.appId == "` + pipelineID + `"
    decision: approve
    allowUnreadableEndpoint: true
    description: Approved for the platform pipeline.
defaultDecision: pending
`

func newEnvWith(t *testing.T, polSrc string, mod func(*autopilot.Config)) *env {
	t.Helper()
	gw := guidetest.New(t)
	pol := gw.Policy
	if polSrc != "" {
		var err error
		if pol, err = policy.Parse("test-policy.yaml", []byte(polSrc)); err != nil {
			t.Fatal(err)
		}
	}
	clock := clock.NewFake(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC))
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cfg := autopilot.Config{Policy: pol, ARM: gw.ARM, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Dead: events.NewMemDeadStore(), Now: clock.Now, Log: zerolog.Nop(),
		Backoff: reconcile.Backoff{Rand: func() float64 { return 0.5 }}}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := autopilot.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, sb: gw.Sandbox, store: store, clock: clock}
}

// eventFor is a recorded event moved onto pe-unknown (subscription C).
func eventFor(t *testing.T, fixture string) []byte {
	t.Helper()
	b := string(readFixture(t, fixture))
	b = strings.ReplaceAll(b, "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir",
		unknownPE)
	b = strings.ReplaceAll(b, "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourcegroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir",
		unknownPE)
	b = strings.ReplaceAll(b, "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-app-fhir",
		unknownPE)
	return []byte(b)
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	return []byte(strings.ReplaceAll(string(mustRead(t, "../../testdata/events/"+name)), "/rg-app/", "/rg-app-network/"))
}

func (e *env) deliverAndDrain(t *testing.T, body []byte) events.Result {
	t.Helper()
	ctx := context.Background()
	res, err := e.svc.HandleEvents(ctx, body)
	if err != nil {
		t.Fatalf("HandleEvents: %v", err)
	}
	if _, err := jobs.Drain(ctx, e.svc.Reconcile, jobs.DrainOptions{Clock: e.clock}, e.store.Queue("reconcile")); err != nil {
		t.Fatalf("drain: %v", err)
	}
	return res
}

// The pipeline's app writes the DNS zone group of an endpoint an outsider
// created (or the approver writes a connection): before, its claims became
// the requester and the outsider's connection was approved. Now only the
// endpoint's own write names the requester.
func TestRequesterOnlyFromTheEventThatMadeTheRequest(t *testing.T) {
	e := newEnvWith(t, requesterPolicy, nil)
	before := e.sb.Stats()
	zg := eventFor(t, "zonegroup-write.eventgrid.json")
	if !strings.Contains(string(zg), "pe-unknown/privateDnsZoneGroups") {
		t.Fatal("fixture not moved onto pe-unknown")
	}
	if res := e.deliverAndDrain(t, zg); res.Enqueued != 1 {
		t.Fatalf("zone group event: %+v, want one job", res)
	}
	conn := e.deliverAndDrain(t, readFixture(t, "connection-write.eventgrid.json"))
	if conn.Enqueued != 1 {
		t.Fatalf("connection event: %+v, want one job", conn)
	}
	if _, err := e.svc.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Drain(context.Background(), e.svc.Reconcile, jobs.DrainOptions{Clock: e.clock}, e.store.Queue("reconcile")); err != nil {
		t.Fatal(err)
	}
	if st := connStatus(t, e.sb, unkConn); st != "Pending" {
		t.Fatalf("after a zone group write, a connection write and a sweep by others, pe-unknown is %s; want Pending", st)
	}
	if after := e.sb.Stats(); after.Writes != before.Writes || after.Deletes != before.Deletes {
		t.Errorf("ARM writes %d->%d, deletes %d->%d; want none", before.Writes, after.Writes, before.Deletes, after.Deletes)
	}

	// The endpoint's own write by the pipeline is a request by the pipeline.
	e.deliverAndDrain(t, eventFor(t, "endpoint-write.eventgrid.json"))
	if st := connStatus(t, e.sb, unkConn); st != "Approved" {
		t.Errorf("after the pipeline's endpoint write pe-unknown is %s; want Approved by the requester rule", st)
	}
}

// A forged event about a subscription that is not governed is ignored at
// intake: no job, no ARM read.
func TestEventsOfUngovernedSubscriptionsCostNothing(t *testing.T) {
	e := newEnvWith(t, requesterPolicy, func(c *autopilot.Config) {
		c.EventSubscriptions = []string{"00000000-0000-0000-0000-0000000000BB"}
	})
	before := e.sb.Stats()
	res := e.deliverAndDrain(t, eventFor(t, "endpoint-write.eventgrid.json"))
	if res.Enqueued != 0 || res.Ignored != 1 || res.Ungoverned != 1 {
		t.Fatalf("result %+v; want the event ignored as ungoverned", res)
	}
	if !strings.Contains(res.Receipts[0].Reason, "not governed") {
		t.Errorf("reason %q", res.Receipts[0].Reason)
	}
	if after := e.sb.Stats(); after.Total != before.Total {
		t.Errorf("ARM calls %d->%d; want none", before.Total, after.Total)
	}
	if st := connStatus(t, e.sb, unkConn); st != "Pending" {
		t.Errorf("pe-unknown is %s", st)
	}
	if c := e.svc.Status().Counters; c.EventsUngoverned != 1 || c.EventsIgnored != 1 {
		t.Errorf("counters %+v; want one ungoverned event", c)
	}
	// the governed subscription's events still flow
	if res := e.deliverAndDrain(t, endpointEvent(t)); res.Enqueued != 1 {
		t.Errorf("governed event: %+v", res)
	}
}

func apiCall(h http.Handler, method, target, body, remote string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr = remote
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// Probing the API for subjects the policy does not govern: 403, no job, and
// for targets not even an ARM read.
func TestAPIRefusesUngovernedSubjects(t *testing.T) {
	e := newEnv(t)
	api := e.svc.APIWith(autopilot.APIOptions{Rate: -1})
	foreignWS := subC + "/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/theirs"
	before := e.sb.Stats()
	for _, tt := range []struct{ path, body string }{
		{"/api/verify", `{"id":"` + foreignWS + `"}`},
		{"/api/verify", `{"id":"` + foreignWS + `/privateEndpointConnections/x"}`},
		{"/api/evaluate", `{"connectionId":"` + foreignWS + `/privateEndpointConnections/x"}`},
	} {
		rec := apiCall(api, "POST", tt.path, tt.body, "192.0.2.1:1000")
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not governed") {
			t.Errorf("%s %s: %d %s; want 403 not governed", tt.path, tt.body, rec.Code, rec.Body)
		}
	}
	if after := e.sb.Stats(); after.Total != before.Total {
		t.Errorf("ARM calls %d->%d for ungoverned targets; want none", before.Total, after.Total)
	}
	// a VNet neither linked to a managed zone nor peered with one that is
	rec := apiCall(api, "POST", "/api/verify", `{"id":"`+subC+`/resourceGroups/rg-other/providers/Microsoft.Network/virtualNetworks/other-vnet"}`, "192.0.2.1:1000")
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "linked to none of the managed private DNS zones") {
		t.Errorf("verify other-vnet: %d %s; want 403", rec.Code, rec.Body)
	}
	if vs, err := e.store.Stats("verify"); err != nil || vs.Pending() != 0 {
		t.Errorf("verify queue %+v, %v; want no job", vs, err)
	}
	if after := e.sb.Stats(); after.Writes != before.Writes {
		t.Errorf("ARM writes %d->%d", before.Writes, after.Writes)
	}
	// governed subjects still work: an endpoint to a governed target, the
	// linked hub VNet
	for _, id := range []string{appPE, subA + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"} {
		if rec := apiCall(api, "POST", "/api/verify", `{"id":"`+id+`"}`, "192.0.2.1:1000"); rec.Code != http.StatusAccepted {
			t.Errorf("verify %s: %d %s", id, rec.Code, rec.Body)
		}
	}
}

func TestAPIKeyGuardsEveryRoute(t *testing.T) {
	e := newEnv(t)
	api := e.svc.APIWith(autopilot.APIOptions{Key: "k3y-0123456789-0123456789-0123456789", Rate: -1})
	for _, path := range []string{"/api/status", "/api/verify", "/api/evaluate", "/api/nope"} {
		for _, hdr := range [][]string{nil, {"x-functions-key", "wrong"}} {
			rec := apiCall(api, "POST", path, `{"id":"`+appPE+`"}`, "192.0.2.1:1000", hdr...)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("%s with %v: %d; want 401", path, hdr, rec.Code)
			}
		}
	}
	if rec := apiCall(api, "GET", "/api/status?code=k3y-0123456789-0123456789-0123456789", "", "192.0.2.1:1000"); rec.Code != http.StatusOK {
		t.Errorf("status with ?code=: %d", rec.Code)
	}
	if rec := apiCall(api, "POST", "/api/verify", `{"id":"`+appPE+`"}`, "192.0.2.1:1000", "x-functions-key", "k3y-0123456789-0123456789-0123456789"); rec.Code != http.StatusAccepted {
		t.Errorf("verify with the key header: %d %s", rec.Code, rec.Body)
	}
	if vs, _ := e.store.Stats("verify"); vs.Pending() != 1 {
		t.Errorf("verify queue %+v; want only the keyed request's job", vs)
	}
}

func TestAPIRateLimitPerClient(t *testing.T) {
	e := newEnv(t)
	api := e.svc.APIWith(autopilot.APIOptions{Rate: 1, Burst: 3})
	for i := range 3 {
		if rec := apiCall(api, "GET", "/api/status", "", "198.51.100.7:4000"); rec.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	rec := apiCall(api, "GET", "/api/status", "", "198.51.100.7:4001")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "rate limit") {
		t.Fatalf("4th request: %d %q %s; want 429 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	if rec := apiCall(api, "GET", "/api/status", "", "203.0.113.9:4000"); rec.Code != http.StatusOK {
		t.Errorf("another client: %d; want its own budget", rec.Code)
	}
	e.clock.Advance(time.Second)
	if rec := apiCall(api, "GET", "/api/status", "", "198.51.100.7:4000"); rec.Code != http.StatusOK {
		t.Errorf("after a second: %d; want a refilled token", rec.Code)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An unset setting (AUTOPILOT_SUBSCRIPTIONS="" split into one blank entry)
// filters nothing.
func TestBlankEventSubscriptionsFilterNothing(t *testing.T) {
	e := newEnvWith(t, "", func(c *autopilot.Config) { c.EventSubscriptions = []string{"", " "} })
	if res := e.deliverAndDrain(t, endpointEvent(t)); res.Enqueued != 1 || res.Ungoverned != 0 {
		t.Errorf("spoke event with a blank setting: %+v; want it enqueued", res)
	}
}

// attackPolicy is the policy of issue 26's spoof: one approve rule on the
// requester's UPN (policy check warns about it twice: requester alone, and
// upn without tenantId).
const attackPolicy = `apiVersion: autopilot.plautopilot.io/v1
mode: enforce
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
zones:
  - /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com
connectionRules:
  - name: trusted-engineer
    when: requester.known && requester.upn == "dana@contoso.example"
    decision: approve
    allowUnreadableEndpoint: true
    description: Approved for a trusted engineer.
defaultDecision: pending
`

// withClaims rewrites the claims of a recorded event.
func withClaims(t *testing.T, ev []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var evs []map[string]any
	if err := json.Unmarshal(ev, &evs); err != nil {
		t.Fatal(err)
	}
	edit(evs[0]["data"].(map[string]any)["claims"].(map[string]any))
	evs[0]["id"] = "spoofed-" + evs[0]["id"].(string) // another event
	out, err := json.Marshal(evs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 26: a principal of a foreign tenant whose display name equals a
// trusted UPN, creating an endpoint in a subscription nobody onboarded.
// requester.upn was filled from the name claims, so the rule approved it.
// Now the display name is its own field: the connection stays pending, and
// ARM is not written. The genuine UPN still matches (the rule works).
func TestDisplayNameSpoofIsNotApproved(t *testing.T) {
	e := newEnvWith(t, attackPolicy, nil)
	spoof := withClaims(t, eventFor(t, "endpoint-write.eventgrid.json"), func(c map[string]any) {
		delete(c, "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")
		c["http://schemas.microsoft.com/identity/claims/tenantid"] = "99999999-9999-4999-8999-999999999999"
		c["http://schemas.microsoft.com/identity/claims/objectidentifier"] = "99999999-0000-4000-8000-000000000001"
		c["name"] = "dana@contoso.example"
		c["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"] = "dana@contoso.example"
	})
	before := e.sb.Stats()
	if res := e.deliverAndDrain(t, spoof); res.Enqueued != 1 {
		t.Fatalf("spoofed event: %+v, want one job", res)
	}
	if st := connStatus(t, e.sb, unkConn); st != "Pending" {
		t.Fatalf("after the display-name spoof pe-unknown is %s; want Pending", st)
	}
	if after := e.sb.Stats(); after.Writes != before.Writes {
		t.Errorf("ARM writes %d->%d; want none", before.Writes, after.Writes)
	}
	// the same endpoint write with the genuine upn claim matches the rule
	e.deliverAndDrain(t, eventFor(t, "endpoint-write.eventgrid.json"))
	if st := connStatus(t, e.sb, unkConn); st != "Approved" {
		t.Errorf("with the genuine upn claim pe-unknown is %s; want Approved", st)
	}
}

// oldDeadStore holds a record written before reasons were redacted.
type oldDeadStore struct{ events.MemDeadStore }

func (*oldDeadStore) Tail(int) ([]events.DeadEvent, error) {
	return []events.DeadEvent{{Reason: `event 0: field "data": sig=SECRETSIG&password=hunter2 eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl`,
		Source: "client 192.0.2.9"}}, nil
}

// Dead-event reasons are redacted when served, whatever the store holds.
func TestStatusServesDeadEventReasonsRedacted(t *testing.T) {
	e := newEnvWith(t, "", func(c *autopilot.Config) { c.Dead = &oldDeadStore{} })
	rec := apiCall(e.svc.APIWith(autopilot.APIOptions{Rate: -1}), "GET", "/api/status", "", "192.0.2.1:1000")
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `field \"data\"`) || !strings.Contains(body, "client 192.0.2.9") {
		t.Fatalf("status %d %s; want the dead event with its source", rec.Code, body)
	}
	for _, secret := range []string{"SECRETSIG", "hunter2", "eyJzdWIiOiJ4In0"} {
		if strings.Contains(body, secret) {
			t.Errorf("status serves %q", secret)
		}
	}
}
