package autopilot_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/rs/zerolog"
)

const (
	subA      = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
	workspace = subA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	appConn   = workspace + "/privateEndpointConnections/pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
	unkConn   = workspace + "/privateEndpointConnections/pe-unknown.9e7b1c2d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
	appPE     = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
)

type env struct {
	svc   *autopilot.Service
	sb    *sandbox.Sandbox
	store *embedded.Store
	clock *clock.Fake
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gw := guidetest.New(t)
	sb, pol, arm := gw.Sandbox, gw.Policy, gw.ARM
	clock := clock.NewFake(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC))
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := autopilot.New(autopilot.Config{Policy: pol, ARM: arm, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Dead: events.NewMemDeadStore(), Now: clock.Now, Log: zerolog.Nop(),
		Backoff: reconcile.Backoff{Rand: func() float64 { return 0.5 }}})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, sb: sb, store: store, clock: clock}
}

// endpointEvent is the recorded endpoint write event, moved to the guide
// scenario's resource group.
func endpointEvent(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/events/endpoint-write.eventgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.ReplaceAll(string(b), "/rg-app/", "/rg-app-network/"))
}

func connStatus(t *testing.T, sb *sandbox.Sandbox, connID string) string {
	t.Helper()
	raw, ok := sb.Get(core.ParentOf(connID))
	if !ok {
		t.Fatalf("target of %s not in sandbox", connID)
	}
	var ws struct {
		Properties struct {
			Conns []struct {
				ID         string `json:"id"`
				Properties struct {
					State struct {
						Status string `json:"status"`
					} `json:"privateLinkServiceConnectionState"`
				} `json:"properties"`
			} `json:"privateEndpointConnections"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &ws); err != nil {
		t.Fatal(err)
	}
	for _, c := range ws.Properties.Conns {
		if strings.EqualFold(c.ID, connID) {
			return c.Properties.State.Status
		}
	}
	t.Fatalf("connection %s not found", connID)
	return ""
}

func TestNewFailsClosedWithoutPolicy(t *testing.T) {
	_, err := autopilot.New(autopilot.Config{})
	if err == nil || !strings.Contains(err.Error(), "Policy") {
		t.Fatalf("got %v, want an error naming Policy", err)
	}
}

func TestEventToApprovalThroughQueue(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.HandleEvents(ctx, endpointEvent(t))
	if err != nil || res.Enqueued != 1 {
		t.Fatalf("HandleEvents: %+v, %v; want 1 enqueued", res, err)
	}
	dr, err := jobs.Drain(ctx, e.svc.Reconcile, jobs.DrainOptions{Clock: e.clock}, e.store.Queue("reconcile"))
	if err != nil || dr.DeadLettered != 0 {
		t.Fatalf("drain: %+v, %v", dr, err)
	}
	if got := connStatus(t, e.sb, appConn); got != "Approved" {
		t.Errorf("app connection is %s, want Approved", got)
	}
	st := e.svc.Status()
	if len(st.Decisions) == 0 || st.Decisions[0].Type != "connection.approved" || !strings.EqualFold(st.Decisions[0].Subject, appConn) {
		t.Errorf("status decisions: %+v; want the approval of %s first", st.Decisions, appConn)
	}
	if len(st.Links) == 0 || len(st.ZoneGroups) == 0 {
		t.Errorf("status: links %+v zone groups %+v; want the spoke link and the zone group", st.Links, st.ZoneGroups)
	}
	if st.Counters.Events != 1 || st.Counters.ReconcileRuns == 0 || st.Counters.ARMWrites == 0 {
		t.Errorf("counters %+v", st.Counters)
	}
	vs, err := e.store.Stats("verify")
	if err != nil || vs.Pending() == 0 {
		t.Errorf("verify queue %+v, %v; want a scheduled verification", vs, err)
	}
}

func TestVerifyWithoutRunnerIsKeptAsFailure(t *testing.T) {
	e := newEnv(t)
	j := jobs.New(jobs.KindVerify, jobs.SubjectTarget, workspace, "x")
	o := e.svc.Verify(context.Background(), jobs.Delivery{Job: j, DeliveryCount: 1})
	if !o.IsDeadLetter() || o.Reason() != pipeline.ReasonVerifierMissing {
		t.Fatalf("outcome %v, want dead-letter %s", o, pipeline.ReasonVerifierMissing)
	}
	if f := e.svc.Status().Failures; len(f) != 1 || f[0].Reason != pipeline.ReasonVerifierMissing {
		t.Errorf("status failures %+v", f)
	}
}

func TestEvaluate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	before := e.sb.Stats()
	got, err := e.svc.Evaluate(ctx, appConn)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision.Action != policy.ActionApprove || got.Decision.Rule != "allow-app-subscriptions" || !got.Governed || !got.EndpointReadable {
		t.Errorf("decision %+v governed %v readable %v; want approve by allow-app-subscriptions", got.Decision, got.Governed, got.EndpointReadable)
	}
	var approves int
	for _, a := range got.Plan.Actions {
		if a.Kind == reconcile.KindApprove {
			approves++
		}
	}
	if approves == 0 {
		t.Errorf("plan %+v has no approve action", got.Plan.Actions)
	}
	after := e.sb.Stats()
	if after.Writes != before.Writes || after.Deletes != before.Deletes {
		t.Errorf("evaluate wrote to ARM: writes %d->%d deletes %d->%d", before.Writes, after.Writes, before.Deletes, after.Deletes)
	}
	if st := connStatus(t, e.sb, appConn); st != "Pending" {
		t.Errorf("after evaluate the connection is %s, want Pending (dry run)", st)
	}

	unk, err := e.svc.Evaluate(ctx, unkConn)
	if err != nil || unk.Decision.Action != policy.ActionReject {
		t.Errorf("unknown subscription: %+v, %v; want reject", unk.Decision, err)
	}
	for _, tt := range []struct {
		name, id string
		want     error
	}{
		{"not a connection id", "pe-app-fhir", autopilot.ErrInvalid},
		{"unknown connection", workspace + "/privateEndpointConnections/nope", autopilot.ErrNotFound},
		{"unknown target", subA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/gone/privateEndpointConnections/x", autopilot.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := e.svc.Evaluate(ctx, tt.id); !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func do(t *testing.T, h http.Handler, method, target, body string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b), rec.Result().Header
}

func TestAPI(t *testing.T) {
	e := newEnv(t)
	api := e.svc.API()
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantIn                   string
	}{
		{"evaluate approves app connection", "POST", "/api/evaluate", `{"connectionId":"` + appConn + `"}`, 200, `"rule": "allow-app-subscriptions"`},
		{"evaluate unknown connection", "POST", "/api/evaluate", `{"connectionId":"` + workspace + `/privateEndpointConnections/nope"}`, 404, "not found"},
		{"evaluate missing field", "POST", "/api/evaluate", `{}`, 400, `field \"connectionId\": missing`},
		{"evaluate wrong field type", "POST", "/api/evaluate", `{"connectionId": 3}`, 400, `field \"connectionId\"`},
		{"evaluate unknown field", "POST", "/api/evaluate", `{"connection":"x"}`, 400, `unknown field \"connection\"`},
		{"evaluate not json", "POST", "/api/evaluate", `nope`, 400, "not a JSON object"},
		{"evaluate empty body", "POST", "/api/evaluate", ``, 400, "body: empty"},
		{"evaluate body nested too deep", "POST", "/api/evaluate", `{"connectionId":` + strings.Repeat("[", 60_000), 400, "nested deeper than 64 levels"},
		{"evaluate bad id", "POST", "/api/evaluate", `{"connectionId":"abc"}`, 400, `field \"connectionId\": invalid input`},
		{"evaluate with GET", "GET", "/api/evaluate", ``, 405, "use POST"},
		{"verify accepted", "POST", "/api/verify", `{"id":"` + appPE + `"}`, 202, `"jobId"`},
		{"verify missing id", "POST", "/api/verify", `{"id":""}`, 400, `field \"id\": missing`},
		{"verify endpoint that does not exist", "POST", "/api/verify", `{"id":"` + strings.TrimSuffix(appPE, "pe-app-fhir") + `nope"}`, 404, `private endpoint`},
		{"verify vnet that does not exist", "POST", "/api/verify", `{"id":"` + subA + `/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/nope"}`, 404, `VNet`},
		{"evaluate target that does not exist", "POST", "/api/evaluate", `{"connectionId":"` + workspace + `x/privateEndpointConnections/nope"}`, 404, `does not exist (ARM answered HTTP 404`},
		{"verify not a supported id", "POST", "/api/verify", `{"id":"` + subA + `/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/x"}`, 400, `field \"id\"`},
		{"status with POST", "POST", "/api/status", ``, 405, "use GET"},
		{"status bad format", "GET", "/api/status?format=xml", ``, 400, `parameter \"format\"`},
		{"unknown path", "GET", "/api/nope", ``, 404, "no such API path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, _ := do(t, api, tt.method, tt.path, tt.body)
			if status != tt.wantStatus || !strings.Contains(body, tt.wantIn) {
				t.Errorf("got %d %s\nwant %d containing %s", status, body, tt.wantStatus, tt.wantIn)
			}
			if strings.Contains(body, "RESPONSE 404") {
				t.Errorf("error carries the SDK's response dump: %s", body)
			}
		})
	}
	vs, err := e.store.Stats("verify")
	if err != nil || vs.Active != 1 {
		t.Errorf("verify queue after one accepted request: %+v, %v; want 1 active job", vs, err)
	}
}

func TestAPIStatusJSONAndHTML(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.HandleEvents(ctx, endpointEvent(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Drain(ctx, e.svc.Reconcile, jobs.DrainOptions{Clock: e.clock}, e.store.Queue("reconcile")); err != nil {
		t.Fatal(err)
	}
	// A reason carrying markup must be shown, not executed.
	evil := outcome.New(outcome.ConnectionRejected, workspace+"/privateEndpointConnections/evil", outcome.Data{Reason: `<script>alert(1)</script>`}, e.clock.Now())
	if err := e.svc.Sink().Publish(ctx, []outcome.Event{evil}); err != nil {
		t.Fatal(err)
	}
	api := e.svc.API()

	status, body, hdr := do(t, api, "GET", "/api/status", "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
		t.Fatalf("status JSON: %d %s", status, hdr.Get("Content-Type"))
	}
	var st autopilot.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	var approved bool
	for _, d := range st.Decisions {
		approved = approved || (d.Type == "connection.approved" && strings.EqualFold(d.Subject, appConn) && d.Rule == "allow-app-subscriptions")
	}
	if !approved || len(st.Links) == 0 || st.Counters.EventsEnqueued != 1 {
		t.Errorf("status JSON lacks the approval, links or counters: %s", body)
	}

	for _, variant := range []struct{ name, path, accept string }{
		{"accept header", "/api/status", "text/html,application/xhtml+xml;q=0.9"},
		{"format query", "/api/status?format=html", "application/json"},
	} {
		t.Run(variant.name, func(t *testing.T) {
			status, body, hdr := do(t, api, "GET", variant.path, "", "Accept", variant.accept)
			if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
				t.Fatalf("got %d %s", status, hdr.Get("Content-Type"))
			}
			for _, want := range []string{"<h2>Decisions</h2>", "connection.approved", "allow-app-subscriptions", "pe-app-fhir.5c1d6e2f", "&lt;script&gt;alert(1)&lt;/script&gt;"} {
				if !strings.Contains(body, want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("HTML contains an unescaped <script>")
			}
		})
	}
}
