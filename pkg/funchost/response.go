package funchost

import (
	"encoding/json"
	"strconv"
)

// Response is the handler's answer to one invocation. It is encoded as
// {"Outputs": {...}, "Logs": [...], "ReturnValue": ...}: Outputs and Logs
// are always present (an empty object and array when nil), ReturnValue is
// null when nil.
//
// Output values are sent to the host as JSON. Prefer objects: the host
// decodes an output string that happens to be valid base64 ("test") into
// bytes unless the binding says "dataType": "binary". A collector output
// (serviceBus, eventGrid) given a slice sends one message per element.
type Response struct {
	Outputs     map[string]any
	Logs        []string
	ReturnValue any
}

// Log appends a line to the invocation log the host keeps.
func (r *Response) Log(line string) { r.Logs = append(r.Logs, line) }

// SetOutput sets the value of an output binding.
func (r *Response) SetOutput(binding string, v any) {
	if r.Outputs == nil {
		r.Outputs = map[string]any{}
	}
	r.Outputs[binding] = v
}

// MarshalJSON writes the PascalCase envelope the host reads.
func (r Response) MarshalJSON() ([]byte, error) {
	out := struct {
		Outputs     map[string]any `json:"Outputs"`
		Logs        []string       `json:"Logs"`
		ReturnValue any            `json:"ReturnValue"`
	}{r.Outputs, r.Logs, r.ReturnValue}
	if out.Outputs == nil {
		out.Outputs = map[string]any{}
	}
	if out.Logs == nil {
		out.Logs = []string{}
	}
	return json.Marshal(out)
}

// HTTPResponse is the value of an http output binding. It is encoded as
// {"statusCode": "200", "body": ..., "headers": {...}}: the host wants the
// status as a string and rejects a bare string in place of the object.
type HTTPResponse struct {
	StatusCode int
	// Body is sent as JSON: a struct or map becomes a JSON body; a string
	// or []byte is sent as that text (set a Content-Type header).
	Body    any
	Headers map[string]string
}

// MarshalJSON writes the object the host's http output binding expects.
func (h HTTPResponse) MarshalJSON() ([]byte, error) {
	code := h.StatusCode
	if code == 0 {
		code = 200
	}
	body := h.Body
	if b, ok := body.([]byte); ok {
		body = string(b) // not base64, which encoding/json would produce
	}
	out := struct {
		StatusCode string            `json:"statusCode"`
		Body       any               `json:"body,omitempty"`
		Headers    map[string]string `json:"headers,omitempty"`
	}{strconv.Itoa(code), body, h.Headers}
	return json.Marshal(out)
}
