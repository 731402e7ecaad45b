package events

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"
)

type webhookCall struct {
	method  string
	query   string
	headers map[string]string
	body    string
}

func doCall(t *testing.T, h http.Handler, c webhookCall) (*http.Response, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequest(c.method, srv.URL+"/api/events"+c.query, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestWebhookSubscriptionValidation(t *testing.T) {
	files := fixtureFiles(t)
	var reqFile, respFile string
	for _, f := range files {
		switch filepath.Base(f) {
		case "subscription-validation.eventgrid.json":
			reqFile = f
		case "subscription-validation-response.json":
			respFile = f
		}
	}
	if reqFile == "" || respFile == "" {
		t.Fatal("validation fixtures missing")
	}
	var want map[string]any
	if err := json.Unmarshal(readFile(t, respFile), &want); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		headers map[string]string
	}{
		{"with aeg-event-type SubscriptionValidation", map[string]string{HeaderEventType: "SubscriptionValidation", "Content-Type": "application/json"}},
		{"header lost, validation event in the body", map[string]string{"Content-Type": "application/json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := &recordingSender{}
			h := NewWebhook(newIntake(q, NewMemDeadStore()), zerolog.Nop(), WebhookOptions{ValidationTopics: []string{"/subscriptions/XXXXXXXX-xxxx-xxxx-xxxx-xxxxxxxxxxxx"}})
			resp, body := doCall(t, h, webhookCall{method: http.MethodPost, headers: tt.headers, body: string(readFile(t, reqFile))})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatalf("answer %q is not JSON: %v", body, err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("validation answer (-got +want):\n%s", diff)
			}
			if q.calls != 0 {
				t.Errorf("validation enqueued %d jobs", q.calls)
			}
		})
	}
	t.Run("validation header without a validation event", func(t *testing.T) {
		h := NewWebhook(newIntake(&recordingSender{}, nil), zerolog.Nop(), WebhookOptions{})
		resp, body := doCall(t, h, webhookCall{method: http.MethodPost, headers: map[string]string{HeaderEventType: "SubscriptionValidation"},
			body: string(readFile(t, filepath.Join(eventsDir, "vnet-write.eventgrid.json")))})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "validationCode") {
			t.Errorf("got %d %s, want 400 naming validationCode", resp.StatusCode, body)
		}
	})
}

func TestWebhookCloudEventsHandshake(t *testing.T) {
	tests := []struct {
		name        string
		opts        WebhookOptions
		origin      string
		status      int
		wantAllowed string
		wantRate    string
	}{
		{name: "event grid's origin is answered", origin: "eventgrid.azure.net", status: 200, wantAllowed: "eventgrid.azure.net"},
		{name: "any other origin refused by default", origin: "evil.example.com", status: 403},
		{name: "configured origin answered", opts: WebhookOptions{AllowedOrigins: []string{"relay.example.com"}}, origin: "relay.example.com", status: 200, wantAllowed: "relay.example.com"},
		{name: "listed origin with rate", opts: WebhookOptions{AllowedOrigins: []string{"EventGrid.Azure.Net"}, AllowedRate: "120"},
			origin: "eventgrid.azure.net", status: 200, wantAllowed: "eventgrid.azure.net", wantRate: "120"},
		{name: "unlisted origin refused", opts: WebhookOptions{AllowedOrigins: []string{"eventgrid.azure.net"}},
			origin: "evil.example.com", status: 403},
		{name: "plain OPTIONS", status: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewWebhook(newIntake(&recordingSender{}, nil), zerolog.Nop(), tt.opts)
			headers := map[string]string{}
			if tt.origin != "" {
				headers[HeaderRequestOrigin] = tt.origin
				headers[HeaderRequestRate] = "120"
			}
			resp, body := doCall(t, h, webhookCall{method: http.MethodOptions, headers: headers})
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if got := resp.Header.Get(HeaderAllowedOrigin); got != tt.wantAllowed {
				t.Errorf("%s: got %q, want %q", HeaderAllowedOrigin, got, tt.wantAllowed)
			}
			if got := resp.Header.Get(HeaderAllowedRate); got != tt.wantRate {
				t.Errorf("%s: got %q, want %q", HeaderAllowedRate, got, tt.wantRate)
			}
			if got := resp.Header.Get("Allow"); !strings.Contains(got, "POST") {
				t.Errorf("Allow: got %q, want POST in it", got)
			}
		})
	}
}

func TestWebhookDeliveries(t *testing.T) {
	ce := func(f string) string { return strings.TrimSpace(string(readFile(t, filepath.Join(eventsDir, f)))) }
	tests := []struct {
		name     string
		call     webhookCall
		opts     WebhookOptions
		fail     error
		status   int
		enqueued int
		inBody   string
	}{
		{
			name: "event grid notification",
			call: webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification", "Content-Type": "application/json"},
				body: ce("endpoint-write.eventgrid.json")},
			status: 200, enqueued: 1, inBody: `"enqueued":1`,
		},
		{
			name: "cloudevents single event",
			call: webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification", "Content-Type": "application/cloudevents+json; charset=utf-8"},
				body: ce("link-delete.cloudevents.json")},
			status: 200, enqueued: 1, inBody: `"kind":"LinkDeleted"`,
		},
		{
			name: "cloudevents batch without aeg header",
			call: webhookCall{method: "POST", headers: map[string]string{"Content-Type": "application/cloudevents-batch+json"},
				body: "[" + ce("vnet-write.cloudevents.json") + "," + ce("connection-write.cloudevents.json") + "," + ce("other-operation.cloudevents.json") + "]"},
			status: 200, enqueued: 2, inBody: `"ignored":1`,
		},
		{
			name: "malformed event in a JSON body is taken (kept, not retried)",
			call: webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification"},
				body: `[{"eventType":"Microsoft.Resources.ResourceWriteSuccess"}]`},
			status: 200, inBody: `"malformed":1`,
		},
		{
			name:   "not JSON",
			call:   webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification"}, body: `<xml>nope</xml>`},
			status: 400, inBody: "body is not JSON",
		},
		{
			name: "too large",
			opts: WebhookOptions{MaxBytes: 512},
			call: webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification"},
				body: ce("endpoint-write.eventgrid.json")},
			status: 413, inBody: "limit of 512 bytes",
		},
		{
			name: "enqueue fails: 500 so event grid retries",
			fail: errors.New("service bus unavailable"),
			call: webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification"},
				body: ce("endpoint-write.eventgrid.json")},
			status: 500, inBody: "service bus unavailable",
		},
		{
			name:   "unknown aeg-event-type",
			call:   webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Bogus"}, body: `[]`},
			status: 400, inBody: "Bogus",
		},
		{
			name:   "content type not JSON",
			call:   webhookCall{method: "POST", headers: map[string]string{"Content-Type": "text/xml"}, body: `[]`},
			status: 415, inBody: "text/xml",
		},
		{
			name:   "GET",
			call:   webhookCall{method: "GET"},
			status: 405, inBody: "use POST",
		},
		{
			name:   "key required, missing",
			opts:   WebhookOptions{Key: testWebhookKey},
			call:   webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification"}, body: ce("vnet-write.eventgrid.json")},
			status: 401, inBody: "key",
		},
		{
			name:   "key required, wrong",
			opts:   WebhookOptions{Key: testWebhookKey},
			call:   webhookCall{method: "POST", query: "?code=guess", headers: map[string]string{HeaderEventType: "Notification"}, body: ce("vnet-write.eventgrid.json")},
			status: 401, inBody: "key",
		},
		{
			name:   "key in query",
			opts:   WebhookOptions{Key: testWebhookKey},
			call:   webhookCall{method: "POST", query: "?code=" + testWebhookKey, headers: map[string]string{HeaderEventType: "Notification"}, body: ce("vnet-write.eventgrid.json")},
			status: 200, enqueued: 1,
		},
		{
			name:   "key in header",
			opts:   WebhookOptions{Key: testWebhookKey},
			call:   webhookCall{method: "POST", headers: map[string]string{HeaderEventType: "Notification", HeaderFunctionsKey: testWebhookKey}, body: ce("vnet-write.eventgrid.json")},
			status: 200, enqueued: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &recordingSender{fail: tt.fail}
			dead := NewMemDeadStore()
			h := NewWebhook(newIntake(q, dead), zerolog.Nop(), tt.opts)
			resp, body := doCall(t, h, tt.call)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if len(q.sent) != tt.enqueued {
				t.Errorf("enqueued: got %d, want %d", len(q.sent), tt.enqueued)
			}
			if !strings.Contains(body, tt.inBody) {
				t.Errorf("body %q does not contain %q", body, tt.inBody)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type: got %q", ct)
			}
		})
	}
}

func TestWebhookKeepsBrokenBody(t *testing.T) {
	dead := NewMemDeadStore()
	h := NewWebhook(newIntake(&recordingSender{}, dead), zerolog.Nop(), WebhookOptions{})
	resp, body := doCall(t, h, webhookCall{method: "POST", body: `[{"id":"a",`})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if kept := dead.Events(); len(kept) != 1 || !strings.Contains(string(kept[0].Raw), `"id":"a"`) {
		t.Errorf("dead store %+v, want the broken body kept", kept)
	}
}

func TestWebhookLimitsChunkedBody(t *testing.T) {
	h := NewWebhook(newIntake(&recordingSender{}, nil), zerolog.Nop(), WebhookOptions{MaxBytes: 100})
	srv := httptest.NewServer(h)
	defer srv.Close()
	// io.MultiReader hides the length, so the body goes chunked and only the
	// reader limit can stop it.
	req, _ := http.NewRequest(http.MethodPost, srv.URL, io.MultiReader(strings.NewReader("["+strings.Repeat(`{"id":"x"},`, 50)+"{}]")))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "limit of 100 bytes") {
		t.Errorf("got %d %s, want 413", resp.StatusCode, b)
	}
}

// An attacker who learns the webhook's address tries to subscribe it to a
// topic of their own: the validation code is not echoed, nothing is enqueued.
func TestWebhookValidationOnlyForConfiguredTopics(t *testing.T) {
	forged := `[{"id":"v1","topic":"/subscriptions/66666666-6666-6666-6666-666666666666/resourceGroups/evil/providers/Microsoft.EventGrid/topics/mine","subject":"","eventType":"Microsoft.EventGrid.SubscriptionValidationEvent","eventTime":"2026-11-04T09:00:00Z","data":{"validationCode":"attacker-code-123"},"dataVersion":"1"}]`
	ours := strings.Replace(forged, "/subscriptions/66666666-6666-6666-6666-666666666666/resourceGroups/evil/providers/Microsoft.EventGrid/topics/mine", "/subscriptions/00000000-0000-0000-0000-0000000000BB/resourceGroups/rg/providers/Microsoft.EventGrid/systemTopics/arm", 1)
	for _, tt := range []struct {
		name   string
		opts   WebhookOptions
		body   string
		status int
	}{
		{"no topic configured", WebhookOptions{}, forged, 403},
		{"other topic configured", WebhookOptions{ValidationTopics: []string{"/subscriptions/00000000-0000-0000-0000-0000000000bb"}}, forged, 403},
		{"a prefix that is not a path boundary", WebhookOptions{ValidationTopics: []string{"/subscriptions/66666666-6666-6666-6666-66666666"}}, forged, 403},
		{"system topic below a configured subscription", WebhookOptions{ValidationTopics: []string{"/subscriptions/00000000-0000-0000-0000-0000000000bb"}}, ours, 200},
		{"explicitly allowed", WebhookOptions{AllowAnyValidation: true}, forged, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := &recordingSender{}
			h := NewWebhook(newIntake(q, NewMemDeadStore()), zerolog.Nop(), tt.opts)
			resp, body := doCall(t, h, webhookCall{method: http.MethodPost, headers: map[string]string{HeaderEventType: "SubscriptionValidation"}, body: tt.body})
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.status)
			}
			if echoed := strings.Contains(body, "attacker-code-123"); echoed != (tt.status == 200) {
				t.Errorf("validation code echoed: %v, want %v (%s)", echoed, tt.status == 200, body)
			}
			if tt.status == 403 && !strings.Contains(body, "not a configured validation topic") {
				t.Errorf("refusal %q does not say why", body)
			}
			if q.calls != 0 {
				t.Errorf("validation enqueued %d jobs", q.calls)
			}
		})
	}
}

// testWebhookKey is a key as handler local requires them: 32 characters
// or more.
const testWebhookKey = "wh-test-key-0123456789abcdefghijklmn"
