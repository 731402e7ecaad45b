package eventgrid

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"

	"github.com/plautopilot/autopilot/pkg/outcome"
)

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

const connID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws1/privateEndpointConnections/pe1.abc"

func sample(typ outcome.Type, job string) outcome.Event {
	return outcome.New(typ, connID, outcome.Data{Rule: "allow-spokes", Reason: "subscription allowed", Before: "Pending", After: "Approved",
		Mode: "enforce", Result: outcome.ResultApplied, CorrelationID: "corr-1", JobID: job, Attempt: 1}, t0)
}

func policyNoRetry() policy.RetryOptions { return policy.RetryOptions{MaxRetries: -1} }

// topic is a TLS test server standing in for an Event Grid custom topic.
func topic(t *testing.T, status int) (*httptest.Server, *[][]map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var got [][]map[string]any
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents-batch+json") {
			t.Errorf("content type %q, want application/cloudevents-batch+json", r.Header.Get("Content-Type"))
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("no bearer token on the publish request")
		}
		var batch []map[string]any
		if err := json.Unmarshal(body, &batch); err != nil {
			t.Errorf("body is not a JSON array of events: %v: %s", err, body)
		}
		mu.Lock()
		got = append(got, batch)
		mu.Unlock()
		w.WriteHeader(status)
		if status >= 400 {
			_, _ = w.Write([]byte(`{"error":{"code":"Unauthorized","message":"no"}}`))
		}
	}))
	t.Cleanup(ts.Close)
	return ts, &got
}

func egOptions(ts *httptest.Server) *azeventgrid.ClientOptions {
	return &azeventgrid.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: ts.Client(),
		Retry:     policyNoRetry(),
	}}
}

func TestSinkPublishesCloudEvents(t *testing.T) {
	ts, got := topic(t, http.StatusOK)
	fallback := outcome.NewMemorySink(10)
	s, err := NewSink(ts.URL+"/api/events", &azfake.TokenCredential{}, egOptions(ts), fallback)
	if err != nil {
		t.Fatal(err)
	}
	ev := sample(outcome.ConnectionApproved, "job1")
	if err := s.Publish(context.Background(), []outcome.Event{ev, sample(outcome.LinkCreated, "job1")}); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if len(*got) != 1 || len((*got)[0]) != 2 {
		t.Fatalf("topic received %v, want one batch of 2 events", *got)
	}
	first := (*got)[0][0]
	want := map[string]any{"id": ev.ID, "source": "/autopilot", "specversion": "1.0",
		"type": "io.plautopilot.connection.approved", "subject": connID}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("published %s = %v, want %v", k, first[k], v)
		}
	}
	data, _ := first["data"].(map[string]any)
	if data["rule"] != "allow-spokes" || data["correlationId"] != "corr-1" || data["after"] != "Approved" {
		t.Errorf("published data = %v, want rule, correlation id and after state", data)
	}
	if len(fallback.Events()) != 0 {
		t.Errorf("fallback got %d events on success, want 0", len(fallback.Events()))
	}
}

func TestSinkFailureFallsBackAndReturnsError(t *testing.T) {
	ts, _ := topic(t, http.StatusUnauthorized)
	fallback := outcome.NewMemorySink(10)
	s, err := NewSink(ts.URL+"/api/events", &azfake.TokenCredential{}, egOptions(ts), fallback)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Publish(context.Background(), []outcome.Event{sample(outcome.ConnectionRejected, "job9")})
	if err == nil {
		t.Fatal("Publish to a failing topic returned nil, want the error")
	}
	if got := fallback.ByType(outcome.ConnectionRejected); len(got) != 1 {
		t.Errorf("fallback kept %d rejected events, want 1 (the decision must not be lost)", len(got))
	}
}

func TestSinkRejectsEmptyEndpoint(t *testing.T) {
	if _, err := NewSink("", &azfake.TokenCredential{}, nil, nil); err == nil {
		t.Error("NewSink with empty endpoint succeeded, want an error")
	}
}
