package events

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azsystemevents"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jsonlimit"
)

// Schemas of a delivered event.
const (
	SchemaEventGrid   = "eventgrid"
	SchemaCloudEvents = "cloudevents"
)

// MaxRawBytes caps the raw bytes kept for a malformed or dead event.
const MaxRawBytes = 16 << 10

// MaxDepth is the deepest JSON nesting of a delivery or event the parsers
// read (jsonlimit.MaxDepth; an ARM event nests about six levels). A deeper
// body is refused in one linear pass before any decoder runs, and kept as a
// malformed event.
const MaxDepth = jsonlimit.MaxDepth

// Claim names read into a Principal (docs/policy.md, "Requester"): the
// short JWT name and the URI form ARM also writes into data.claims (the
// event schema's example events carry the URI forms). Microsoft's access
// token claims reference: oid and tid identify the caller and its tenant,
// appid (v1.0) and azp (v2.0) the client application; upn is the user's
// sign-in name; name and unique_name are display values that "can vary"
// and are "for display purposes only", so they fill DisplayName and never
// UPN.
var (
	claimsObjectID    = []string{"oid", "http://schemas.microsoft.com/identity/claims/objectidentifier"}
	claimsAppID       = []string{"appid", "azp"}
	claimsTenantID    = []string{"tid", "http://schemas.microsoft.com/identity/claims/tenantid"}
	claimsUPN         = []string{"upn", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"}
	claimsDisplayName = []string{"name", "unique_name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"}
)

// Event is one parsed event, in either schema. For ARM events
// (Microsoft.Resources.Resource*) the data fields are filled in; for the
// subscription validation event ValidationCode is.
type Event struct {
	ID      string `json:"id"`
	Type    string `json:"type"`   // eventType (Event Grid) or type (CloudEvents)
	Schema  string `json:"schema"` // SchemaEventGrid or SchemaCloudEvents
	Subject string `json:"subject"`
	// Time is eventTime or time; zero when absent or unparseable.
	Time time.Time `json:"time,omitzero"`
	// Topic is topic (Event Grid) or source (CloudEvents).
	Topic string `json:"topic,omitempty"`

	OperationName    string `json:"operationName,omitempty"`
	Status           string `json:"status,omitempty"`
	ResourceURI      string `json:"resourceUri,omitempty"`
	ResourceProvider string `json:"resourceProvider,omitempty"`
	SubscriptionID   string `json:"subscriptionId,omitempty"`
	TenantID         string `json:"tenantId,omitempty"`
	CorrelationID    string `json:"correlationId,omitempty"`
	// Action is data.authorization.action.
	Action string `json:"action,omitempty"`
	// Principal is who made the ARM call, from data.claims.
	Principal core.Principal `json:"principal,omitzero"`
	// Claims are data.claims with non-string values stringified (see
	// flexString).
	Claims map[string]string `json:"claims,omitempty"`

	// ValidationCode and ValidationURL are set on a subscription validation
	// event.
	ValidationCode string `json:"validationCode,omitempty"`
	ValidationURL  string `json:"validationUrl,omitempty"`

	// Raw is the event as delivered.
	Raw json.RawMessage `json:"-"`

	// rid is the parsed resource id (resourceUri, else subject) of an ARM
	// event, cached for Classify.
	rid *arm.ResourceID
}

// IsARM reports whether the event is an ARM resource event
// (Microsoft.Resources.Resource{Write,Delete,Action}{Success,Failure,Cancel}).
func (e Event) IsARM() bool {
	return hasPrefixFold(e.Type, "Microsoft.Resources.Resource")
}

// IsValidation reports whether the event is Event Grid's subscription
// validation event.
func (e Event) IsValidation() bool {
	return strings.EqualFold(e.Type, azsystemevents.TypeSubscriptionValidation)
}

// ResourceID returns the resource the event is about: data.resourceUri,
// falling back to the subject.
func (e Event) ResourceID() string {
	if e.ResourceURI != "" {
		return e.ResourceURI
	}
	return e.Subject
}

// Malformed is an event of a delivery that could not be parsed.
type Malformed struct {
	// Index is the position of the event in the delivered batch (0 for a
	// single event).
	Index int `json:"index"`
	// Raw is the event's bytes, capped at MaxRawBytes.
	Raw []byte `json:"raw"`
	// Reason says what is wrong, naming the field.
	Reason string `json:"reason"`
}

// ParseBatch parses a delivery: a JSON array of events or a single event
// object, in either schema. One bad event never fails the batch: it is
// returned in Malformed with its index and the good ones are still parsed.
// If the body stops being JSON half way, the events before the fault are
// kept and the rest is reported as one Malformed entry.
func ParseBatch(body []byte) ([]Event, []Malformed) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, []Malformed{{Index: 0, Raw: capRaw(body), Reason: "body is empty"}}
	}
	// Nothing below reads a body nested deeper than the bound: refused in
	// one pass, kept as one malformed event.
	if err := jsonlimit.Depth(trimmed, MaxDepth); err != nil {
		return nil, []Malformed{{Index: 0, Raw: capRaw(trimmed), Reason: "body: " + err.Error()}}
	}
	if trimmed[0] != '[' {
		ev, err := parseOne(trimmed)
		if err != nil {
			return nil, []Malformed{{Index: 0, Raw: capRaw(trimmed), Reason: err.Error()}}
		}
		return []Event{ev}, nil
	}

	if items, ok := splitArray(trimmed); fastPath && ok {
		// grown as events parse: a batch of junk allocates no Event per item
		evs := make([]Event, 0, min(len(items), 64))
		var bad []Malformed
		for i, raw := range items {
			ev, err := parseOne(raw)
			if err != nil {
				bad = append(bad, Malformed{Index: i, Raw: capRaw(raw), Reason: fmt.Sprintf("event %d: %v", i, err)})
				continue
			}
			evs = append(evs, ev)
		}
		return evs, bad
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil { // the '['
		return nil, []Malformed{{Index: 0, Raw: capRaw(trimmed), Reason: "body is not JSON: " + err.Error()}}
	}
	var (
		evs []Event
		bad []Malformed
	)
	for i := 0; ; i++ {
		if !dec.More() {
			break
		}
		var raw json.RawMessage
		offset := dec.InputOffset()
		if err := dec.Decode(&raw); err != nil {
			rest := trimmed[min(int(offset), len(trimmed)):]
			bad = append(bad, Malformed{
				Index:  i,
				Raw:    capRaw(bytes.TrimLeft(rest, " \t\r\n,")),
				Reason: fmt.Sprintf("event %d and after: body is not JSON: %v", i, err),
			})
			return evs, bad
		}
		ev, err := parseOne(raw)
		if err != nil {
			bad = append(bad, Malformed{Index: i, Raw: capRaw(raw), Reason: fmt.Sprintf("event %d: %v", i, err)})
			continue
		}
		evs = append(evs, ev)
	}
	if _, err := dec.Token(); err != nil && !errors.Is(err, io.EOF) { // the ']'
		bad = append(bad, Malformed{Index: len(evs) + len(bad), Raw: capRaw(trimmed), Reason: "body is not JSON: " + err.Error()})
	}
	return evs, bad
}

// wire is an event in either schema with every field kept raw, so that a
// field of an unexpected JSON type is reported by name instead of failing
// the whole decode.
type wire struct {
	ID          json.RawMessage `json:"id"`
	Subject     json.RawMessage `json:"subject"`
	EventType   json.RawMessage `json:"eventType"`
	Type        json.RawMessage `json:"type"`
	EventTime   json.RawMessage `json:"eventTime"`
	Time        json.RawMessage `json:"time"`
	Topic       json.RawMessage `json:"topic"`
	Source      json.RawMessage `json:"source"`
	SpecVersion json.RawMessage `json:"specversion"`
	Data        json.RawMessage `json:"data"`
	DataBase64  json.RawMessage `json:"data_base64"`
}

// ParseOne parses one event in either schema. The event may also arrive as
// a JSON string holding the event (hosts that serialise values twice). It
// fails, naming the field, when the event is not a JSON object, lacks an id,
// a type or (for ARM events) a subject or data, or when an ARM event's
// resource id does not parse, or when it nests deeper than MaxDepth.
func ParseOne(raw []byte) (Event, error) {
	if err := jsonlimit.Depth(raw, MaxDepth); err != nil {
		return Event{}, fmt.Errorf("event: %w", err)
	}
	return parseOne(raw)
}

// parseOne is ParseOne for bytes whose depth was checked.
func parseOne(raw []byte) (Event, error) {
	raw = bytes.TrimSpace(raw)
	if fastPath && len(raw) > 0 && raw[0] == '{' {
		if ev, ok := fastParseARM(raw); ok {
			return ev, nil
		}
		if fastMissingID(raw) {
			return Event{}, errMissingID
		}
	}
	return parseFull(raw)
}

// parseFull is ParseOne without the fast path (see fastparse.go): the
// complete decoder, which names what is wrong with an event.
func parseFull(raw []byte) (Event, error) {
	body, err := unquoteJSON(raw)
	if err != nil {
		return Event{}, err
	}
	if len(body) != len(raw) { // unquoted: the text inside was not checked yet
		if err := jsonlimit.Depth(body, MaxDepth); err != nil {
			return Event{}, fmt.Errorf("event: %w", err)
		}
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return Event{}, errors.New("event is not JSON")
		}
		return Event{}, fmt.Errorf("event is a JSON %s, want an object", jsonKind(body))
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		return Event{}, fmt.Errorf("event is not JSON: %w", err)
	}
	id, err := requiredString(w.ID, "id")
	if err != nil {
		return Event{}, err
	}
	ev := Event{Raw: json.RawMessage(raw), ID: id} // built once the event has an id: junk costs no Event
	switch {
	case len(w.SpecVersion) > 0 || (len(w.EventType) == 0 && len(w.Type) > 0):
		ev.Schema = SchemaCloudEvents
		if ev.Type, err = requiredString(w.Type, "type"); err != nil {
			return Event{}, err
		}
		ev.Topic, err = optionalString(w.Source, "source")
		ev.Time = optionalTime(w.Time)
	case len(w.EventType) > 0:
		ev.Schema = SchemaEventGrid
		if ev.Type, err = requiredString(w.EventType, "eventType"); err != nil {
			return Event{}, err
		}
		ev.Topic, err = optionalString(w.Topic, "topic")
		ev.Time = optionalTime(w.EventTime)
	default:
		return Event{}, errors.New(`field "eventType" (Event Grid schema) or "type" (CloudEvents) is missing`)
	}
	if err != nil {
		return Event{}, err
	}
	if ev.Subject, err = optionalString(w.Subject, "subject"); err != nil {
		return Event{}, err
	}

	data := w.Data
	if len(data) == 0 && len(w.DataBase64) > 0 {
		s, err := requiredString(w.DataBase64, "data_base64")
		if err != nil {
			return Event{}, err
		}
		if data, err = base64.StdEncoding.DecodeString(s); err != nil {
			return Event{}, fmt.Errorf(`field "data_base64": %w`, err)
		}
	}

	switch {
	case ev.IsValidation():
		if err := ev.parseValidation(data); err != nil {
			return Event{}, err
		}
	case ev.IsARM():
		if ev.Subject == "" {
			return Event{}, fmt.Errorf(`field "subject" is missing or empty on %s event`, ev.Type)
		}
		if err := ev.parseARMData(data); err != nil {
			return Event{}, err
		}
		field := "data.resourceUri"
		if ev.ResourceURI == "" {
			field = "subject"
		}
		rid, err := arm.ParseResourceID(ev.ResourceID())
		if err != nil {
			return Event{}, fmt.Errorf("field %q: %w", field, err)
		}
		ev.rid = rid
	default:
		if ev.Subject == "" {
			return Event{}, fmt.Errorf(`field "subject" is missing or empty on %s event`, ev.Type)
		}
	}
	return ev, nil
}

func (ev *Event) parseValidation(data json.RawMessage) error {
	data, err := dataObject(data)
	if err != nil {
		return err
	}
	var v azsystemevents.SubscriptionValidationEventData
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf(`field "data": %w`, err)
	}
	ev.ValidationCode = deref(v.ValidationCode)
	ev.ValidationURL = deref(v.ValidationURL)
	if ev.ValidationCode == "" {
		return errors.New(`field "data.validationCode" is missing on the subscription validation event`)
	}
	return nil
}

// parseARMData decodes the data of an ARM event with the SDK's typed model
// (all nine Microsoft.Resources.Resource* data types share its shape) and,
// when that fails (a claim or evidence value that is not a string), with a
// tolerant decoder that stringifies such values.
func (ev *Event) parseARMData(data json.RawMessage) error {
	data, err := dataObject(data)
	if err != nil {
		return err
	}
	var d azsystemevents.ResourceWriteSuccessEventData
	if err := json.Unmarshal(data, &d); err == nil {
		ev.OperationName = deref(d.OperationName)
		ev.Status = deref(d.Status)
		ev.ResourceURI = deref(d.ResourceURI)
		ev.ResourceProvider = deref(d.ResourceProvider)
		ev.SubscriptionID = deref(d.SubscriptionID)
		ev.TenantID = deref(d.TenantID)
		ev.CorrelationID = deref(d.CorrelationID)
		if d.Authorization != nil {
			ev.Action = deref(d.Authorization.Action)
		}
		if len(d.Claims) > 0 {
			ev.Claims = make(map[string]string, len(d.Claims))
			for k, v := range d.Claims {
				ev.Claims[k] = deref(v)
			}
		}
		ev.Principal = principalOf(ev.Claims, nil) // every value was a string
		return nil
	}
	return ev.parseARMDataTolerant(data)
}

type tolerantData struct {
	Authorization    json.RawMessage `json:"authorization"`
	Claims           json.RawMessage `json:"claims"`
	CorrelationID    json.RawMessage `json:"correlationId"`
	OperationName    json.RawMessage `json:"operationName"`
	ResourceProvider json.RawMessage `json:"resourceProvider"`
	ResourceURI      json.RawMessage `json:"resourceUri"`
	Status           json.RawMessage `json:"status"`
	SubscriptionID   json.RawMessage `json:"subscriptionId"`
	TenantID         json.RawMessage `json:"tenantId"`
}

func (ev *Event) parseARMDataTolerant(data json.RawMessage) error {
	var d tolerantData
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf(`field "data": %w`, err)
	}
	fields := []struct {
		name string
		raw  json.RawMessage
		dst  *string
	}{
		{"operationName", d.OperationName, &ev.OperationName},
		{"status", d.Status, &ev.Status},
		{"resourceUri", d.ResourceURI, &ev.ResourceURI},
		{"resourceProvider", d.ResourceProvider, &ev.ResourceProvider},
		{"subscriptionId", d.SubscriptionID, &ev.SubscriptionID},
		{"tenantId", d.TenantID, &ev.TenantID},
		{"correlationId", d.CorrelationID, &ev.CorrelationID},
	}
	for _, f := range fields {
		s, err := optionalString(f.raw, "data."+f.name)
		if err != nil {
			return err
		}
		*f.dst = s
	}
	claims, strs, err := flexMap(d.Claims)
	if err != nil {
		return fmt.Errorf(`field "data.claims": %w`, err)
	}
	ev.Claims = claims
	ev.Principal = principalOf(claims, func(n string) bool { return strs[n] })
	if len(d.Authorization) > 0 && !isNull(d.Authorization) {
		var a struct {
			Action json.RawMessage `json:"action"`
		}
		if err := json.Unmarshal(d.Authorization, &a); err != nil {
			return fmt.Errorf(`field "data.authorization": %w`, err)
		}
		if ev.Action, err = optionalString(a.Action, "data.authorization.action"); err != nil {
			return err
		}
	}
	return nil
}

// principalOf reads who made the call from the claims. Only claims whose
// JSON value was a string count (isString; nil means all were): the
// tolerant decoder's renderings of other values ("a,b" for an array) never
// name anyone. When two names of one field carry different values (upn and
// its URI form disagree), the field is left empty rather than picking one.
func principalOf(claims map[string]string, isString func(name string) bool) core.Principal {
	field := func(names []string) string {
		var got string
		for _, n := range names {
			v, ok := claims[n]
			if !ok || (isString != nil && !isString(n)) {
				continue
			}
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if got != "" && !strings.EqualFold(got, v) {
				return "" // ambiguous: trust neither
			}
			if got == "" {
				got = v
			}
		}
		return got
	}
	display := ""
	for _, n := range claimsDisplayName { // display only: the first present
		if isString != nil && !isString(n) {
			continue
		}
		if v := strings.TrimSpace(claims[n]); v != "" {
			display = v
			break
		}
	}
	return core.Principal{
		ObjectID:    field(claimsObjectID),
		AppID:       field(claimsAppID),
		TenantID:    field(claimsTenantID),
		UPN:         field(claimsUPN),
		DisplayName: display,
	}
}

// dataObject returns the event's data as a JSON object, unwrapping a JSON
// string that holds one.
func dataObject(data json.RawMessage) (json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || isNull(data) {
		return nil, errors.New(`field "data" is missing`)
	}
	quoted := data[0] == '"'
	data, err := unquoteJSON(data)
	if err != nil {
		return nil, fmt.Errorf(`field "data": %w`, err)
	}
	if quoted {
		if err := jsonlimit.Depth(data, MaxDepth); err != nil {
			return nil, fmt.Errorf(`field "data": %w`, err)
		}
	}
	if data[0] != '{' {
		return nil, fmt.Errorf(`field "data" is a JSON %s, want an object`, jsonKind(data))
	}
	return data, nil
}

// unquoteJSON unwraps up to two levels of JSON strings holding JSON.
func unquoteJSON(raw []byte) ([]byte, error) {
	for range 2 {
		if len(raw) == 0 || raw[0] != '"' {
			break
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("event is not JSON: %w", err)
		}
		raw = bytes.TrimSpace([]byte(s))
	}
	if len(raw) == 0 {
		return nil, errors.New("event is empty")
	}
	return raw, nil
}

func requiredString(raw json.RawMessage, field string) (string, error) {
	s, err := optionalString(raw, field)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("field %q is missing or empty", field)
	}
	return s, nil
}

// optionalString decodes a string field; a number is accepted as its text
// (an id sent as a number is still an id). Anything else is an error naming
// the field.
func optionalString(raw json.RawMessage, field string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("field %q: %w", field, err)
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", fmt.Errorf("field %q is a JSON %s, want a string", field, jsonKind(raw))
}

// optionalTime parses an RFC 3339 time, or one without a zone (taken as
// UTC, the way .NET hosts print DateTime). The time is informational (it
// never decides anything), so an unparseable one gives the zero time rather
// than failing the event.
func optionalTime(raw json.RawMessage) time.Time {
	s, err := optionalString(raw, "time")
	if err != nil {
		return time.Time{}
	}
	return parseTime(s)
}

// parseTime is optionalTime for a decoded string.
func parseTime(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// flexMap decodes a JSON object into strings, stringifying values that are
// not strings (see flexString); strs says which values were JSON strings.
func flexMap(raw json.RawMessage) (out map[string]string, strs map[string]bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return nil, nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, err
	}
	if len(m) == 0 {
		return nil, nil, nil
	}
	out = make(map[string]string, len(m))
	strs = make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = flexString(v)
		if v = bytes.TrimSpace(v); len(v) > 0 && v[0] == '"' {
			strs[k] = true
		}
	}
	return out, strs, nil
}

// flexString renders any JSON value as a string: a string as is, a number
// or boolean as its text, null as "", an array of scalars joined with ","
// (the way ARM itself renders multi-valued claims such as amr: "rsa,mfa"),
// and anything else as compact JSON.
func flexString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) == nil {
			parts := make([]string, 0, len(items))
			scalar := true
			for _, it := range items {
				it = bytes.TrimSpace(it)
				if len(it) > 0 && (it[0] == '[' || it[0] == '{') {
					scalar = false
					break
				}
				parts = append(parts, flexString(it))
			}
			if scalar {
				return strings.Join(parts, ",")
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
		return "number"
	}
	return "value"
}

func isNull(raw []byte) bool { return string(bytes.TrimSpace(raw)) == "null" }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// capRaw copies at most MaxRawBytes of raw.
func capRaw(raw []byte) []byte {
	if len(raw) > MaxRawBytes {
		raw = raw[:MaxRawBytes]
	}
	return bytes.Clone(raw)
}
