package funchost

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/jsonlimit"
)

// MaxDepth is the deepest JSON nesting of an envelope Decode reads; the
// same bound applies to the values the host quotes once more (see
// jsonlimit).
const MaxDepth = jsonlimit.MaxDepth

// Headers the Functions host sets on every invocation request.
const (
	HeaderInvocationID = "X-Azure-Functions-InvocationId"
	HeaderHostVersion  = "X-Azure-Functions-HostVersion"
)

// DecodeError says that part of an invocation could not be understood.
type DecodeError struct {
	Function string // the function invoked, e.g. "Reconcile"
	Field    string // the envelope field, e.g. "Data.message" or "Metadata.DeliveryCount"
	Err      error
}

func (e *DecodeError) Error() string {
	fn := e.Function
	if fn == "" {
		fn = "invocation"
	}
	return fmt.Sprintf("%s: %s: %v", fn, e.Field, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// Invocation is one request of the host to run a function.
type Invocation struct {
	ID       string // X-Azure-Functions-InvocationId
	Function string // the function name, from the request path
	// Data holds the trigger and input bindings by binding name.
	Data map[string]json.RawMessage
	// Metadata holds the trigger metadata (PascalCase keys, plus "sys").
	Metadata map[string]json.RawMessage
}

// Decode parses an invocation envelope. id and function come from the HTTP
// request (header and path). A missing or null Data or Metadata is accepted
// as empty; anything that is not a JSON object is a *DecodeError.
func Decode(id, function string, body []byte) (*Invocation, error) {
	inv := &Invocation{ID: id, Function: function}
	// The envelope adds three levels to what it carries; nothing deeper is
	// decoded (values the host quoted once more are checked again by
	// their own decoders).
	if err := jsonlimit.Depth(body, MaxDepth); err != nil {
		return nil, &DecodeError{Function: function, Field: "body", Err: err}
	}
	top, err := objectOf(body)
	if err != nil {
		return nil, &DecodeError{Function: function, Field: "body", Err: err}
	}
	for k, v := range top {
		// The host writes "Data" and "Metadata"; accept any casing as
		// encoding/json would for a struct.
		switch {
		case strings.EqualFold(k, "Data"):
			if inv.Data, err = objectOf(v); err != nil {
				return nil, &DecodeError{Function: function, Field: "Data", Err: err}
			}
		case strings.EqualFold(k, "Metadata"):
			if inv.Metadata, err = objectOf(v); err != nil {
				return nil, &DecodeError{Function: function, Field: "Metadata", Err: err}
			}
		}
	}
	if inv.Data == nil {
		inv.Data = map[string]json.RawMessage{}
	}
	if inv.Metadata == nil {
		inv.Metadata = map[string]json.RawMessage{}
	}
	return inv, nil
}

// objectOf decodes a JSON object; null gives a nil map.
func objectOf(raw []byte) (map[string]json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty, want a JSON object")
	}
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("is %s, want a JSON object", kindOf(raw))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return m, nil
}

func (inv *Invocation) dataErr(binding string, err error) error {
	return &DecodeError{Function: inv.Function, Field: "Data." + binding, Err: err}
}

func (inv *Invocation) metaErr(key string, err error) error {
	return &DecodeError{Function: inv.Function, Field: "Metadata." + key, Err: err}
}

// data returns the value of a binding, failing when it is absent or null.
func (inv *Invocation) data(binding string) (json.RawMessage, error) {
	raw, ok := inv.Data[binding]
	if !ok {
		return nil, inv.dataErr(binding, fmt.Errorf("missing (bindings present: %s)", keysOf(inv.Data)))
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return nil, inv.dataErr(binding, errors.New("is null"))
	}
	return raw, nil
}

// meta returns a metadata value; ok is false when it is absent or null.
func (inv *Invocation) meta(key string) (json.RawMessage, bool) {
	raw, ok := inv.Metadata[key]
	raw = bytes.TrimSpace(raw)
	if !ok || len(raw) == 0 || isNull(raw) {
		return nil, false
	}
	return raw, true
}

// MetaString returns a metadata value as a string: "" when absent or null,
// the string itself with one or two levels of JSON quoting removed
// ("\"abc\"" -> abc), the text of a number or boolean. An object or array is
// an error.
func (inv *Invocation) MetaString(key string) (string, error) {
	raw, ok := inv.meta(key)
	if !ok {
		return "", nil
	}
	s, err := scalarString(raw)
	if err != nil {
		return "", inv.metaErr(key, err)
	}
	return s, nil
}

// MetaInt returns a metadata value that is a whole number, given as a JSON
// number or as a (possibly quoted) string: 0 when absent or null.
func (inv *Invocation) MetaInt(key string) (int64, error) {
	raw, ok := inv.meta(key)
	if !ok {
		return 0, nil
	}
	n, err := intOf(raw)
	if err != nil {
		return 0, inv.metaErr(key, err)
	}
	return n, nil
}

// MetaTime returns a metadata timestamp (see ParseTime): the zero time when
// absent or null.
func (inv *Invocation) MetaTime(key string) (time.Time, error) {
	raw, ok := inv.meta(key)
	if !ok {
		return time.Time{}, nil
	}
	t, err := timeOf(raw)
	if err != nil {
		return time.Time{}, inv.metaErr(key, err)
	}
	return t, nil
}

// MetaObject returns a metadata value that is a JSON object, or a string
// holding one, as a map: nil when absent or null.
func (inv *Invocation) MetaObject(key string) (map[string]any, error) {
	raw, ok := inv.meta(key)
	if !ok {
		return nil, nil
	}
	obj, err := unwrapJSON(raw)
	if err != nil {
		return nil, inv.metaErr(key, err)
	}
	if isNull(obj) {
		return nil, nil
	}
	if obj[0] != '{' {
		return nil, inv.metaErr(key, fmt.Errorf("is %s, want a JSON object", kindOf(obj)))
	}
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(obj))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, inv.metaErr(key, fmt.Errorf("invalid JSON object: %w", err))
	}
	return m, nil
}

// Sys is the "sys" metadata the host adds to every invocation.
type Sys struct {
	MethodName string    // the function name
	UtcNow     time.Time // when the host started the invocation
	RandGuid   string
}

// Sys returns the "sys" metadata; its fields are zero when absent.
func (inv *Invocation) Sys() (Sys, error) {
	raw, ok := inv.meta("sys")
	if !ok {
		return Sys{}, nil
	}
	obj, err := unwrapJSON(raw)
	if err != nil || isNull(obj) || obj[0] != '{' {
		if err == nil {
			err = fmt.Errorf("is %s, want a JSON object", kindOf(obj))
		}
		return Sys{}, inv.metaErr("sys", err)
	}
	var s struct {
		MethodName, RandGuid json.RawMessage
		UtcNow               json.RawMessage
	}
	if err := json.Unmarshal(obj, &s); err != nil {
		return Sys{}, inv.metaErr("sys", fmt.Errorf("invalid JSON object: %w", err))
	}
	var out Sys
	if out.MethodName, err = optString(s.MethodName); err != nil {
		return Sys{}, inv.metaErr("sys.MethodName", err)
	}
	if out.RandGuid, err = optString(s.RandGuid); err != nil {
		return Sys{}, inv.metaErr("sys.RandGuid", err)
	}
	if out.UtcNow, err = optTime(s.UtcNow); err != nil {
		return Sys{}, inv.metaErr("sys.UtcNow", err)
	}
	return out, nil
}

// --- JSON scalar helpers shared by the decoders ---

func isNull(raw []byte) bool { return string(raw) == "null" }

func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func keysOf(m map[string]json.RawMessage) string {
	if len(m) == 0 {
		return "none"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, ", ")
}

// maxQuoting is how many levels of JSON string quoting the decoders peel
// off. The host adds one level to .NET strings and a Service Bus body that
// was itself sent as a JSON string carries a second one.
const maxQuoting = 2

// unquoteLevels removes up to maxQuoting levels of JSON string quoting from
// raw, which must be a JSON string. It returns the innermost text.
func unquoteLevels(raw []byte) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("invalid JSON string: %w", err)
	}
	for range maxQuoting - 1 {
		t := strings.TrimSpace(s)
		if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
			break
		}
		var inner string
		if json.Unmarshal([]byte(t), &inner) != nil {
			break // a string that merely starts and ends with quotes
		}
		s = inner
	}
	return s, nil
}

// unwrapJSON returns the JSON value raw stands for: raw itself when it is not
// a string, otherwise the JSON held in the (up to doubly quoted) string when
// that is an object or array. A string holding anything else is returned as
// is (still a JSON string).
func unwrapJSON(raw []byte) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return raw, nil
	}
	s, err := unquoteLevels(raw)
	if err != nil {
		return nil, err
	}
	t := strings.TrimSpace(s)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		if err := jsonlimit.Depth([]byte(t), MaxDepth); err != nil {
			return nil, fmt.Errorf("string holds %w", err)
		}
		if !json.Valid([]byte(t)) {
			return nil, fmt.Errorf("string holds invalid JSON %s", excerpt(t))
		}
		return []byte(t), nil
	}
	return raw, nil
}

// scalarString renders a JSON scalar as text, unquoting strings.
func scalarString(raw []byte) (string, error) {
	switch raw[0] {
	case '"':
		return unquoteLevels(raw)
	case '{', '[':
		return "", fmt.Errorf("is %s, want a string", kindOf(raw))
	default:
		if !json.Valid(raw) {
			return "", fmt.Errorf("invalid JSON %s", excerpt(string(raw)))
		}
		return string(raw), nil
	}
}

func optString(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return "", nil
	}
	return scalarString(raw)
}

func intOf(raw []byte) (int64, error) {
	s, err := scalarString(raw)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a whole number", excerpt(s))
	}
	return n, nil
}

func boolOf(raw []byte) (bool, error) {
	s, err := scalarString(raw)
	if err != nil {
		return false, err
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return false, fmt.Errorf("%s is not a boolean", excerpt(s))
	}
	return b, nil
}

func timeOf(raw []byte) (time.Time, error) {
	s, err := scalarString(raw)
	if err != nil {
		return time.Time{}, err
	}
	return ParseTime(s)
}

func optTime(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return time.Time{}, nil
	}
	return timeOf(raw)
}

// timeLayouts are the shapes .NET DateTime and DateTimeOffset take in the
// envelope: ISO 8601 with or without fraction (up to 7 digits) and with or
// without a zone, and the invariant-culture ToString() form.
var timeLayouts = []struct {
	layout string
	zoned  bool
}{
	{time.RFC3339Nano, true},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999", false},
	{"01/02/2006 15:04:05 -07:00", true},
	{"01/02/2006 15:04:05", false},
	{"1/2/2006 3:04:05 PM -07:00", true},
	{"1/2/2006 3:04:05 PM", false},
}

// ParseTime parses a .NET timestamp as the host writes it. A time without a
// zone is UTC (the host writes DateTime values in UTC and drops the "Z"); a
// time with an offset keeps it. The result is always returned in UTC.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		t, err := time.Parse(l.layout, s)
		if err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not a timestamp (want ISO 8601, e.g. 2023-10-12T20:13:49 or 2023-10-12T20:13:49.19+00:00)", excerpt(s))
}

// excerpt quotes s for an error message, shortened to a readable length.
func excerpt(s string) string {
	const limit = 80
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "..."
	}
	return strconv.Quote(s)
}
