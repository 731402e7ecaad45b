package outcome

import (
	"bufio"
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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azeventgrid"
	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

const connID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws1/privateEndpointConnections/pe1.abc"

func sample(typ Type, job string) Event {
	return New(typ, connID, Data{Rule: "allow-spokes", Reason: "subscription allowed", Before: "Pending", After: "Approved",
		Mode: "enforce", Result: ResultApplied, CorrelationID: "corr-1", JobID: job, Attempt: 1}, t0)
}

func TestNewEventIsCloudEventWithStableID(t *testing.T) {
	a := sample(ConnectionApproved, "job1")
	b := sample(ConnectionApproved, "job1")
	c := sample(ConnectionApproved, "job2")
	if a.ID != b.ID {
		t.Errorf("same fact of the same job run got ids %s and %s, want equal", a.ID, b.ID)
	}
	if a.ID == c.ID {
		t.Errorf("different jobs got the same event id %s", a.ID)
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "source", "specversion", "type", "subject", "time", "data"} {
		if _, ok := m[k]; !ok {
			t.Errorf("CloudEvent JSON lacks required attribute %q: %s", k, raw)
		}
	}
	if got, want := m["specversion"], "1.0"; got != want {
		t.Errorf("specversion = %v, want %v", got, want)
	}
}

func TestMemorySinkKeepsRecentAndQueriesByType(t *testing.T) {
	s := NewMemorySink(3)
	ctx := context.Background()
	_ = s.Publish(ctx, []Event{sample(ConnectionApproved, "1"), sample(LinkCreated, "2")})
	_ = s.Publish(ctx, []Event{sample(LinkCreated, "3"), sample(JobFailed, "4")})
	var got []string
	for _, e := range s.Events() {
		got = append(got, e.Data.JobID)
	}
	if diff := cmp.Diff(got, []string{"2", "3", "4"}); diff != "" {
		t.Errorf("kept events (-got +want):\n%s", diff)
	}
	if got, want := len(s.ByType(LinkCreated)), 2; got != want {
		t.Errorf("ByType(link.created) = %d events, want %d", got, want)
	}
	if got, want := s.Total(), 4; got != want {
		t.Errorf("Total = %d, want %d", got, want)
	}
	if got := s.Recent(1); len(got) != 1 || got[0].Data.JobID != "4" {
		t.Errorf("Recent(1) = %+v, want the job 4 event", got)
	}
}

func TestMemorySinkConcurrentPublish(t *testing.T) {
	s := NewMemorySink(10000)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				_ = s.Publish(context.Background(), []Event{sample(LinkCreated, "x")})
			}
		}()
	}
	wg.Wait()
	if got, want := len(s.Events()), 800; got != want {
		t.Errorf("events after concurrent publish = %d, want %d", got, want)
	}
}

func TestFileSinkAppendsJSONLines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outcomes")
	s, err := NewFileSink(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Publish(ctx, []Event{sample(ConnectionApproved, "1")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Publish(ctx, []Event{sample(LinkCreated, "2"), sample(ZoneGroupCreated, "3")}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, "outcomes-2026-10-01.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var types []Type
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %q is not an event: %v", sc.Text(), err)
		}
		types = append(types, e.Type)
	}
	if diff := cmp.Diff(types, []Type{ConnectionApproved, LinkCreated, ZoneGroupCreated}); diff != "" {
		t.Errorf("file content (-got +want):\n%s", diff)
	}
}

type failSink struct{ n int }

func (f *failSink) Publish(context.Context, []Event) error { f.n++; return errors.New("sink down") }

func TestMultiPublishesToAllEvenWhenOneFails(t *testing.T) {
	bad := &failSink{}
	mem := NewMemorySink(10)
	err := Multi{bad, mem}.Publish(context.Background(), []Event{sample(LinkRemoved, "1")})
	if err == nil || !strings.Contains(err.Error(), "sink down") {
		t.Errorf("Multi error = %v, want the failing sink's error", err)
	}
	if len(mem.Events()) != 1 {
		t.Errorf("memory sink got %d events after another sink failed, want 1", len(mem.Events()))
	}
}

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

func TestEventGridSinkPublishesCloudEvents(t *testing.T) {
	ts, got := topic(t, http.StatusOK)
	fallback := NewMemorySink(10)
	s, err := NewEventGridSink(ts.URL+"/api/events", &azfake.TokenCredential{}, egOptions(ts), fallback)
	if err != nil {
		t.Fatal(err)
	}
	ev := sample(ConnectionApproved, "job1")
	if err := s.Publish(context.Background(), []Event{ev, sample(LinkCreated, "job1")}); err != nil {
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

func TestEventGridSinkFailureFallsBackAndReturnsError(t *testing.T) {
	ts, _ := topic(t, http.StatusUnauthorized)
	fallback := NewMemorySink(10)
	s, err := NewEventGridSink(ts.URL+"/api/events", &azfake.TokenCredential{}, egOptions(ts), fallback)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Publish(context.Background(), []Event{sample(ConnectionRejected, "job9")})
	if err == nil {
		t.Fatal("Publish to a failing topic returned nil, want the error")
	}
	if got := fallback.ByType(ConnectionRejected); len(got) != 1 {
		t.Errorf("fallback kept %d rejected events, want 1 (the decision must not be lost)", len(got))
	}
}

func TestEventGridSinkRejectsEmptyEndpoint(t *testing.T) {
	if _, err := NewEventGridSink("", &azfake.TokenCredential{}, nil, nil); err == nil {
		t.Error("NewEventGridSink with empty endpoint succeeded, want an error")
	}
}
