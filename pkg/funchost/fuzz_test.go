package funchost

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeInvocation feeds arbitrary envelopes to Decode and every typed
// decoder: none may panic, every failure must be a *DecodeError naming the
// function, and whatever decodes must be usable (valid JSON events, bodies
// that re-encode).
func FuzzDecodeInvocation(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "envelopes", "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed envelopes: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Data":{"message":"\"\\\"x\\\"\""},"Metadata":{"DeliveryCount":"\"3\"","EnqueuedTimeUtc":"\"2023-10-12T20:13:49\""}}`))
	f.Add([]byte(`{"Data":{"event":"[{\"type\":\"t\"}]"}}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, body []byte) {
		inv, err := Decode("id", "Fn", body)
		if err != nil {
			mustBeDecodeError(t, err)
			return
		}
		for binding := range inv.Data {
			if ev, err := inv.EventGridEvent(binding); err != nil {
				mustBeDecodeError(t, err)
			} else if !json.Valid(ev) {
				t.Errorf("EventGridEvent(%q) returned invalid JSON %q", binding, ev)
			}
			if _, err := inv.ServiceBusMessage(binding); err != nil {
				mustBeDecodeError(t, err)
			}
			if _, err := inv.Timer(binding); err != nil {
				mustBeDecodeError(t, err)
			}
			if r, err := inv.HTTPRequest(binding); err != nil {
				mustBeDecodeError(t, err)
			} else if _, err := json.Marshal(HTTPResponse{StatusCode: 200, Body: r.Body}); err != nil {
				t.Errorf("cannot echo request body: %v", err)
			}
		}
		for key := range inv.Metadata {
			if _, err := inv.MetaString(key); err != nil {
				mustBeDecodeError(t, err)
			}
			if _, err := inv.MetaInt(key); err != nil {
				mustBeDecodeError(t, err)
			}
			if _, err := inv.MetaTime(key); err != nil {
				mustBeDecodeError(t, err)
			}
			if _, err := inv.MetaObject(key); err != nil {
				mustBeDecodeError(t, err)
			}
		}
		if _, err := inv.Sys(); err != nil {
			mustBeDecodeError(t, err)
		}
	})
}

func mustBeDecodeError(t *testing.T, err error) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v is %T, want *DecodeError", err, err)
	}
	if de.Function != "Fn" || de.Field == "" {
		t.Fatalf("error %v does not name function and field", err)
	}
}
