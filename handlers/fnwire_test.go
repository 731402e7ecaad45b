package main

import (
	"context"
	"encoding/json"
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
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/rs/zerolog"
)

const (
	guideWorkspace = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	guideAppConn   = guideWorkspace + "/privateEndpointConnections/pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
	guideAppPE     = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
)

// fnEnv is the Functions handler wired to a sandbox-backed Service whose
// queues are embedded queues standing in for Service Bus.
type fnEnv struct {
	url   string
	sb    *sandbox.Sandbox
	store *embedded.Store
	svc   *autopilot.Service
}

func newFnEnv(t *testing.T) *fnEnv {
	t.Helper()
	gw := guidetest.New(t)
	sb, pol, arm := gw.Sandbox, gw.Policy, gw.ARM
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	w := &wiring{queues: map[jobs.Kind]hostedQueue{}, now: time.Now}
	for _, k := range []jobs.Kind{jobs.KindReconcile, jobs.KindVerify} {
		name := string(k)
		w.queues[k] = hostedQueue{name: name, parkedName: name + "-failed", sender: store.Queue(name), parked: store.Queue(name + "-failed")}
	}
	w.svc, err = autopilot.New(autopilot.Config{Policy: pol, ARM: arm, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newServer(functions(newAppWith(zerolog.Nop(), w, nil)), zerolog.Nop()))
	t.Cleanup(srv.Close)
	return &fnEnv{url: srv.URL, sb: sb, store: store, svc: w.svc}
}

// serviceBusEnvelope is what the host sends for a job message: the body
// doubly quoted, numbers and ids as quoted strings.
func serviceBusEnvelope(t *testing.T, j jobs.Job) string {
	t.Helper()
	body, err := jobs.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	once, _ := json.Marshal(string(body))
	twice, _ := json.Marshal(string(once))
	return `{"Data":{"message":` + string(twice) + `},"Metadata":{"DeliveryCount":"1","MessageId":"\"` + j.ID +
		`\"","LockToken":"\"8d4f1a2b-3c4d-4e5f-a6b7-c8d9e0f1a2b3\"","EnqueuedTimeUtc":"2026-11-04T09:00:00"}}`
}

func callFn(t *testing.T, base, function, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/"+function, strings.NewReader(body))
	req.Header.Set("X-Azure-Functions-InvocationId", "test-"+function)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sandboxConnStatus(t *testing.T, sb *sandbox.Sandbox, connID string) string {
	t.Helper()
	raw, ok := sb.Get(guideWorkspace)
	if !ok {
		t.Fatal("workspace missing from the sandbox")
	}
	var ws struct {
		Properties struct {
			Conns []struct {
				ID         string `json:"id"`
				Properties struct {
					State struct{ Status string } `json:"privateLinkServiceConnectionState"`
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
	return "missing"
}

func TestReconcileFunctionApprovesInSandbox(t *testing.T) {
	e := newFnEnv(t)
	j := jobs.New(jobs.KindReconcile, jobs.SubjectEndpoint, guideAppPE, "fn-test")
	status, body := callFn(t, e.url, fnReconcile, serviceBusEnvelope(t, j))
	if status != http.StatusOK || !strings.Contains(body, "job "+j.ID+": complete") {
		t.Fatalf("Reconcile: %d %s; want 200 and the job completed", status, body)
	}
	if got := sandboxConnStatus(t, e.sb, guideAppConn); got != "Approved" {
		t.Errorf("connection is %s after the Reconcile function, want Approved", got)
	}
	st, err := e.store.Stats("verify")
	if err != nil || st.Pending() == 0 {
		t.Errorf("verify queue %+v, %v: want the verification the reconcile scheduled", st, err)
	}
}

func TestReconcileFunctionRetrySchedulesNextAttempt(t *testing.T) {
	e := newFnEnv(t)
	// a throttle asking for longer than the job's retry budget: the adapter
	// does not wait for it inside the job, the job is rescheduled (a
	// persistent 500 would be retried inside the job for its whole budget)
	e.sb.AddFaultRule(sandbox.FaultRule{Method: "PUT", ID: "contoso-health", Status: 429, Code: "TooManyRequests", RetryAfter: sandbox.Duration(5 * time.Minute)})
	j := jobs.New(jobs.KindReconcile, jobs.SubjectEndpoint, guideAppPE, "fn-retry")
	status, body := callFn(t, e.url, fnReconcile, serviceBusEnvelope(t, j))
	if status != http.StatusOK || !strings.Contains(body, "retry after") {
		t.Fatalf("Reconcile: %d %s; want 200 with a retry", status, body)
	}
	st, err := e.store.Stats("reconcile")
	if err != nil || st.Scheduled != 1 {
		t.Errorf("reconcile queue %+v, %v; want the next attempt scheduled", st, err)
	}
}

func TestReconcileFunctionFatalIsParked(t *testing.T) {
	e := newFnEnv(t)
	e.sb.AddFaultRule(sandbox.FaultRule{Method: "PUT", ID: "contoso-health", Status: 403, Code: "AuthorizationFailed", Message: "no approve right"})
	j := jobs.New(jobs.KindReconcile, jobs.SubjectEndpoint, guideAppPE, "fn-fatal")
	status, body := callFn(t, e.url, fnReconcile, serviceBusEnvelope(t, j))
	if status != http.StatusOK || !strings.Contains(body, "parked on reconcile-failed") {
		t.Fatalf("Reconcile: %d %s; want 200 and the job parked", status, body)
	}
	parked, err := e.store.Queue("reconcile-failed").Receive(context.Background(), 10)
	if err != nil || len(parked) != 1 || parked[0].Job.ID != j.ID {
		t.Fatalf("parking queue holds %+v, %v; want job %s", parked, err, j.ID)
	}
	var failed []outcome.Event
	for _, ev := range e.svc.Outcomes() {
		if ev.Type == outcome.JobFailed && ev.Data.JobID == j.ID && strings.Contains(ev.Data.After, "reconcile-failed") {
			failed = append(failed, ev)
		}
	}
	if len(failed) != 1 || failed[0].Data.Reason == "" {
		t.Errorf("job.failed outcomes for the parked job: %+v; want one with the reason", failed)
	}
	if got := sandboxConnStatus(t, e.sb, guideAppConn); got != "Pending" {
		t.Errorf("connection is %s, want Pending (the approve was refused)", got)
	}
}

func TestResourceEventsFunctionEnqueues(t *testing.T) {
	e := newFnEnv(t)
	ev, err := os.ReadFile("../testdata/events/endpoint-write.eventgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(ev, &arr); err != nil || len(arr) != 1 {
		t.Fatalf("event file: %v", err)
	}
	status, body := callFn(t, e.url, fnResourceEvents, `{"Data":{"event":`+string(arr[0])+`},"Metadata":{}}`)
	if status != http.StatusOK || !strings.Contains(body, "enqueued") {
		t.Fatalf("ResourceEvents: %d %s", status, body)
	}
	if st, _ := e.store.Stats("reconcile"); st.Active != 1 {
		t.Errorf("reconcile queue %+v; want one job", st)
	}
}

func TestSweepAndAPIFunctions(t *testing.T) {
	e := newFnEnv(t)
	status, body := callFn(t, e.url, fnSweep, `{"Data":{"timer":{"Schedule":{"AdjustForDST":true},"ScheduleStatus":null,"IsPastDue":false}},"Metadata":{}}`)
	if status != http.StatusOK || !strings.Contains(body, "jobs enqueued") {
		t.Fatalf("Sweep: %d %s", status, body)
	}
	if st, _ := e.store.Stats("reconcile"); st.Active == 0 {
		t.Errorf("reconcile queue %+v after a sweep of the guide (pending connections); want jobs", st)
	}
	evalBody, _ := json.Marshal(map[string]string{"connectionId": guideAppConn})
	req, _ := json.Marshal(map[string]any{"Url": "http://localhost:7071/api/evaluate", "Method": "POST",
		"Headers": map[string][]string{"Content-Type": {"application/json"}}, "Params": map[string]string{"path": "evaluate"}, "Body": string(evalBody)})
	status, body = callFn(t, e.url, fnAPI, `{"Data":{"req":`+string(req)+`},"Metadata":{}}`)
	if status != http.StatusOK {
		t.Fatalf("Api: %d %s", status, body)
	}
	var env struct {
		Outputs struct {
			Res struct {
				StatusCode string `json:"statusCode"`
				Body       string `json:"body"`
			} `json:"res"`
		}
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	if env.Outputs.Res.StatusCode != "200" || !strings.Contains(env.Outputs.Res.Body, "allow-app-subscriptions") {
		t.Errorf("Api evaluate output: %+v", env.Outputs.Res)
	}
	// Bad input is the API's 400, delivered as a successful invocation.
	req, _ = json.Marshal(map[string]any{"Url": "http://localhost:7071/api/verify", "Method": "POST", "Params": map[string]string{"path": "verify"}, "Body": `{}`})
	_, body = callFn(t, e.url, fnAPI, `{"Data":{"req":`+string(req)+`},"Metadata":{}}`)
	if !strings.Contains(body, `"statusCode":"400"`) || !strings.Contains(body, `field \\\"id\\\"`) {
		t.Errorf("Api verify without id: %s; want a 400 naming the field", body)
	}
}

func TestBadPolicyFailsEveryFunction(t *testing.T) {
	env := map[string]string{envPolicy: "apiVersion: autopilot.plautopilot.io/v1\nmode: sometimes\n", envSBNamespace: "sb.servicebus.windows.net"}
	a := &app{log: zerolog.Nop(), build: func() (*wiring, error) { return wireFromEnv(func(k string) string { return env[k] }, zerolog.Nop()) }}
	srv := httptest.NewServer(newServer(functions(a), zerolog.Nop()))
	defer srv.Close()
	envelopes := map[string]string{
		fnResourceEvents: "eventgrid-schema.json",
		fnReconcile:      "servicebus-double-encoded.json",
		fnVerify:         "servicebus-double-encoded.json",
		fnSweep:          "timer.json",
		fnAPI:            "http.json",
	}
	for fn, file := range envelopes {
		t.Run(fn, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("../pkg/funchost/testdata/envelopes", file))
			if err != nil {
				t.Fatal(err)
			}
			status, body := callFn(t, srv.URL, fn, string(b))
			if status != http.StatusInternalServerError || !strings.Contains(body, fn+": configuration: "+envPolicy) {
				t.Errorf("got %d %s; want 500 naming %s", status, body, envPolicy)
			}
		})
	}
}

func TestMissingPolicyNamesBothSettings(t *testing.T) {
	_, err := wireFromEnv(func(string) string { return "" }, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), envPolicyFile+" or "+envPolicy) {
		t.Errorf("got %v; want an error naming %s and %s", err, envPolicyFile, envPolicy)
	}
}
