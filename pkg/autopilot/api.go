package autopilot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/plautopilot/autopilot/pkg/jsonlimit"
	"github.com/plautopilot/autopilot/pkg/redact"
)

// maxAPIBody caps an API request body.
const maxAPIBody = 64 << 10

// API returns the HTTP API:
//
//	POST /api/evaluate {"connectionId": "..."}  the decision and plan (dry run)
//	POST /api/verify   {"id": "..."}            202 {"jobId": "..."}
//	GET  /api/status                            JSON, or HTML with Accept: text/html or ?format=html
//	GET  /api/targets                           the estate: JSON, HTML (as status) or ?format=svg
//
// Errors are JSON {"error": "..."}: 400 naming the field for bad input, 401
// without the key (when one is set), 403 for a subject the policy does not
// govern, 404 for an unknown connection, verification subject or path, 405
// for a wrong method, 429 beyond a client's rate limit.
//
// API is APIWith the default options: no key, the default rate limit.
func (s *Service) API() http.Handler { return s.APIWith(APIOptions{}) }

// APIWith returns the HTTP API guarded by o (key, per-client rate limit).
func (s *Service) APIWith(o APIOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/evaluate", s.apiEvaluate)
	mux.HandleFunc("/api/verify", s.apiVerify)
	mux.HandleFunc("/api/status", s.apiStatus)
	mux.HandleFunc("/api/targets", s.apiTargets)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, fmt.Sprintf("no such API path %s (paths: /api/evaluate, /api/verify, /api/status, /api/targets)", r.URL.Path))
	})
	return guardAPI(mux, o, s.now)
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method {
		return true
	}
	w.Header().Set("Allow", method)
	writeErr(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: method not allowed, use %s", r.Method, r.URL.Path, method))
	return false
}

// decodeBody decodes a JSON object body strictly into v and returns the
// value of the one required string field, or writes a 400 naming it.
func decodeBody(w http.ResponseWriter, r *http.Request, field string, get func() string, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("body: %v", err))
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf(`body: empty; send {"%s": "..."}`, field))
		return false
	}
	if err := jsonlimit.Depth(body, jsonlimit.MaxDepth); err != nil {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf(`body: %v; send {"%s": "..."}`, err, field))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			writeErr(w, http.StatusBadRequest, fmt.Sprintf("field %q: %s is not a %s", te.Field, te.Value, te.Type))
			return false
		}
		writeErr(w, http.StatusBadRequest, fmt.Sprintf(`body: not a JSON object {"%s": "..."}: %v`, field, err))
		return false
	}
	if strings.TrimSpace(get()) == "" {
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("field %q: missing or empty", field))
		return false
	}
	return true
}

// EvaluateRequest is the body of POST /api/evaluate.
type EvaluateRequest struct {
	ConnectionID string `json:"connectionId"`
}

// VerifyRequest is the body of POST /api/verify.
type VerifyRequest struct {
	ID string `json:"id"`
}

// VerifyAccepted is the answer of POST /api/verify.
type VerifyAccepted struct {
	JobID   string `json:"jobId"`
	Subject string `json:"subject"`
}

func (s *Service) apiEvaluate(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	var req EvaluateRequest
	if !decodeBody(w, r, "connectionId", func() string { return req.ConnectionID }, &req) {
		return
	}
	res, err := s.Evaluate(r.Context(), req.ConnectionID)
	switch {
	case errors.Is(err, ErrInvalid):
		writeErr(w, http.StatusBadRequest, `field "connectionId": `+err.Error())
	case errors.Is(err, ErrNotGoverned):
		writeErr(w, http.StatusForbidden, `field "connectionId": `+err.Error())
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, err.Error())
	case err != nil:
		s.log.Error().Err(err).Str("connectionId", redact.String(req.ConnectionID, 300)).Msg("evaluate failed")
		writeErr(w, http.StatusBadGateway, err.Error())
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Service) apiVerify(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodPost) {
		return
	}
	var req VerifyRequest
	if !decodeBody(w, r, "id", func() string { return req.ID }, &req) {
		return
	}
	id, err := s.RequestVerify(r.Context(), req.ID)
	switch {
	case errors.Is(err, ErrInvalid):
		writeErr(w, http.StatusBadRequest, `field "id": `+err.Error())
	case errors.Is(err, ErrNotGoverned):
		writeErr(w, http.StatusForbidden, `field "id": `+err.Error())
	case errors.Is(err, ErrNotFound):
		writeErr(w, http.StatusNotFound, `field "id": `+err.Error())
	case err != nil:
		s.log.Error().Err(err).Str("id", redact.String(req.ID, 300)).Msg("request verification failed")
		writeErr(w, http.StatusServiceUnavailable, err.Error())
	default:
		writeJSON(w, http.StatusAccepted, VerifyAccepted{JobID: id, Subject: strings.TrimSpace(req.ID)})
	}
}

func (s *Service) apiStatus(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, http.MethodGet) {
		return
	}
	st := s.Status()
	if code := r.URL.Query().Get("code"); code != "" {
		st.keyQuery = "&code=" + url.QueryEscape(code)
	}
	switch f := r.URL.Query().Get("format"); {
	case f == "html" || (f == "" && wantsHTML(r.Header.Get("Accept"))):
		var buf bytes.Buffer
		if err := statusPage.Execute(&buf, st); err != nil {
			writeErr(w, http.StatusInternalServerError, "render status page: "+err.Error())
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	case f == "" || f == "json":
		writeJSON(w, http.StatusOK, st)
	default:
		writeErr(w, http.StatusBadRequest, fmt.Sprintf("query parameter \"format\": %q is not json or html", f))
	}
}

// wantsHTML reports whether an Accept header prefers HTML to JSON (a
// browser's does).
func wantsHTML(accept string) bool {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.ToLower(strings.TrimSpace(mt)) {
		case "text/html", "application/xhtml+xml":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{
	"t": func(v any) string {
		if t, ok := v.(interface{ Format(string) string }); ok {
			return t.Format("2006-01-02 15:04:05Z07:00")
		}
		return fmt.Sprint(v)
	},
	"name": func(id string) string {
		if i := strings.LastIndex(strings.TrimRight(id, "/"), "/"); i >= 0 {
			return id[i+1:]
		}
		return id
	},
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Private Link Autopilot status</title>
<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}th{background:#eee}.fail,.failed,.connection\.rejected,.verify\.failed{color:#a00}.pass,.connection\.approved,.link\.created,.zonegroup\.created,.verify\.passed{color:#060}.connection\.left-pending,.retry{color:#8a5a00}.muted{color:#666;font-size:.9em}code{font-size:.9em}</style>
</head><body>
<h1>Private Link Autopilot</h1>
<p>Policy {{.Policy}} (mode {{.Mode}}, sha256 {{.PolicyDigest}}) &middot; generated {{t .Generated}} &middot; <a href="targets?format=html{{.KeyQuery}}">the estate: every target, its connections and VNets</a></p>
<h2>Counters</h2>
<table><tr><th>events</th><th>enqueued</th><th>ignored</th><th>malformed</th><th>reconcile runs</th><th>done</th><th>retried</th><th>failed</th><th>verify runs</th><th>sweeps</th><th>ARM reads</th><th>ARM writes</th></tr>
{{with .Counters}}<tr><td>{{.Events}}</td><td>{{.EventsEnqueued}}</td><td>{{.EventsIgnored}}</td><td>{{.EventsMalformed}}</td><td>{{.ReconcileRuns}}</td><td>{{.ReconcileDone}}</td><td>{{.ReconcileRetried}}</td><td>{{.ReconcileFailed}}</td><td>{{.VerifyRuns}}</td><td>{{.Sweeps}}</td><td>{{.ARMReads}}</td><td>{{.ARMWrites}}</td></tr>{{end}}
</table>
<h2>Decisions</h2>
{{if .Decisions}}<table><tr><th>time</th><th>decision</th><th>target</th><th>connection</th><th>rule</th><th>why</th><th>result</th></tr>
{{range .Decisions}}<tr><td>{{t .Time}}</td><td class="{{.Type}}">{{.Type}}</td><td title="{{.Target}}">{{name .Target}}</td><td title="{{.Subject}}">{{name .Subject}}</td><td>{{.Rule}}</td><td>{{.Reason}}{{if .Condition}}<br><span class="muted">condition: <code>{{.Condition}}</code></span>{{end}}{{if .Description}}<br><span class="muted">told the requester: {{.Description}}</span>{{end}}</td><td{{if eq .Result "failed"}} class="failed"{{end}}>{{.Result}}{{if .Error}}: {{.Error}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>None yet.</p>{{end}}
<h2>VNet links</h2>
{{if .Links}}<table><tr><th>time</th><th>change</th><th>VNet / link</th><th>zone</th><th>target</th><th>rule</th><th>why</th><th>result</th></tr>
{{range .Links}}<tr><td>{{t .Time}}</td><td>{{.Type}}</td><td title="{{.Subject}}">{{name .Subject}}</td><td>{{name .Zone}}</td><td title="{{.Target}}">{{name .Target}}</td><td>{{.Rule}}</td><td>{{.Reason}}</td><td{{if eq .Result "failed"}} class="failed"{{end}}>{{.Result}}{{if .Error}}: {{.Error}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>None yet.</p>{{end}}
<h2>DNS zone groups</h2>
{{if .ZoneGroups}}<table><tr><th>time</th><th>endpoint</th><th>target</th><th>rule</th><th>why</th><th>result</th></tr>
{{range .ZoneGroups}}<tr><td>{{t .Time}}</td><td title="{{.Subject}}">{{name .Subject}}</td><td title="{{.Target}}">{{name .Target}}</td><td>{{.Rule}}</td><td>{{.Reason}}{{if .After}} ({{.After}}){{end}}</td><td{{if eq .Result "failed"}} class="failed"{{end}}>{{.Result}}{{if .Error}}: {{.Error}}{{end}}</td></tr>
{{end}}</table>{{else}}<p>None yet.</p>{{end}}
<h2>Verification</h2>
{{if .Verification}}<table><tr><th>time</th><th>result</th><th>subject</th><th>reason</th></tr>
{{range .Verification}}<tr><td>{{t .Time}}</td><td class="{{.Type}}">{{.Type}}</td><td title="{{.Subject}}">{{name .Subject}}</td><td>{{.Reason}}{{if .Error}}: {{.Error}}{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Reports}}<h3>Reports</h3><table><tr><th>started</th><th>subject</th><th>attempt</th><th>status</th><th>check</th><th>check status</th><th>diagnosis</th></tr>
{{range $r := .Reports}}<tr><td>{{t $r.StartedAt}}</td><td title="{{$r.Subject}}">{{name $r.Subject}}</td><td>{{$r.Attempt}}</td><td class="{{$r.Status}}">{{$r.Status}}</td><td colspan="3"><b>{{$r.Summary}}</b></td></tr>
{{range .Checks}}<tr><td></td><td></td><td></td><td></td><td>{{.Name}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{.Diagnosis}}</td></tr>
{{end}}{{end}}</table>{{else if not .Verification}}<p>None yet.</p>{{end}}
{{if .ReportsError}}<p class="fail">Reports: {{.ReportsError}}</p>{{end}}
<h2>Failed jobs</h2>
{{if .Failures}}<table><tr><th>time</th><th>subject</th><th>reason</th><th>detail</th><th>job</th></tr>
{{range .Failures}}<tr><td>{{t .Time}}</td><td title="{{.Subject}}">{{name .Subject}}</td><td class="fail">{{.Reason}}</td><td>{{.Error}}</td><td>{{.JobID}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
{{if .DeadEvents}}<h2>Dead events</h2><table><tr><th>time</th><th>event</th><th>reason</th><th>bytes</th></tr>
{{range .DeadEvents}}<tr><td>{{t .Time}}</td><td>{{.EventID}}</td><td>{{.Reason}}</td><td>{{.Size}}</td></tr>
{{end}}</table>{{end}}
{{with .LastSweep}}<h2>Last sweep</h2><p>{{t .At}}: {{.Targets}} targets, {{.VNets}} VNets, {{.Enqueued}} jobs enqueued, {{.Reads}} ARM reads{{range .Errors}}<br><span class="fail">{{.}}</span>{{end}}</p>{{end}}
</body></html>
`))
