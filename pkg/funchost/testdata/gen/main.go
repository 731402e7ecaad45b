// Command gen writes the envelopes in ../envelopes that follow the Functions
// host's own encoding (see ../envelopes/README.md for the host source each
// step follows). Run from pkg/funchost:
//
//	go run ./testdata/gen
//
// It reads the events in ../events and writes the Event Grid envelopes in
// both schemas with "\n" (Linux host) and "\r\n" (Windows host) line breaks,
// and the Service Bus envelope of a job message.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	for _, e := range []struct{ in, out string }{
		{"privateendpoint-write.eventgrid.json", "eventgrid-schema"},
		{"connection-write.cloudevents.json", "eventgrid-cloudevents"},
	} {
		ev := firstEvent(filepath.Join("testdata", "events", e.in))
		write(e.out+".json", eventGridEnvelope(ev, "\n", "2024-05-02T10:15:31.5012345Z"))
		write(e.out+"-crlf.json", eventGridEnvelope(ev, "\r\n", "2024-05-02T10:15:31.5012345Z"))
	}
	write("servicebus-double-encoded.json", serviceBusEnvelope())
}

func firstEvent(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	var evs []json.RawMessage
	if err := json.Unmarshal(b, &evs); err != nil || len(evs) == 0 {
		log.Fatalf("%s: want an array of events: %v", path, err)
	}
	return evs[0]
}

func write(name string, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // Newtonsoft does not escape <, > and &
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "envelopes", name), buf.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrote", name)
}

// netString is a .NET string value put into the envelope:
// GetHttpScriptInvocationContextValue cannot make a JObject of a string, so
// it returns JsonConvert.SerializeObject(s), which the envelope then
// encodes as a JSON string once more.
func netString(s string) string { return jsonText(s) }

func jsonText(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		log.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// indented is JToken.ToString(Formatting.Indented): two spaces, the host
// platform's line break.
func indented(ev []byte, newline string) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, ev, "", "  "); err != nil {
		log.Fatal(err)
	}
	return strings.ReplaceAll(buf.String(), "\n", newline)
}

// invariantDate is (string)JValue of a date that JObject.Parse recognised:
// DateTime.ToString() in the invariant culture, fraction and zone dropped.
func invariantDate(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("01/02/2006 15:04:05")
}

// ordered is a JSON object that keeps its keys in the order given (the
// host writes binding data in dictionary order).
type ordered []kv

type kv struct {
	k string
	v any
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(jsonText(p.k))
		buf.WriteByte(':')
		buf.WriteString(jsonText(p.v))
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// eventGridEnvelope: the Event Grid extension binds the event (a JObject)
// to the function's string parameter with its JToken -> string converter
// (ToString(Formatting.Indented)); Utility.ApplyBindingData adds the
// event's top-level properties (not arrays) to the binding data, objects as
// JObject and the rest as (string) values; the trigger's own binding data
// is "data"; the SDK adds "sys".
func eventGridEnvelope(ev []byte, newline, utcNow string) any {
	var top ordered
	dec := json.NewDecoder(bytes.NewReader(ev))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		log.Fatal(err)
	}
	var data json.RawMessage
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			log.Fatal(err)
		}
		key := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			log.Fatal(err)
		}
		if key == "data" {
			data = raw
		}
		switch raw[0] {
		case '[':
			continue // ApplyBindingData skips arrays
		case '{':
			top = append(top, kv{key, raw})
		case '"':
			var s string
			json.Unmarshal(raw, &s)
			if key == "eventTime" || key == "time" {
				s = invariantDate(s)
			}
			top = append(top, kv{key, netString(s)})
		default:
			top = append(top, kv{key, netString(string(raw))})
		}
	}
	meta := ordered{{"data", data}}
	for _, p := range top {
		if p.k != "data" {
			meta = append(meta, p)
		}
	}
	meta = append(meta, kv{"sys", ordered{{"MethodName", "ResourceEvents"}, {"UtcNow", utcNow}, {"RandGuid", "0f5e6a1b-2c3d-4e5f-8a9b-0c1d2e3f4a5b"}}})
	return ordered{
		{"Data", ordered{{"event", netString(indented(ev, newline))}}},
		{"Metadata", meta},
	}
}

// serviceBusEnvelope: a job message as the Service Bus extension's binding
// data gives it (null values left out by ToHttpScriptInvocationContext),
// each value through GetHttpScriptInvocationContextValue (ints and strings
// serialised, DateTime and DateTimeOffset re-parsed from ToString(), so
// without fraction), then the job body's top-level fields merged by
// Utility.ApplyBindingData into the case-insensitive binding data: the
// body's "subject" replaces the message's Subject under its existing key.
func serviceBusEnvelope() any {
	body := `{"version":1,"id":"4f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f","kind":"reconcile","subject":"endpoint","targetId":"/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir","attempt":1}`
	meta := ordered{
		{"MessageReceiver", ordered{}},
		{"MessageActions", ordered{}},
		{"ReceiveActions", ordered{}},
		{"Client", ordered{{"FullyQualifiedNamespace", "sb-autopilot.servicebus.windows.net"}, {"IsClosed", false}, {"TransportType", 0}, {"Identifier", "sb-autopilot-1f2e3d"}}},
		{"DeliveryCount", "1"},
		{"LockToken", netString("8d4f1a2b-3c4d-4e5f-a6b7-c8d9e0f1a2b3")},
		{"ExpiresAtUtc", "2023-10-26T20:13:49"},
		{"ExpiresAt", "2023-10-26T20:13:49+00:00"},
		{"EnqueuedTimeUtc", "2023-10-12T20:13:49"},
		{"EnqueuedTime", "2023-10-12T20:13:49+00:00"},
		{"MessageId", netString("abc")},
		{"ContentType", netString("application/vnd.plautopilot.job+json;v=1")},
		{"SequenceNumber", "42"},
		// The message's Subject is the job kind ("reconcile"); the body's
		// "subject" field has replaced it.
		{"Subject", netString("endpoint")},
		{"CorrelationId", netString("6d1f2e3a-0000-4000-8000-000000000001")},
		{"ApplicationProperties", ordered{{"kind", "reconcile"}, {"subject", "endpoint"}, {"attempt", 1}, {"targetId", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir"}}},
		{"UserProperties", ordered{{"kind", "reconcile"}, {"subject", "endpoint"}, {"attempt", 1}, {"targetId", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir"}}},
		{"version", netString("1")},
		{"id", netString("4f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f")},
		{"kind", netString("reconcile")},
		{"targetId", netString("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-fhir")},
		{"attempt", netString("1")},
		{"sys", ordered{{"MethodName", "Reconcile"}, {"UtcNow", "2023-10-12T20:13:50.0954411Z"}, {"RandGuid", "3c2b1a09-8f7e-4d6c-b5a4-938271605f4e"}}},
	}
	return ordered{
		{"Data", ordered{{"message", netString(body)}}},
		{"Metadata", meta},
	}
}
