package events

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// The attack of issue 26: a delivery of a megabyte of "[" made the fast
// scanner recurse once per bracket (1.9 GB for 32 such bodies). Now every
// entry refuses it in one pass, names the bound, and keeps it as one dead
// event.
func TestDeepJSONRefusedAtEveryEntry(t *testing.T) {
	deep := strings.Repeat("[", 1<<20)
	deepObject := `{"id":"1","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/subscriptions/x","data":` +
		strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`
	for name, body := range map[string]string{
		"a megabyte of [":                    deep,
		"an event with deep data":            deepObject,
		"a batch holding a deep event":       "[" + deepObject + "]",
		"an event as a string holding depth": `"` + strings.Repeat("[", 200) + `"`,
	} {
		t.Run(name, func(t *testing.T) {
			evs, bad := ParseBatch([]byte(body))
			if len(evs) != 0 || len(bad) != 1 || !strings.Contains(bad[0].Reason, "nested deeper than 64 levels") {
				t.Fatalf("ParseBatch: %d events, malformed %+v; want one malformed naming the depth", len(evs), bad)
			}
			if len(bad[0].Raw) > MaxRawBytes {
				t.Errorf("kept %d raw bytes, more than %d", len(bad[0].Raw), MaxRawBytes)
			}
			if _, err := ParseOne([]byte(body)); err == nil || !strings.Contains(err.Error(), "nested deeper than 64 levels") {
				t.Errorf("ParseOne: %v; want the depth named", err)
			}
		})
	}
	// the fast scanner gives up beyond the bound by itself, whoever calls it
	if _, ok := splitArray([]byte("[" + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_001))); ok {
		t.Error("the fast scanner walked 10,000 levels")
	}
}

func TestWebhookRefusesDeepBodyWith400AndKeepsIt(t *testing.T) {
	store := NewMemDeadStore()
	q := &recordingSender{}
	h := NewWebhook(newIntake(q, store), zerolog.Nop(), WebhookOptions{})
	resp, body := doCall(t, h, webhookCall{method: http.MethodPost, headers: map[string]string{"Content-Type": "application/json"},
		body: strings.Repeat("[", DefaultMaxBytes-1)})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "nested deeper than 64 levels") {
		t.Fatalf("status %d %s; want 400 naming the depth", resp.StatusCode, body)
	}
	if q.calls != 0 {
		t.Errorf("%d jobs sent", q.calls)
	}
	if evs := store.Events(); len(evs) != 1 || !strings.Contains(evs[0].Reason, "nested deeper") {
		t.Errorf("dead events %+v; want the body kept once", evs)
	}
	// HandleEvent (the Functions trigger's path) refuses it too
	res, err := newIntake(q, store).HandleEvent(context.Background(), []byte(`{"data":`+strings.Repeat("[", 1000)+`}`))
	if err != nil || res.Malformed != 1 {
		t.Errorf("HandleEvent: %+v %v; want one malformed", res, err)
	}
}
