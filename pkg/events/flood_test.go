package events

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// junkDelivery is one of issue 26's flood deliveries: 21 malformed events of
// 16 KiB each, so that the 20 kept one by one fill 320 KiB of the store.
func junkDelivery(i int) string {
	ev := `{"id":"junk-%d-%d","pad":"` + strings.Repeat("x", MaxRawBytes) + `"}`
	parts := make([]string, 21)
	for j := range parts {
		parts[j] = fmt.Sprintf(ev, i, j)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Issue 26: 450 junk deliveries flushed the earlier dead-event records (one
// 64 MiB generation was kept). With per-source quotas the flood costs its
// source about a MiB and a few summary lines, the earlier dead event is
// still there with the store's default bounds, and the flood is counted,
// not silently dropped.
func TestJunkFloodCannotFlushEarlierDeadEvents(t *testing.T) {
	dir := t.TempDir()
	store, err := NewFileDeadStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	store.Now = func() time.Time { return now }
	in := &Intake{Queue: &recordingSender{}, Log: zerolog.Nop(), Dead: store, Now: store.Now}
	h := NewWebhook(in, zerolog.Nop(), WebhookOptions{})
	post := func(remote, body string) int {
		req := httptest.NewRequest(http.MethodPost, "/api/events", strings.NewReader(body))
		req.RemoteAddr = remote
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	// the evidence: a malformed event from Event Grid's side
	evidence := `[{"id":"evidence-1","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/subscriptions/x","data":"not an object"}]`
	if code := post("198.51.100.10:443", evidence); code != http.StatusOK {
		t.Fatalf("evidence delivery: %d", code)
	}
	for i := range 450 {
		if code := post("[2001:db8:66:1::"+fmt.Sprintf("%x", i+1)+"]:5000", junkDelivery(i)); code != http.StatusOK {
			t.Fatalf("junk delivery %d: %d", i, code)
		}
		now = now.Add(2 * time.Second) // fifteen minutes of flood
	}

	if err := store.Flush(); err != nil { // as handler local does when it stops
		t.Fatal(err)
	}
	evs, err := store.Events()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) == 0 || evs[0].EventID != "evidence-1" && !strings.Contains(string(evs[0].Raw), "evidence-1") {
		t.Fatalf("the earliest dead event is %+v; want the evidence still readable", first(evs))
	}
	// every junk event is accounted for: kept one by one (or in the
	// intake's per-delivery summary), or counted in the store's summaries
	var kept, keptLines, counted int
	for _, ev := range evs[1:] {
		if ev.Source != "client 2001:db8:66:1::/64" {
			t.Fatalf("flood event from source %q; want the attacker's /64", ev.Source)
		}
		n := 1
		fmt.Sscanf(ev.Reason, "%d more", &n)
		if strings.Contains(ev.Reason, "counted but not kept one by one: over its quota") {
			counted += n
			continue
		}
		kept += n
		keptLines++
	}
	if kept+counted != 450*21 {
		t.Errorf("flood: %d kept, %d counted; want all %d junk events accounted for", kept, counted, 450*21)
	}
	if keptLines > 100 {
		t.Errorf("%d flood events kept one by one; want about its quota's worth (%d KiB)", keptLines, DefaultDeadSourceQuota>>10)
	}
	var size int64
	for i := range DefaultDeadGenerations {
		if fi, err := os.Stat(store.genPath(i)); err == nil {
			size += fi.Size()
		}
	}
	if size > 2*DefaultDeadSourceQuota {
		t.Errorf("the flood wrote %d bytes; want about its source's quota of %d", size, DefaultDeadSourceQuota)
	}
}

func first(evs []DeadEvent) any {
	if len(evs) == 0 {
		return "nothing"
	}
	return evs[0]
}

// More than one generation is kept, and Events reads them oldest first.
func TestFileDeadStoreKeepsGenerations(t *testing.T) {
	s, err := NewFileDeadStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.MaxBytes, s.SourceQuota = 4<<10, -1
	for i := range 40 {
		if err := s.Keep(context.Background(), DeadEvent{Reason: fmt.Sprintf("e%02d", i), Raw: []byte(strings.Repeat("x", 400)), Size: 400}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range DefaultDeadGenerations {
		if _, err := os.Stat(s.genPath(i)); err != nil {
			t.Errorf("generation %d: %v", i, err)
		}
	}
	if _, err := os.Stat(s.genPath(DefaultDeadGenerations)); err == nil {
		t.Errorf("more than %d generations kept", DefaultDeadGenerations)
	}
	evs, err := s.Events()
	if err != nil || len(evs) < 20 || evs[len(evs)-1].Reason != "e39" {
		t.Fatalf("events: %d, %v; want the last generations in order ending with e39", len(evs), err)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i-1].Reason >= evs[i].Reason {
			t.Fatalf("events out of order at %d: %q then %q", i, evs[i-1].Reason, evs[i].Reason)
		}
	}
}

// Reasons quote the input: they are redacted before they are stored.
func TestDeadEventReasonsRedactedBeforeStored(t *testing.T) {
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	reason := `field "data.resourceUri": "https://x.blob.core.windows.net/c?sv=1&sig=SECRETSIG" password=hunter2 ` + jwt
	file, err := NewFileDeadStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mem := NewMemDeadStore()
	for _, s := range []DeadStore{file, mem} {
		if err := s.Keep(context.Background(), DeadEvent{Reason: reason}); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(file.Path())
	fevs, _ := file.Events()
	for name, got := range map[string]string{"file": string(raw), "file events": fevs[0].Reason, "memory": mem.Events()[0].Reason} {
		for _, secret := range []string{"SECRETSIG", "hunter2", jwt} {
			if strings.Contains(got, secret) {
				t.Errorf("%s store kept %q: %s", name, secret, got)
			}
		}
		if !strings.Contains(got, "data.resourceUri") {
			t.Errorf("%s store lost the reason itself: %s", name, got)
		}
	}
}
