package outcome

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
