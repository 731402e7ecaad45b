package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rs/zerolog"
)

// The fast path gives exactly what the full decoder gives, on every event
// of every fixture, and leaves to it what it does not handle.
func TestFastPathMatchesTheFullDecoder(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	fast := 0
	for _, f := range files {
		var items []json.RawMessage
		body := bytes.TrimSpace(readFile(t, f))
		if body[0] == '[' {
			if err := json.Unmarshal(body, &items); err != nil {
				continue // the malformed-batch fixture
			}
		} else {
			items = []json.RawMessage{body}
		}
		for i, raw := range items {
			raw = bytes.TrimSpace(raw)
			want, wantErr := parseFull(raw)
			got, ok := fastParseARM(raw)
			if !ok {
				continue
			}
			fast++
			if wantErr != nil {
				t.Errorf("%s[%d]: fast path accepted what the full decoder rejects: %v", filepath.Base(f), i, wantErr)
				continue
			}
			if d := cmp.Diff(got, want, cmpopts.IgnoreUnexported(Event{})); d != "" {
				t.Errorf("%s[%d]: fast path differs (-fast +full):\n%s", filepath.Base(f), i, d)
			}
			if got.rid.String() != want.rid.String() {
				t.Errorf("%s[%d]: resource id %s, want %s", filepath.Base(f), i, got.rid, want.rid)
			}
		}
	}
	if fast < 20 {
		t.Errorf("the fast path handled only %d fixture events: it is not the path real ARM events take", fast)
	}
}

// What the fast path must leave to the full decoder (which names the
// problem or applies encoding/json's rules).
func TestFastPathGivesUpOnTheUnexpected(t *testing.T) {
	base := strings.TrimSpace(string(readFile(t, filepath.Join(eventsDir, "endpoint-write.eventgrid.json"))))
	base = strings.TrimSuffix(strings.TrimPrefix(base, "["), "]")
	base = strings.TrimSpace(base)
	if _, ok := fastParseARM([]byte(base)); !ok {
		t.Fatal("the fixture itself does not take the fast path")
	}
	for name, mutate := range map[string]func(string) string{
		"status as a number":       func(s string) string { return strings.Replace(s, `"status": "Succeeded"`, `"status": 1`, 1) },
		"key differing in case":    func(s string) string { return strings.Replace(s, `"operationName"`, `"OperationName"`, 1) },
		"duplicate id":             func(s string) string { return strings.Replace(s, `"subject"`, `"id": "x", "subject"`, 1) },
		"data as a string":         func(s string) string { return strings.Replace(s, `"data": {`, `"data": "x", "d": {`, 1) },
		"trailing garbage":         func(s string) string { return s + "x" },
		"invalid number skipped":   func(s string) string { return strings.Replace(s, `"dataVersion": "2"`, `"dataVersion": 01`, 1) },
		"control byte in a string": func(s string) string { return strings.Replace(s, `Dana Lopez`, "Dana\x01Lopez", 1) },
		"not an ARM event": func(s string) string {
			return strings.Replace(s, `Microsoft.Resources.ResourceWriteSuccess`, `Contoso.Other`, 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			raw := mutate(base)
			if raw == base {
				t.Fatal("the mutation did not apply")
			}
			if _, ok := fastParseARM([]byte(raw)); ok {
				t.Errorf("fast path took %s", name)
			}
		})
	}
}

// A full 1 MiB Event Grid delivery of real-shaped ARM events is parsed,
// classified and enqueued well inside Event Grid's 30 s delivery timeout
// (the test allows 5 s on a loaded CI machine; it takes a small fraction of
// that).
func TestOneMiBDeliveryIsHandledWellInsideTheDeliveryTimeout(t *testing.T) {
	body, n := realShapedBatch(t, 1<<20)
	in := &Intake{Queue: &memSender{}, Log: zerolog.Nop(), Dead: NewMemDeadStore(), Now: time.Now}
	start := time.Now()
	res, err := in.Handle(context.Background(), body)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Enqueued != n || res.Malformed != 0 {
		t.Errorf("%d events: %d enqueued, %d malformed, %d ignored; want all enqueued", n, res.Enqueued, res.Malformed, res.Ignored)
	}
	if took > 5*time.Second {
		t.Errorf("a 1 MiB delivery (%d events) took %s: too close to Event Grid's 30 s", n, took)
	}
	t.Logf("1 MiB delivery: %d events in %s", n, took)
}

// realShapedBatch builds an Event Grid delivery of about size bytes from
// the fixture of a private endpoint write (a user's token claims, RBAC
// evidence, http request), each event with its own id and endpoint.
func realShapedBatch(tb testing.TB, size int) ([]byte, int) {
	tb.Helper()
	one := strings.TrimSpace(string(readFile(tb, filepath.Join(eventsDir, "endpoint-write.eventgrid.json"))))
	one = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(one, "["), "]"))
	var b bytes.Buffer
	b.WriteByte('[')
	n := 0
	for b.Len()+len(one)+2 < size {
		if n > 0 {
			b.WriteByte(',')
		}
		ev := strings.ReplaceAll(one, "6a7b8c9d-0001-4a00-8000-000000000001", fmt.Sprintf("6a7b8c9d-0001-4a00-8000-%012d", n))
		ev = strings.ReplaceAll(ev, "pe-app-fhir", fmt.Sprintf("pe-app-%05d", n))
		b.WriteString(ev)
		n++
	}
	b.WriteByte(']')
	return b.Bytes(), n
}

// FuzzFastPathMatchesTheFullDecoder: whatever the fast path accepts, the full
// decoder accepts and decodes to the same event. Seeds are every fixture
// event; the fuzzer mutates them (escapes, duplicate keys, odd types).
func FuzzFastPathMatchesTheFullDecoder(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	for _, file := range files {
		body, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var items []json.RawMessage
		if json.Unmarshal(bytes.TrimSpace(body), &items) != nil {
			items = []json.RawMessage{body}
		}
		for _, raw := range items {
			f.Add([]byte(bytes.TrimSpace(raw)))
		}
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":" ","ID":"x"}`))
	f.Add([]byte(`{"a":[1,{"b":"c"}],"id":""}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if fastMissingID(raw) {
			if _, err := parseFull(raw); err == nil || err.Error() != errMissingID.Error() {
				t.Fatalf("fast path says the id is missing, the full decoder says %v: %q", err, raw)
			}
		}
		got, ok := fastParseARM(raw)
		if !ok {
			return
		}
		want, err := parseFull(raw)
		if err != nil {
			t.Fatalf("fast path accepted what the full decoder rejects (%v): %q", err, raw)
		}
		if d := cmp.Diff(got, want, cmpopts.IgnoreUnexported(Event{})); d != "" {
			t.Fatalf("fast path differs (-fast +full):\n%s\ninput: %q", d, raw)
		}
		if got.rid.String() != want.rid.String() {
			t.Fatalf("resource id %s, want %s; input %q", got.rid, want.rid, raw)
		}
	})
}
