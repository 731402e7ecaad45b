package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
)

// The intake's fast path. A delivery of ARM events is parsed by a small
// scanner that reads only the fields the classifier and the job need (the
// envelope, data.operationName, status, resourceUri, resourceProvider,
// subscriptionId, tenantId, correlationId, authorization.action and the
// claims) and skips the rest (evidence, httpRequest, ...) without building
// it. Anything it does not expect (a field of another JSON type, escapes in
// a key, data as a string, a non-ARM event, JSON it finds invalid, a key
// that differs from a known one only in case) makes it give up, and the
// event goes through the complete decoder (ParseOne's slow path), which
// names what is wrong. So the fast path changes speed, never results:
// TestFastPathMatchesTheFullDecoder checks that on every fixture.

// fastPath switches the fast path; the benchmark turns it off to measure
// the full decoder.
var fastPath = true

// scanner walks JSON bytes. It recurses once per nesting level and gives
// up beyond MaxDepth (the full decoder, which does not recurse, then
// decides), so no input can grow its stack.
type scanner struct {
	b     []byte
	i     int
	depth int
}

// enter counts one more level, false beyond MaxDepth; leave undoes it.
func (s *scanner) enter() bool {
	s.depth++
	return s.depth <= MaxDepth
}

func (s *scanner) leave() { s.depth-- }

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// str reads a string at s.i ('"'), returning its raw content span and
// whether it holds escapes.
func (s *scanner) str() (start, end int, esc, ok bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return 0, 0, false, false
	}
	s.i++
	start = s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			end = s.i
			s.i++
			return start, end, esc, true
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return 0, 0, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) || !isHex4(s.b[s.i+2:s.i+6]) {
					return 0, 0, false, false
				}
				s.i += 6
			default:
				return 0, 0, false, false
			}
		case c < 0x20:
			return 0, 0, false, false
		default:
			s.i++
		}
	}
	return 0, 0, false, false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// text returns a string value's Go string (escapes decoded).
func (s *scanner) text(start, end int, esc bool) (string, bool) {
	if !esc {
		if !utf8.Valid(s.b[start:end]) {
			return "", false // let the full decoder replace invalid bytes
		}
		return string(s.b[start:end]), true
	}
	var v string
	if err := json.Unmarshal(s.b[start-1:end+1], &v); err != nil {
		return "", false
	}
	return v, true
}

// skip passes over any JSON value.
func (s *scanner) skip() bool {
	s.ws()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, _, _, ok := s.str()
		return ok
	case c == '{':
		return s.object(func(string, bool) bool { return s.skip() })
	case c == '[':
		if !s.enter() {
			return false
		}
		defer s.leave()
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return true
		}
		for {
			if !s.skip() {
				return false
			}
			s.ws()
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	default:
		return s.number()
	}
}

func (s *scanner) lit(word string) bool {
	if len(s.b)-s.i < len(word) || string(s.b[s.i:s.i+len(word)]) != word {
		return false
	}
	s.i += len(word)
	return true
}

// number passes over a JSON number (RFC 8259 grammar).
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(s.b) {
		return false
	}
	if s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// object walks the object at s.i, calling field with each key (escaped
// keys give up) with s.i at the value; field must consume the value.
func (s *scanner) object(field func(key string, _ bool) bool) bool {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return false
	}
	if !s.enter() {
		return false
	}
	defer s.leave()
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		ks, ke, esc, ok := s.str()
		if !ok || esc {
			return false
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return false
		}
		s.i++
		s.ws()
		if !field(string(s.b[ks:ke]), true) {
			return false
		}
		s.ws()
		if s.i >= len(s.b) {
			return false
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// strField reads a string value into dst; any other JSON type gives up
// (the full decoder decides: numbers are accepted there, null too).
func (s *scanner) strField(dst *string) bool {
	st, en, esc, ok := s.str()
	if !ok {
		return false
	}
	v, ok := s.text(st, en, esc)
	*dst = v
	return ok
}

// rawSpan skips a value and returns its bytes.
func (s *scanner) rawSpan() ([]byte, bool) {
	s.ws()
	st := s.i
	if !s.skip() {
		return nil, false
	}
	return s.b[st:s.i], true
}

// foldsToKnown reports whether key matches one of names only when case is
// ignored: encoding/json would take it, the fast path does not.
func foldsToKnown(key string, names ...string) bool {
	for _, n := range names {
		if strings.EqualFold(key, n) {
			return true
		}
	}
	return false
}

var (
	envelopeKeys = []string{"id", "subject", "eventType", "type", "eventTime", "time", "topic", "source", "specversion", "data", "data_base64"}
	dataKeys     = []string{"authorization", "claims", "correlationId", "operationName", "resourceProvider", "resourceUri", "status", "subscriptionId", "tenantId"}
)

// fastParseARM parses one ARM event object (Event Grid or CloudEvents
// schema). ok is false when the fast path does not apply; the caller then
// uses the full decoder.
func fastParseARM(raw []byte) (Event, bool) {
	// encoding/json turns invalid UTF-8 into U+FFFD; the scanner copies
	// bytes. Leave such input to the full decoder so both agree (found by
	// FuzzFastPathMatchesTheFullDecoder).
	if !utf8.Valid(raw) {
		return Event{}, false
	}
	s := &scanner{b: raw}
	var (
		ev                          Event
		eventType, typ, etime, tm   string
		topic, source               string
		hasEventType, hasType, spec bool
		data                        []byte
		seen                        uint32
	)
	ok := s.object(func(key string, _ bool) bool {
		if bit := keyBit(key, envelopeKeys); bit != 0 {
			if seen&bit != 0 {
				return false // a duplicate: the full decoder's rules apply
			}
			seen |= bit
		}
		switch key {
		case "id":
			return s.strField(&ev.ID)
		case "subject":
			return s.strField(&ev.Subject)
		case "eventType":
			hasEventType = true
			return s.strField(&eventType)
		case "type":
			hasType = true
			return s.strField(&typ)
		case "eventTime":
			return s.strField(&etime)
		case "time":
			return s.strField(&tm)
		case "topic":
			return s.strField(&topic)
		case "source":
			return s.strField(&source)
		case "specversion":
			spec = true
			return s.skip()
		case "data":
			var ok bool
			data, ok = s.rawSpan()
			return ok && len(data) > 0 && data[0] == '{'
		case "data_base64":
			return false
		}
		if foldsToKnown(key, envelopeKeys...) {
			return false
		}
		return s.skip()
	})
	if !ok {
		return Event{}, false
	}
	s.ws()
	if s.i != len(s.b) || strings.TrimSpace(ev.ID) == "" || ev.Subject == "" || data == nil {
		return Event{}, false
	}
	switch {
	case spec || !hasEventType && hasType:
		ev.Schema, ev.Type, ev.Topic, ev.Time = SchemaCloudEvents, typ, source, parseTime(tm)
	case hasEventType:
		ev.Schema, ev.Type, ev.Topic, ev.Time = SchemaEventGrid, eventType, topic, parseTime(etime)
	default:
		return Event{}, false
	}
	if strings.TrimSpace(ev.Type) == "" || !ev.IsARM() {
		return Event{}, false
	}
	if !fastParseData(data, &ev) {
		return Event{}, false
	}
	rid, err := arm.ParseResourceID(ev.ResourceID())
	if err != nil {
		return Event{}, false
	}
	ev.rid = rid
	ev.Raw = json.RawMessage(raw)
	return ev, true
}

// fastMissingID reports whether raw is certainly an object the full decoder
// refuses for a missing or empty "id" (errMissingID): valid as far as the
// scanner can tell, with no "id" string other than blank and no key that
// differs from "id" only in case. A batch of junk objects then costs a scan
// each, not a reflective decode (FuzzFastPathMatchesTheFullDecoder checks
// the full decoder agrees).
func fastMissingID(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	s := &scanner{b: raw}
	id := ""
	ok := s.object(func(key string, _ bool) bool {
		switch {
		case key == "id":
			return s.strField(&id) // any other type: the full decoder decides
		case strings.EqualFold(key, "id"):
			return false
		}
		return s.skip()
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b) && strings.TrimSpace(id) == ""
}

// errMissingID is the full decoder's error for an event without an id.
var errMissingID = fmt.Errorf("field %q is missing or empty", "id")

// fastParseData reads the fields of an ARM event's data object.
func fastParseData(data []byte, ev *Event) bool {
	s := &scanner{b: data}
	var seen uint32
	ok := s.object(func(key string, _ bool) bool {
		if bit := keyBit(key, dataKeys); bit != 0 {
			if seen&bit != 0 {
				return false
			}
			seen |= bit
		}
		switch key {
		case "operationName":
			return s.strField(&ev.OperationName)
		case "status":
			return s.strField(&ev.Status)
		case "resourceUri":
			return s.strField(&ev.ResourceURI)
		case "resourceProvider":
			return s.strField(&ev.ResourceProvider)
		case "subscriptionId":
			return s.strField(&ev.SubscriptionID)
		case "tenantId":
			return s.strField(&ev.TenantID)
		case "correlationId":
			return s.strField(&ev.CorrelationID)
		case "authorization":
			return s.object(func(k string, _ bool) bool {
				switch {
				case k == "action":
					return s.strField(&ev.Action)
				case strings.EqualFold(k, "action"):
					return false
				}
				return s.skip()
			})
		case "claims":
			claims := make(map[string]string, 32)
			var other map[string]bool // claims whose value was not a string
			if !s.object(func(k string, _ bool) bool {
				if s.i < len(s.b) && s.b[s.i] == '"' {
					var v string
					if !s.strField(&v) {
						return false
					}
					claims[k] = v
					delete(other, k) // a later duplicate wins, as in encoding/json
					return true
				}
				raw, ok := s.rawSpan()
				if ok {
					claims[k] = flexString(raw)
					if other == nil {
						other = map[string]bool{}
					}
					other[k] = true
				}
				return ok
			}) {
				return false
			}
			if len(claims) > 0 {
				ev.Claims = claims
			}
			ev.Principal = principalOf(claims, func(n string) bool { return !other[n] })
			return true
		}
		if foldsToKnown(key, dataKeys...) {
			return false
		}
		return s.skip()
	})
	s.ws()
	return ok && s.i == len(s.b)
}

// keyBit is the bit of key in names (exact match), 0 when it is none.
func keyBit(key string, names []string) uint32 {
	for i, n := range names {
		if key == n {
			return 1 << i
		}
	}
	return 0
}

// splitArray returns the elements of a JSON array when the whole body is
// valid as far as the scanner can tell; otherwise ParseBatch's decoder
// walks it (and keeps what precedes a fault).
func splitArray(body []byte) ([][]byte, bool) {
	s := &scanner{b: body}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '[' {
		return nil, false
	}
	s.i++
	s.ws()
	var out [][]byte
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
	} else {
		for {
			raw, ok := s.rawSpan()
			if !ok {
				return nil, false
			}
			out = append(out, raw)
			s.ws()
			if s.i >= len(s.b) {
				return nil, false
			}
			if s.b[s.i] == ']' {
				s.i++
				break
			}
			if s.b[s.i] != ',' {
				return nil, false
			}
			s.i++
		}
	}
	s.ws()
	return out, s.i == len(s.b)
}
