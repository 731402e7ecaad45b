package funchost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// EventGridEvent returns the Event Grid event of an eventGridTrigger binding
// as a JSON object, in whichever schema the subscription uses (Event Grid
// schema: eventType/eventTime/topic; CloudEvents 1.0: type/time/source). The
// host sends the event as a string encoded twice: the Event Grid extension
// binds the event with JToken.ToString(Formatting.Indented) ("\r\n" line
// breaks on Windows), and the host serialises that string once more into
// the envelope (testdata/envelopes/README.md). An object, a string holding
// the object once, and a one-element array are accepted too. Parsing the
// event itself is left to the caller.
func (inv *Invocation) EventGridEvent(binding string) (json.RawMessage, error) {
	raw, err := inv.data(binding)
	if err != nil {
		return nil, err
	}
	ev, err := unwrapJSON(raw)
	if err != nil {
		return nil, inv.dataErr(binding, err)
	}
	if len(ev) > 0 && ev[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(ev, &arr); err != nil {
			return nil, inv.dataErr(binding, fmt.Errorf("invalid JSON array: %w", err))
		}
		if len(arr) != 1 {
			return nil, inv.dataErr(binding, fmt.Errorf("is an array of %d events, want one event per invocation", len(arr)))
		}
		if ev, err = unwrapJSON(arr[0]); err != nil {
			return nil, inv.dataErr(binding, err)
		}
	}
	obj, err := objectOf(ev)
	if err != nil {
		return nil, inv.dataErr(binding, err)
	}
	if obj == nil {
		return nil, inv.dataErr(binding, errors.New("is null"))
	}
	_, egType := obj["eventType"]
	_, ceType := obj["type"]
	if !egType && !ceType {
		return nil, inv.dataErr(binding, errors.New(`is not an event: no "eventType" (Event Grid schema) or "type" (CloudEvents schema)`))
	}
	return json.RawMessage(ev), nil
}

// ServiceBusMessage is a message delivered by a serviceBusTrigger.
type ServiceBusMessage struct {
	// Body is the message body as the sender wrote it: the host's JSON
	// string quoting (one or two levels) is removed; a body the host passed
	// as a JSON object or array is that JSON.
	Body          []byte
	MessageID     string
	DeliveryCount int // 1 on the first delivery
	EnqueuedTime  time.Time
	LockToken     string
	ContentType   string
	CorrelationID string
	// Subject is the metadata Subject (or Label for older senders). The host
	// merges a JSON body's top-level fields into the metadata
	// case-insensitively, so a body field "subject" replaces the message's
	// Subject here: read what the body also says from the body.
	Subject   string
	SessionID string
	// SequenceNumber is unique per queue and increases with each message.
	SequenceNumber int64
	// ApplicationProperties are the sender's custom properties (numbers
	// are json.Number).
	ApplicationProperties map[string]any
}

// ServiceBusMessage decodes the message of a serviceBusTrigger binding and its
// metadata. Metadata that is absent stays zero; metadata that is present but
// cannot be understood is an error.
func (inv *Invocation) ServiceBusMessage(binding string) (ServiceBusMessage, error) {
	var m ServiceBusMessage
	raw, err := inv.data(binding)
	if err != nil {
		return m, err
	}
	if raw[0] == '"' {
		s, err := unquoteLevels(raw)
		if err != nil {
			return m, inv.dataErr(binding, err)
		}
		m.Body = []byte(s)
	} else {
		if !json.Valid(raw) {
			return m, inv.dataErr(binding, fmt.Errorf("invalid JSON %s", excerpt(string(raw))))
		}
		m.Body = bytes.Clone(raw)
	}

	strs := []struct {
		dst  *string
		keys []string
	}{
		{&m.MessageID, []string{"MessageId"}},
		{&m.LockToken, []string{"LockToken"}},
		{&m.ContentType, []string{"ContentType"}},
		{&m.CorrelationID, []string{"CorrelationId"}},
		{&m.Subject, []string{"Subject", "Label"}},
		{&m.SessionID, []string{"SessionId"}},
	}
	for _, f := range strs {
		for _, k := range f.keys {
			if *f.dst, err = inv.MetaString(k); err != nil {
				return m, err
			}
			if *f.dst != "" {
				break
			}
		}
	}
	n, err := inv.MetaInt("DeliveryCount")
	if err != nil {
		return m, err
	}
	m.DeliveryCount = int(n)
	if m.SequenceNumber, err = inv.MetaInt("SequenceNumber"); err != nil {
		return m, err
	}
	for _, k := range []string{"EnqueuedTimeUtc", "EnqueuedTime"} {
		if m.EnqueuedTime, err = inv.MetaTime(k); err != nil {
			return m, err
		}
		if !m.EnqueuedTime.IsZero() {
			break
		}
	}
	for _, k := range []string{"ApplicationProperties", "UserProperties"} {
		if m.ApplicationProperties, err = inv.MetaObject(k); err != nil {
			return m, err
		}
		if len(m.ApplicationProperties) > 0 {
			break
		}
	}
	return m, nil
}

// TimerInfo is what a timerTrigger passes.
type TimerInfo struct {
	IsPastDue bool
	Last      time.Time // last run, zero when unknown (first run, no monitor)
	Next      time.Time // next scheduled run, zero when unknown
}

// Timer decodes a timerTrigger binding:
// {"Schedule": {...}, "ScheduleStatus": {"Last", "Next", "LastUpdated"}, "IsPastDue": bool}.
func (inv *Invocation) Timer(binding string) (TimerInfo, error) {
	var t TimerInfo
	raw, err := inv.data(binding)
	if err != nil {
		return t, err
	}
	obj, err := unwrapJSON(raw)
	if err != nil {
		return t, inv.dataErr(binding, err)
	}
	var v struct {
		IsPastDue      json.RawMessage
		ScheduleStatus json.RawMessage
	}
	if err := decodeObject(obj, &v); err != nil {
		return t, inv.dataErr(binding, err)
	}
	if len(v.IsPastDue) > 0 && !isNull(v.IsPastDue) {
		if t.IsPastDue, err = boolOf(v.IsPastDue); err != nil {
			return t, inv.dataErr(binding+".IsPastDue", err)
		}
	}
	if len(v.ScheduleStatus) == 0 || isNull(v.ScheduleStatus) {
		return t, nil
	}
	var st struct{ Last, Next json.RawMessage }
	if err := decodeObject(v.ScheduleStatus, &st); err != nil {
		return t, inv.dataErr(binding+".ScheduleStatus", err)
	}
	if t.Last, err = optTime(st.Last); err != nil {
		return t, inv.dataErr(binding+".ScheduleStatus.Last", err)
	}
	if t.Next, err = optTime(st.Next); err != nil {
		return t, inv.dataErr(binding+".ScheduleStatus.Next", err)
	}
	// .NET DateTime.MinValue stands for "never".
	if t.Last.Year() == 1 {
		t.Last = time.Time{}
	}
	if t.Next.Year() == 1 {
		t.Next = time.Time{}
	}
	return t, nil
}

// HTTPRequest is what an httpTrigger passes when request forwarding is off.
type HTTPRequest struct {
	Method  string
	URL     string
	Query   map[string]string   // repeated keys are joined with ","
	Headers map[string][]string // as sent, keys as the host spells them
	Params  map[string]string   // route parameters, e.g. "path" for {*path}
	Body    []byte              // the raw request body, nil when there was none
}

// Header returns the first value of a header, matching its name
// case-insensitively.
func (r HTTPRequest) Header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// HTTPRequest decodes an httpTrigger binding:
// {"Url", "Method", "Query", "Headers" (array values), "Params", "Identities", "Body" (a string)}.
func (inv *Invocation) HTTPRequest(binding string) (HTTPRequest, error) {
	var r HTTPRequest
	raw, err := inv.data(binding)
	if err != nil {
		return r, err
	}
	obj, err := unwrapJSON(raw)
	if err != nil {
		return r, inv.dataErr(binding, err)
	}
	var v struct {
		URL                    json.RawMessage `json:"Url"`
		Method                 json.RawMessage
		Query, Headers, Params json.RawMessage
		Body                   json.RawMessage
	}
	if err := decodeObject(obj, &v); err != nil {
		return r, inv.dataErr(binding, err)
	}
	if r.URL, err = optString(v.URL); err != nil {
		return r, inv.dataErr(binding+".Url", err)
	}
	if r.Method, err = optString(v.Method); err != nil {
		return r, inv.dataErr(binding+".Method", err)
	}
	if r.Method == "" {
		return r, inv.dataErr(binding+".Method", errors.New("missing"))
	}
	if r.Query, err = stringMap(v.Query); err != nil {
		return r, inv.dataErr(binding+".Query", err)
	}
	if r.Params, err = stringMap(v.Params); err != nil {
		return r, inv.dataErr(binding+".Params", err)
	}
	if r.Headers, err = multiMap(v.Headers); err != nil {
		return r, inv.dataErr(binding+".Headers", err)
	}
	body := bytes.TrimSpace(v.Body)
	switch {
	case len(body) == 0 || isNull(body):
	case body[0] == '"':
		// The host reads the request body as a string: exactly one level
		// of quoting, whatever the body itself contains.
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return r, inv.dataErr(binding+".Body", fmt.Errorf("invalid JSON string: %w", err))
		}
		r.Body = []byte(s)
	default:
		r.Body = bytes.Clone(body)
	}
	return r, nil
}

// decodeObject unmarshals a JSON object (null leaves v as is).
func decodeObject(raw []byte, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	if raw[0] != '{' {
		return fmt.Errorf("is %s, want a JSON object", kindOf(raw))
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("invalid JSON object: %w", err)
	}
	return nil
}

// values reads a JSON value that is a string (or other scalar) or an array
// of them.
func values(raw []byte) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return nil, nil
	}
	if raw[0] != '[' {
		s, err := scalarString(raw)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, fmt.Errorf("invalid JSON array: %w", err)
	}
	out := make([]string, 0, len(arr))
	for i, e := range arr {
		e = bytes.TrimSpace(e)
		if isNull(e) {
			continue
		}
		s, err := scalarString(e)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func multiMap(raw []byte) (map[string][]string, error) {
	var m map[string]json.RawMessage
	if err := decodeObject(raw, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		vs, err := values(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = vs
	}
	return out, nil
}

func stringMap(raw []byte) (map[string]string, error) {
	mm, err := multiMap(raw)
	if err != nil || mm == nil {
		return nil, err
	}
	out := make(map[string]string, len(mm))
	for k, v := range mm {
		out[k] = strings.Join(v, ",")
	}
	return out, nil
}
