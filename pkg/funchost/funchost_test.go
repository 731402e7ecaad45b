package funchost

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func load(t testing.TB, name, function string) *Invocation {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "envelopes", name))
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Decode("inv-1", function, body)
	if err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
	return inv
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestEventGridEventBothSchemas(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantKeys []string // keys that identify the schema
	}{
		{"event grid schema", "eventgrid-schema.json", []string{"eventType", "eventTime", "topic", "dataVersion"}},
		{"cloudevents schema", "eventgrid-cloudevents.json", []string{"type", "time", "source", "specversion"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := load(t, tt.file, "ResourceEvents")
			got, err := inv.EventGridEvent("event")
			if err != nil {
				t.Fatal(err)
			}
			var ev map[string]any
			if err := json.Unmarshal(got, &ev); err != nil {
				t.Fatalf("event is not an object: %v", err)
			}
			for _, k := range tt.wantKeys {
				if _, ok := ev[k]; !ok {
					t.Errorf("event lacks %q: %s", k, got)
				}
			}
			data, _ := ev["data"].(map[string]any)
			if data["operationName"] == nil {
				t.Errorf("event data lost: %s", got)
			}
		})
	}
}

// TestEventGridEventHostShapes: whatever way the host encodes the event
// (a doubly encoded string of the indented event with "\n" or "\r\n", or an
// object), the decoder gives back exactly the event Event Grid delivered.
func TestEventGridEventHostShapes(t *testing.T) {
	tests := []struct{ file, source string }{
		{"eventgrid-schema.json", "privateendpoint-write.eventgrid.json"},
		{"eventgrid-schema-crlf.json", "privateendpoint-write.eventgrid.json"},
		{"tolerated-eventgrid-object.json", "privateendpoint-write.eventgrid.json"},
		{"eventgrid-cloudevents.json", "connection-write.cloudevents.json"},
		{"eventgrid-cloudevents-crlf.json", "connection-write.cloudevents.json"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "events", tt.source))
			if err != nil {
				t.Fatal(err)
			}
			var sent []any
			if err := json.Unmarshal(raw, &sent); err != nil {
				t.Fatal(err)
			}
			got, err := load(t, tt.file, "ResourceEvents").EventGridEvent("event")
			if err != nil {
				t.Fatal(err)
			}
			var ev any
			if err := json.Unmarshal(got, &ev); err != nil {
				t.Fatalf("event is not JSON: %v", err)
			}
			if diff := cmp.Diff(ev, sent[0]); diff != "" {
				t.Errorf("decoded event differs from the one delivered (-got +want):\n%s", diff)
			}
		})
	}
}

// TestEventGridMetadataInHostShape: the event's top-level fields arrive as
// metadata, strings quoted twice and the time in the invariant culture.
func TestEventGridMetadataInHostShape(t *testing.T) {
	inv := load(t, "eventgrid-schema.json", "ResourceEvents")
	for key, want := range map[string]string{
		"eventType": "Microsoft.Resources.ResourceWriteSuccess",
		"id":        "1e9c6b3e-6a1b-4f0e-9f5e-2a7c1d3b4e5f",
		"eventTime": "05/02/2024 10:15:30",
	} {
		if got, err := inv.MetaString(key); err != nil || got != want {
			t.Errorf("Metadata.%s = %q, %v; want %q", key, got, err, want)
		}
	}
	when, err := inv.MetaTime("eventTime")
	if err != nil || !when.Equal(time.Date(2024, 5, 2, 10, 15, 30, 0, time.UTC)) {
		t.Errorf("Metadata.eventTime as a time = %v, %v", when, err)
	}
	if data, err := inv.MetaObject("data"); err != nil || data["operationName"] != "Microsoft.Network/privateEndpoints/write" {
		t.Errorf("Metadata.data = %v, %v", data, err)
	}
}

func TestEventGridEventShapes(t *testing.T) {
	event := `{"id":"1","eventType":"Microsoft.Resources.ResourceWriteSuccess","subject":"/x","data":{}}`
	quoted, _ := json.Marshal(event)
	tests := []struct {
		name    string
		data    string
		wantErr string // substring; "" means success
	}{
		{"object", event, ""},
		{"json string holding the object", string(quoted), ""},
		{"array of one event", "[" + event + "]", ""},
		{"array of two events", "[" + event + "," + event + "]", "Data.event: is an array of 2 events"},
		{"not an event", `{"hello":"world"}`, `Data.event: is not an event`},
		{"a plain string", `"hello"`, "Data.event: is a string, want a JSON object"},
		{"null", `null`, "Data.event: is null"},
		{"string holding broken json", `"{\"id\":"`, "Data.event: string holds invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Decode("", "ResourceEvents", []byte(`{"Data":{"event":`+tt.data+`}}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := inv.EventGridEvent("event")
			checkErr(t, err, tt.wantErr)
			if err == nil && !json.Valid(got) {
				t.Errorf("got invalid JSON %s", got)
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("got error %q, want it to contain %q", err, want)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("got %T, want a *DecodeError", err)
	}
}

func TestServiceBusMessageRecorded(t *testing.T) {
	tests := []struct {
		name string
		file string
		fn   string
		want ServiceBusMessage
	}{
		{
			name: "double encoded body and quoted string metadata",
			file: "servicebus-double-encoded.json",
			fn:   "Reconcile",
			want: ServiceBusMessage{
				Body:          []byte(`{"version":1,"id":"4f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f","kind":"reconcile","subject":"endpoint","targetId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir","attempt":1}`),
				MessageID:     "abc",
				DeliveryCount: 1,
				EnqueuedTime:  time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC),
				LockToken:     "8d4f1a2b-3c4d-4e5f-a6b7-c8d9e0f1a2b3",
				ContentType:   "application/vnd.plautopilot.job+json;v=1",
				CorrelationID: "6d1f2e3a-0000-4000-8000-000000000001",
				// The message's Subject is the job kind, but the host merged
				// the body's "subject" over it (case-insensitive binding
				// data): what arrives is the job's subject.
				Subject:        "endpoint",
				SequenceNumber: 42,
				ApplicationProperties: map[string]any{"attempt": json.Number("1"), "kind": "reconcile", "subject": "endpoint",
					"targetId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir"},
			},
		},
		{
			name: "tolerated: single encoded body and plain metadata",
			file: "tolerated-servicebus-single-encoded.json",
			fn:   "Verify",
			want: ServiceBusMessage{
				Body:                  []byte(`{"version":1,"id":"0a1b2c3d4e5f60718293a4b5c6d7e8f9","kind":"verify","subject":"target","targetId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1","attempt":3}`),
				MessageID:             "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
				DeliveryCount:         2,
				EnqueuedTime:          time.Date(2023, 10, 12, 20, 13, 49, 190_000_000, time.UTC),
				LockToken:             "8d4f1a2b-3c4d-4e5f-a6b7-c8d9e0f1a2b4",
				SequenceNumber:        7,
				ApplicationProperties: map[string]any{"attempt": json.Number("3")},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.file, tt.fn).ServiceBusMessage("message")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("message (-got +want):\n%s", diff)
			}
		})
	}
}

func TestServiceBusBodyShapes(t *testing.T) {
	tests := []struct {
		name     string
		data     string
		wantBody string
	}{
		{"json string holding an object", `"{\"a\":1}"`, `{"a":1}`},
		{"doubly quoted object", `"\"{\\\"a\\\":1}\""`, `{"a":1}`},
		{"object passed as object", `{"a": 1}`, `{"a": 1}`},
		{"plain text", `"hello"`, `hello`},
		{"quoted plain text", `"\"hello\""`, `hello`},
		{"text that only looks quoted", `"\"a\" and \"b\""`, `"a" and "b"`},
		{"number", `12`, `12`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Decode("", "Reconcile", []byte(`{"Data":{"message":`+tt.data+`},"Metadata":{}}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := inv.ServiceBusMessage("message")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(got.Body), tt.wantBody); diff != "" {
				t.Errorf("body (-got +want):\n%s", diff)
			}
		})
	}
}

func TestServiceBusMetadataErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name    string
		meta    string
		wantErr string
	}{
		{"delivery count not a number", `{"DeliveryCount":"once"}`, `Reconcile: Metadata.DeliveryCount: "once" is not a whole number`},
		{"enqueued time garbage", `{"EnqueuedTimeUtc":"yesterday"}`, `Reconcile: Metadata.EnqueuedTimeUtc: "yesterday" is not a timestamp`},
		{"message id is an object", `{"MessageId":{"a":1}}`, `Reconcile: Metadata.MessageId: is an object, want a string`},
		{"properties not an object", `{"ApplicationProperties":"[1,2]"}`, `Reconcile: Metadata.ApplicationProperties: is an array, want a JSON object`},
		{"sequence number float", `{"SequenceNumber":"1.5"}`, `Reconcile: Metadata.SequenceNumber: "1.5" is not a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Decode("", "Reconcile", []byte(`{"Data":{"message":"x"},"Metadata":`+tt.meta+`}`))
			if err != nil {
				t.Fatal(err)
			}
			_, err = inv.ServiceBusMessage("message")
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestMissingBindingNamesPresentOnes(t *testing.T) {
	inv, err := Decode("", "Reconcile", []byte(`{"Data":{"msg":"x","other":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = inv.ServiceBusMessage("message")
	checkErr(t, err, "Reconcile: Data.message: missing (bindings present: msg, other)")
}

func TestTimer(t *testing.T) {
	tests := []struct {
		name string
		file string
		want TimerInfo
	}{
		{"scheduled run past due", "timer.json", TimerInfo{
			IsPastDue: true,
			Last:      mustTime(t, "2024-05-02T10:00:00.0016587Z"),
			Next:      mustTime(t, "2024-05-02T10:10:00Z"),
		}},
		{"first run without schedule status", "timer-first-run.json", TimerInfo{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.file, "Sweep").Timer("timer")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("timer (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTimerTolerantShapes(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    TimerInfo
		wantErr string
	}{
		{"past due as string, zone-less times", `{"IsPastDue":"True","ScheduleStatus":{"Last":"2024-05-02T10:00:00","Next":"2024-05-02T10:10:00"}}`,
			TimerInfo{IsPastDue: true, Last: time.Date(2024, 5, 2, 10, 0, 0, 0, time.UTC), Next: time.Date(2024, 5, 2, 10, 10, 0, 0, time.UTC)}, ""},
		{"DateTime.MinValue means never", `{"IsPastDue":false,"ScheduleStatus":{"Last":"0001-01-01T00:00:00","Next":"2024-05-02T10:10:00Z"}}`,
			TimerInfo{Next: time.Date(2024, 5, 2, 10, 10, 0, 0, time.UTC)}, ""},
		{"bad next", `{"ScheduleStatus":{"Next":"soon"}}`, TimerInfo{}, `Sweep: Data.timer.ScheduleStatus.Next: "soon" is not a timestamp`},
		{"bad past due", `{"IsPastDue":"maybe"}`, TimerInfo{}, `Sweep: Data.timer.IsPastDue: "maybe" is not a boolean`},
		{"not an object", `[1]`, TimerInfo{}, `Sweep: Data.timer: is an array, want a JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Decode("", "Sweep", []byte(`{"Data":{"timer":`+tt.data+`}}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := inv.Timer("timer")
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(got, tt.want); err == nil && diff != "" {
				t.Errorf("timer (-got +want):\n%s", diff)
			}
		})
	}
}

func TestHTTPRequestRecorded(t *testing.T) {
	got, err := load(t, "http.json", "Api").HTTPRequest("req")
	if err != nil {
		t.Fatal(err)
	}
	want := HTTPRequest{
		Method: "POST",
		URL:    "https://func-autopilot.azurewebsites.net/api/evaluate?subscription=00000000-0000-0000-0000-000000000001&dryRun=true&code=redacted-function-key",
		Query:  map[string]string{"subscription": "00000000-0000-0000-0000-000000000001", "dryRun": "true", "code": "redacted-function-key"},
		Headers: map[string][]string{
			"Accept":          {"application/json"},
			"Content-Type":    {"application/json; charset=utf-8"},
			"X-Forwarded-For": {"203.0.113.7:51234", "10.0.0.4"},
			"X-Functions-Key": {"redacted"},
		},
		Params: map[string]string{"path": "evaluate"},
		Body:   []byte(`{"targetId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1"}`),
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("request (-got +want):\n%s", diff)
	}
	if got := got.Header("content-type"); got != "application/json; charset=utf-8" {
		t.Errorf("Header(content-type) = %q", got)
	}
}

func TestHTTPRequestTolerantShapes(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    HTTPRequest
		wantErr string
	}{
		{"single string headers, no body", `{"Method":"GET","Url":"http://x/api/status","Headers":{"Accept":"text/plain"}}`,
			HTTPRequest{Method: "GET", URL: "http://x/api/status", Headers: map[string][]string{"Accept": {"text/plain"}}}, ""},
		{"repeated query values joined", `{"Method":"GET","Query":{"id":["a","b"]}}`,
			HTTPRequest{Method: "GET", Query: map[string]string{"id": "a,b"}}, ""},
		{"body that is a quoted string stays quoted once", `{"Method":"POST","Body":"\"hi\""}`,
			HTTPRequest{Method: "POST", Body: []byte(`"hi"`)}, ""},
		{"missing method", `{"Url":"http://x"}`, HTTPRequest{}, "Api: Data.req.Method: missing"},
		{"header value object", `{"Method":"GET","Headers":{"A":[{"x":1}]}}`, HTTPRequest{}, "Api: Data.req.Headers: A: element 0: is an object, want a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Decode("", "Api", []byte(`{"Data":{"req":`+tt.data+`}}`))
			if err != nil {
				t.Fatal(err)
			}
			got, err := inv.HTTPRequest("req")
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(got, tt.want); err == nil && diff != "" {
				t.Errorf("request (-got +want):\n%s", diff)
			}
		})
	}
}

func TestDecodeEnvelopeErrors(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string
	}{
		{"empty body", ``, "Reconcile: body: empty, want a JSON object"},
		{"array body", `[]`, "Reconcile: body: is an array, want a JSON object"},
		{"truncated", `{"Data":{`, "Reconcile: body: invalid JSON"},
		{"data is a string", `{"Data":"x"}`, "Reconcile: Data: is a string, want a JSON object"},
		{"metadata is a number", `{"Data":{},"Metadata":3}`, "Reconcile: Metadata: is a number, want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode("", "Reconcile", []byte(tt.body))
			checkErr(t, err, tt.wantErr)
		})
	}
}

func TestMetaHelpers(t *testing.T) {
	inv, err := Decode("", "Reconcile", []byte(`{"Metadata":{
		"Quoted":"\"abc\"","Plain":"abc","Num":"7","NumRaw":7,"Null":null,
		"WhenUtc":"2023-10-12T20:13:49","WhenOffset":"\"2023-10-12T22:13:49.19+02:00\"",
		"sys":{"MethodName":"Reconcile","UtcNow":"2023-10-12T20:13:50.0954411Z","RandGuid":"g"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	strs := map[string]string{"Quoted": "abc", "Plain": "abc", "Num": "7", "NumRaw": "7", "Null": "", "Absent": ""}
	for k, want := range strs {
		got, err := inv.MetaString(k)
		if err != nil || got != want {
			t.Errorf("MetaString(%q) = %q, %v; want %q", k, got, err, want)
		}
	}
	for _, k := range []string{"Num", "NumRaw"} {
		if got, err := inv.MetaInt(k); err != nil || got != 7 {
			t.Errorf("MetaInt(%q) = %d, %v; want 7", k, got, err)
		}
	}
	times := map[string]time.Time{
		"WhenUtc":    time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC),
		"WhenOffset": time.Date(2023, 10, 12, 20, 13, 49, 190_000_000, time.UTC),
	}
	for k, want := range times {
		got, err := inv.MetaTime(k)
		if err != nil || !got.Equal(want) {
			t.Errorf("MetaTime(%q) = %v, %v; want %v", k, got, err, want)
		}
	}
	sys, err := inv.Sys()
	if err != nil {
		t.Fatal(err)
	}
	wantSys := Sys{MethodName: "Reconcile", UtcNow: time.Date(2023, 10, 12, 20, 13, 50, 95441100, time.UTC), RandGuid: "g"}
	if diff := cmp.Diff(sys, wantSys); diff != "" {
		t.Errorf("sys (-got +want):\n%s", diff)
	}
}

func TestParseTimeForms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Time
	}{
		{"datetime without zone is utc", "2023-10-12T20:13:49", time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC)},
		{"seven digit fraction with Z", "2023-10-12T20:13:49.1234567Z", time.Date(2023, 10, 12, 20, 13, 49, 123456700, time.UTC)},
		{"offset kept", "2023-10-12T20:13:49-05:00", time.Date(2023, 10, 13, 1, 13, 49, 0, time.UTC)},
		{"invariant culture", "10/12/2023 20:13:49", time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC)},
		{"invariant culture AM/PM", "10/12/2023 8:13:49 PM", time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTime(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) = %v, want %v in UTC", tt.in, got, tt.want)
			}
		})
	}
}

func TestResponseEncoding(t *testing.T) {
	tests := []struct {
		name string
		resp Response
		want string
	}{
		{"empty response still has every key", Response{}, `{"Outputs":{},"Logs":[],"ReturnValue":null}`},
		{"http output", Response{
			Outputs: map[string]any{"res": HTTPResponse{StatusCode: 202, Body: map[string]string{"status": "queued"}, Headers: map[string]string{"Content-Type": "application/json"}}},
			Logs:    []string{"queued 1 job"},
		}, `{"Outputs":{"res":{"statusCode":"202","body":{"status":"queued"},"headers":{"Content-Type":"application/json"}}},"Logs":["queued 1 job"],"ReturnValue":null}`},
		{"byte body is text not base64 and status defaults to 200", Response{
			Outputs: map[string]any{"res": HTTPResponse{Body: []byte("ok")}},
		}, `{"Outputs":{"res":{"statusCode":"200","body":"ok"}},"Logs":[],"ReturnValue":null}`},
		{"collector output and return value", Response{
			Outputs:     map[string]any{"jobs": []map[string]int{{"a": 1}, {"a": 2}}},
			ReturnValue: map[string]bool{"ok": true},
		}, `{"Outputs":{"jobs":[{"a":1},{"a":2}]},"Logs":[],"ReturnValue":{"ok":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.resp)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(got), tt.want); diff != "" {
				t.Errorf("encoding (-got +want):\n%s", diff)
			}
		})
	}
	var r Response
	r.Log("a")
	r.SetOutput("x", 1)
	got, _ := json.Marshal(&r)
	if want := `{"Outputs":{"x":1},"Logs":["a"],"ReturnValue":null}`; string(got) != want {
		t.Errorf("pointer encoding = %s, want %s", got, want)
	}
}
