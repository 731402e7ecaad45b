package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/funchost"
	"github.com/rs/zerolog"
)

// envelope reads a recorded-shape invocation body.
func envelope(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "pkg", "funchost", "testdata", "envelopes", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON log lines written so far.
func (b *syncBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b.buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", sc.Text())
		}
		out = append(out, m)
	}
	return out
}

// startServer runs the handler's HTTP server on a free loopback port.
func startServer(t testing.TB, fns map[string]FunctionHandler) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	srv := httptest.NewServer(newServer(fns, zerolog.New(logs)))
	t.Cleanup(srv.Close)
	return srv.URL, logs
}

// invoke POSTs body to /function as the host does.
func invoke(t testing.TB, base, function, id string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/"+function, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(funchost.HeaderInvocationID, id)
	req.Header.Set(funchost.HeaderHostVersion, "4.1036.1.23224")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(out)
}

// eventSummary is what a test handler reads from an Event Grid event.
type eventSummary struct {
	ID, Type, Subject, Operation string
}

func summarize(t testing.TB, raw json.RawMessage) eventSummary {
	var ev struct {
		ID, Subject string
		EventType   string `json:"eventType"`
		Type        string `json:"type"`
		Data        struct {
			OperationName string `json:"operationName"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Errorf("event: %v", err)
	}
	typ := ev.EventType
	if typ == "" {
		typ = ev.Type
	}
	return eventSummary{ev.ID, typ, ev.Subject, ev.Data.OperationName}
}

func TestTriggerEnvelopesOverHTTP(t *testing.T) {
	type row struct {
		name     string
		file     string
		function string
		// handle decodes the invocation the way the real function will and
		// returns what it saw and the response to send.
		handle   func(t *testing.T, inv *funchost.Invocation) (any, *funchost.Response, error)
		want     any
		wantBody string
	}
	eventHandler := func(t *testing.T, inv *funchost.Invocation) (any, *funchost.Response, error) {
		raw, err := inv.EventGridEvent(resourceEventsBinding)
		if err != nil {
			return nil, nil, err
		}
		s := summarize(t, raw)
		return s, &funchost.Response{Logs: []string{"event " + s.ID}}, nil
	}
	tests := []row{
		{
			name: "event grid schema", file: "eventgrid-schema.json", function: fnResourceEvents,
			handle: eventHandler,
			want: eventSummary{
				ID:        "1e9c6b3e-6a1b-4f0e-9f5e-2a7c1d3b4e5f",
				Type:      "Microsoft.Resources.ResourceWriteSuccess",
				Subject:   "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir",
				Operation: "Microsoft.Network/privateEndpoints/write",
			},
			wantBody: `{"Outputs":{},"Logs":["event 1e9c6b3e-6a1b-4f0e-9f5e-2a7c1d3b4e5f"],"ReturnValue":null}`,
		},
		{
			name: "cloudevents schema", file: "eventgrid-cloudevents.json", function: fnResourceEvents,
			handle: eventHandler,
			want: eventSummary{
				ID:        "7a0e7c51-3c1f-4b8e-9d2a-5f6e7d8c9b0a",
				Type:      "Microsoft.Resources.ResourceWriteSuccess",
				Subject:   "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1/privateEndpointConnections/pe-fhir.1234",
				Operation: "Microsoft.HealthcareApis/workspaces/privateEndpointConnections/write",
			},
			wantBody: `{"Outputs":{},"Logs":["event 7a0e7c51-3c1f-4b8e-9d2a-5f6e7d8c9b0a"],"ReturnValue":null}`,
		},
		{
			name: "service bus double encoded body with string metadata", file: "servicebus-double-encoded.json", function: fnReconcile,
			handle: func(t *testing.T, inv *funchost.Invocation) (any, *funchost.Response, error) {
				m, err := inv.ServiceBusMessage(reconcileBinding)
				if err != nil {
					return nil, nil, err
				}
				var job struct {
					Kind     string `json:"kind"`
					TargetID string `json:"targetId"`
				}
				if err := json.Unmarshal(m.Body, &job); err != nil {
					t.Errorf("body is not the job JSON: %v: %q", err, m.Body)
				}
				got := map[string]any{
					"kind": job.Kind, "targetId": job.TargetID, "messageId": m.MessageID,
					"deliveryCount": m.DeliveryCount, "enqueued": m.EnqueuedTime, "sequence": m.SequenceNumber,
				}
				return got, &funchost.Response{ReturnValue: map[string]string{"completed": m.MessageID}}, nil
			},
			want: map[string]any{
				"kind":          "reconcile",
				"targetId":      "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir",
				"messageId":     "abc",
				"deliveryCount": 1,
				"enqueued":      time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC),
				"sequence":      int64(42),
			},
			wantBody: `{"Outputs":{},"Logs":[],"ReturnValue":{"completed":"abc"}}`,
		},
		{
			name: "timer", file: "timer.json", function: fnSweep,
			handle: func(t *testing.T, inv *funchost.Invocation) (any, *funchost.Response, error) {
				ti, err := inv.Timer(sweepBinding)
				return ti, nil, err
			},
			want: funchost.TimerInfo{
				IsPastDue: true,
				Last:      time.Date(2024, 5, 2, 10, 0, 0, 1658700, time.UTC),
				Next:      time.Date(2024, 5, 2, 10, 10, 0, 0, time.UTC),
			},
			wantBody: `{"Outputs":{},"Logs":[],"ReturnValue":null}`,
		},
		{
			name: "http with array headers and an http output", file: "http.json", function: fnAPI,
			handle: func(t *testing.T, inv *funchost.Invocation) (any, *funchost.Response, error) {
				r, err := inv.HTTPRequest(apiBinding)
				if err != nil {
					return nil, nil, err
				}
				got := map[string]any{
					"method": r.Method, "path": r.Params[apiRouteParam], "dryRun": r.Query["dryRun"],
					"forwardedFor": r.Headers["X-Forwarded-For"], "body": string(r.Body),
				}
				resp := &funchost.Response{}
				resp.SetOutput(apiOutput, funchost.HTTPResponse{StatusCode: http.StatusAccepted,
					Body: map[string]string{"path": r.Params[apiRouteParam]}, Headers: map[string]string{"Content-Type": "application/json"}})
				return got, resp, nil
			},
			want: map[string]any{
				"method": "POST", "path": "evaluate", "dryRun": "true",
				"forwardedFor": []string{"203.0.113.7:51234", "10.0.0.4"},
				"body":         `{"targetId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1"}`,
			},
			wantBody: `{"Outputs":{"res":{"statusCode":"202","body":{"path":"evaluate"},"headers":{"Content-Type":"application/json"}}},"Logs":[],"ReturnValue":null}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got any
			var gotID string
			fns := map[string]FunctionHandler{
				tt.function: func(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
					gotID = inv.ID
					zerolog.Ctx(ctx).Info().Msg("handler ran")
					var resp *funchost.Response
					var err error
					got, resp, err = tt.handle(t, inv)
					return resp, err
				},
			}
			base, logs := startServer(t, fns)
			status, body := invoke(t, base, tt.function, "inv-42", envelope(t, tt.file))
			if status != http.StatusOK {
				t.Fatalf("status %d, body %s", status, body)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("decoded (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(body, tt.wantBody); diff != "" {
				t.Errorf("response envelope (-got +want):\n%s", diff)
			}
			if gotID != "inv-42" {
				t.Errorf("invocation id %q, want inv-42", gotID)
			}
			var sawHandlerLine bool
			for _, l := range logs.lines(t) {
				if l["message"] == "handler ran" {
					sawHandlerLine = true
					if l["invocationId"] != "inv-42" || l["function"] != tt.function {
						t.Errorf("handler log line lacks invocation id or function: %v", l)
					}
				}
			}
			if !sawHandlerLine {
				t.Error("the handler's log line (via zerolog.Ctx) is missing")
			}
		})
	}
}

func TestErrorsMapToStatusAndNameTheCause(t *testing.T) {
	fns := map[string]FunctionHandler{
		"Fails": func(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
			return &funchost.Response{Logs: []string{"listed 3 targets"}}, errors.New("Fails: list targets: connection reset")
		},
		"Panics": func(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
			panic("boom")
		},
		fnReconcile: newFunctionsForTest()[fnReconcile],
	}
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // exact, when set
		wantError  string // substring of the Error field, when set
	}{
		{"readiness probe", http.MethodGet, "/", "", http.StatusOK, "ok\n", ""},
		{"readiness probe by POST", http.MethodPost, "/", "", http.StatusOK, "ok\n", ""},
		{"unknown function", http.MethodPost, "/Nope", "{}", http.StatusNotFound, "",
			"Nope: no such function (functions: Fails, Panics, Reconcile)"},
		{"function names are case-sensitive", http.MethodPost, "/reconcile", "{}", http.StatusNotFound, "", "reconcile: no such function"},
		{"forwarded http path is not a function", http.MethodPost, "/api/status", "{}", http.StatusNotFound, "", "api/status: no such function"},
		{"GET on a function", http.MethodGet, "/Reconcile", "", http.StatusMethodNotAllowed, "", "Reconcile: method GET not allowed"},
		{"envelope not JSON", http.MethodPost, "/Reconcile", `{"Data":`, http.StatusBadRequest, "", "Reconcile: body: invalid JSON"},
		{"field the function reads is malformed", http.MethodPost, "/Reconcile",
			`{"Data":{"message":"{}"},"Metadata":{"DeliveryCount":"one"}}`, http.StatusBadRequest,
			`{"Outputs":{},"Logs":["Reconcile: Metadata.DeliveryCount: \"one\" is not a whole number"],"ReturnValue":null,"Error":"Reconcile: Metadata.DeliveryCount: \"one\" is not a whole number"}`, ""},
		{"binding missing", http.MethodPost, "/Reconcile", `{"Data":{"msg":"{}"}}`, http.StatusBadRequest, "",
			"Reconcile: Data.message: missing (bindings present: msg)"},
		{"function error keeps its logs", http.MethodPost, "/Fails", `{"Data":{}}`, http.StatusInternalServerError,
			`{"Outputs":{},"Logs":["listed 3 targets","Fails: list targets: connection reset"],"ReturnValue":null,"Error":"Fails: list targets: connection reset"}`, ""},
		{"panic is a failed invocation", http.MethodPost, "/Panics", `{"Data":{}}`, http.StatusInternalServerError, "",
			"Panics: panic: boom"},
		{"body over the cap", http.MethodPost, "/Reconcile", `{"Data":{"message":"` + strings.Repeat("x", maxBodyBytes) + `"}}`,
			http.StatusRequestEntityTooLarge, "", "Reconcile: body: larger than the 8388608 bytes limit"},
	}
	base, _ := startServer(t, fns)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantBody != "" {
				if diff := cmp.Diff(string(body), tt.wantBody); diff != "" {
					t.Errorf("body (-got +want):\n%s", diff)
				}
			}
			if tt.wantError != "" {
				var env struct {
					Logs  []string
					Error string
				}
				if err := json.Unmarshal(body, &env); err != nil {
					t.Fatalf("error body is not JSON: %s", body)
				}
				if !strings.Contains(env.Error, tt.wantError) {
					t.Errorf("Error %q, want it to contain %q", env.Error, tt.wantError)
				}
				if len(env.Logs) == 0 || env.Logs[len(env.Logs)-1] != env.Error {
					t.Errorf("Logs %q do not end with the error", env.Logs)
				}
			}
		})
	}
}

func newFunctionsForTest() map[string]FunctionHandler {
	return functions(newApp(zerolog.Nop()))
}

func TestUndecodableBodyIsLoggedWholeUpToTheCap(t *testing.T) {
	tests := []struct {
		name          string
		body          string
		wantLogged    int // 0: the whole body
		wantTruncated bool
	}{
		{"small body logged whole", `{"Data":{"message":` + strings.Repeat(" ", 100) + `}`, 0, false},
		{"large body capped", `{"Data":` + strings.Repeat("[", 100<<10), maxLoggedBody, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantLogged == 0 {
				tt.wantLogged = len(tt.body)
			}
			base, logs := startServer(t, newFunctionsForTest())
			status, _ := invoke(t, base, fnReconcile, "inv-bad", []byte(tt.body))
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", status)
			}
			var found bool
			for _, l := range logs.lines(t) {
				body, ok := l["body"].(string)
				if !ok {
					continue
				}
				found = true
				if len(body) != tt.wantLogged || !strings.HasPrefix(tt.body, body) {
					t.Errorf("logged %d bytes, want the first %d of the body", len(body), tt.wantLogged)
				}
				if l["bodyTruncated"] != tt.wantTruncated || l["bodyBytes"] != float64(len(tt.body)) {
					t.Errorf("bodyTruncated=%v bodyBytes=%v, want %v and %d", l["bodyTruncated"], l["bodyBytes"], tt.wantTruncated, len(tt.body))
				}
				if l["invocationId"] != "inv-bad" || l["function"] != fnReconcile || l["level"] != "error" {
					t.Errorf("log line lacks invocation context: %v", l)
				}
			}
			if !found {
				t.Fatal("the undecodable body was not logged")
			}
		})
	}
}

// TestUnconfiguredFunctionsDecodeThenFailClosed runs the real functions
// with no configuration: each decodes its trigger (a malformed one is a 400
// naming the field) and then fails with a 500 naming the missing settings,
// never success.
func TestUnconfiguredFunctionsDecodeThenFailClosed(t *testing.T) {
	tests := []struct {
		function string
		file     string
		bad      string // an envelope whose trigger cannot be decoded
		badField string
	}{
		{fnResourceEvents, "eventgrid-schema.json", `{"Data":{"event":{"hello":1}}}`, "ResourceEvents: Data.event: is not an event"},
		{fnResourceEvents, "eventgrid-cloudevents.json", `{"Data":{}}`, "ResourceEvents: Data.event: missing"},
		{fnReconcile, "servicebus-double-encoded.json", `{"Data":{"message":"{}"},"Metadata":{"EnqueuedTimeUtc":"x"}}`, "Reconcile: Metadata.EnqueuedTimeUtc"},
		{fnVerify, "tolerated-servicebus-single-encoded.json", `{"Data":{"message":null}}`, "Verify: Data.message: is null"},
		{fnSweep, "timer.json", `{"Data":{"timer":{"IsPastDue":"perhaps"}}}`, "Sweep: Data.timer.IsPastDue"},
		{fnAPI, "http.json", `{"Data":{"req":{"Url":"http://x"}}}`, "Api: Data.req.Method: missing"},
	}
	base, _ := startServer(t, newFunctionsForTest())
	for _, tt := range tests {
		t.Run(tt.function+" "+tt.file, func(t *testing.T) {
			status, body := invoke(t, base, tt.function, "inv-1", envelope(t, tt.file))
			msg := tt.function + ": configuration: AUTOPILOT_POLICY_FILE or AUTOPILOT_POLICY: not set"
			if status != http.StatusInternalServerError || !strings.Contains(body, msg) {
				t.Errorf("status %d body %s, want 500 with %q", status, body, msg)
			}
			status, body = invoke(t, base, tt.function, "inv-2", []byte(tt.bad))
			if status != http.StatusBadRequest || !strings.Contains(body, tt.badField) {
				t.Errorf("bad trigger: status %d body %s, want 400 naming %q", status, body, tt.badField)
			}
		})
	}
}

func BenchmarkRoundTrip(b *testing.B) {
	body := envelope(b, "servicebus-double-encoded.json")
	fns := map[string]FunctionHandler{
		fnReconcile: func(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error) {
			m, err := inv.ServiceBusMessage(reconcileBinding)
			if err != nil {
				return nil, err
			}
			return &funchost.Response{Logs: []string{"done " + m.MessageID}}, nil
		},
	}
	h := newServer(fns, zerolog.Nop())
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/"+fnReconcile, bytes.NewReader(body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
