package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/funchost"
	"github.com/plautopilot/autopilot/pkg/redact"
	"github.com/rs/zerolog"
)

// FunctionHandler runs one function for one invocation. The logger in ctx
// (zerolog.Ctx) carries the invocation id and the function name. Returning
// an error fails the invocation: the host abandons a Service Bus message
// (it comes back with DeliveryCount+1) and answers Event Grid with 500 (it
// redelivers), so an error must mean "try again or dead-letter", never
// "handled".
type FunctionHandler func(ctx context.Context, inv *funchost.Invocation) (*funchost.Response, error)

// functions maps each function name (its folder under functions/, matched
// case-sensitively) to its handler.
func functions(a *app) map[string]FunctionHandler {
	return map[string]FunctionHandler{
		fnResourceEvents: a.resourceEvents,
		fnReconcile:      a.reconcile,
		fnVerify:         a.verify,
		fnSweep:          a.sweep,
		fnAPI:            a.api,
	}
}

const (
	// maxBodyBytes caps an invocation body. Event Grid events are at most
	// 1 MB and standard Service Bus messages 256 KB; the host's JSON
	// encoding roughly doubles a doubly quoted body.
	maxBodyBytes = 8 << 20
	// maxLoggedBody caps how much of a body that cannot be decoded is
	// written to the log.
	maxLoggedBody = 64 << 10
)

type server struct {
	fns   map[string]FunctionHandler
	names string // for "unknown function" messages
	log   zerolog.Logger
}

// newServer returns the custom handler's HTTP handler: "/" answers the
// host's readiness probe, "POST /<Function>" runs a function.
func newServer(fns map[string]FunctionHandler, log zerolog.Logger) http.Handler {
	names := make([]string, 0, len(fns))
	for n := range fns {
		names = append(names, n)
	}
	slices.Sort(names)
	return &server{fns: fns, names: strings.Join(names, ", "), log: log}
}

// errorEnvelope is the body of a failed invocation: the usual envelope (the
// host ignores Outputs of a failed invocation) plus the error itself.
type errorEnvelope struct {
	Outputs     map[string]any `json:"Outputs"`
	Logs        []string       `json:"Logs"`
	ReturnValue any            `json:"ReturnValue"`
	Error       string         `json:"Error"`
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" {
		// Readiness: the host counts any answer.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "ok\n")
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	id := r.Header.Get(funchost.HeaderInvocationID)
	log := s.log.With().Str("invocationId", id).Str("function", name).Logger()

	fn, ok := s.fns[name]
	if !ok {
		msg := fmt.Sprintf("%s: no such function (functions: %s)", name, s.names)
		log.Warn().Str("method", r.Method).Msg(msg)
		writeError(w, http.StatusNotFound, msg, nil)
		return
	}
	if r.Method != http.MethodPost {
		msg := fmt.Sprintf("%s: method %s not allowed, the host invokes functions with POST", name, r.Method)
		log.Warn().Msg(msg)
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, http.StatusMethodNotAllowed, msg, nil)
		return
	}

	start := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		status := http.StatusBadRequest
		msg := fmt.Sprintf("%s: body: read: %v", name, err)
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			status = http.StatusRequestEntityTooLarge
			msg = fmt.Sprintf("%s: body: larger than the %d bytes limit", name, maxBodyBytes)
		}
		logBody(log.Error(), body).Int("status", status).Msg(msg)
		writeError(w, status, msg, nil)
		return
	}

	inv, err := funchost.Decode(id, name, body)
	if err == nil {
		var resp *funchost.Response
		resp, err = call(log.WithContext(r.Context()), fn, inv)
		if err == nil {
			s.writeResponse(w, log, name, resp, start)
			return
		}
		var logs []string
		if resp != nil {
			logs = resp.Logs
		}
		s.fail(w, log, err, body, logs, start)
		return
	}
	s.fail(w, log, err, body, nil, start)
}

// call runs fn, turning a panic into an error so one bad invocation cannot
// take the process (and every other invocation in flight) down.
func call(ctx context.Context, fn FunctionHandler, inv *funchost.Invocation) (resp *funchost.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			zerolog.Ctx(ctx).Error().Str("stack", string(debug.Stack())).Msgf("panic: %v", p)
			err = fmt.Errorf("%s: panic: %v", inv.Function, p)
		}
	}()
	return fn(ctx, inv)
}

// statusOf maps a function's error to the HTTP status the host sees. Any
// non-2xx fails the invocation; the code tells a reader of the logs why.
func statusOf(err error) int {
	if _, ok := errors.AsType[*funchost.DecodeError](err); ok {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// jobError marks the failure of an invocation that was running a job, so
// that the failure line names the job and its message.
type jobError struct {
	JobID, MessageID string
	Err              error
}

func (e *jobError) Error() string { return e.Err.Error() }
func (e *jobError) Unwrap() error { return e.Err }

// fail answers a failed invocation and writes its one failure line. The
// host drops the body and Logs of a non-2xx answer (DefaultHttpWorkerService
// calls EnsureSuccessStatusCode before reading them), so this line, at
// error level on stderr (hostLogWriter), is where the reason reaches the
// host's logs and Application Insights: function, invocationId, jobId and
// messageId when a job was running, status, and the reason as "error".
func (s *server) fail(w http.ResponseWriter, log zerolog.Logger, err error, body []byte, logs []string, start time.Time) {
	status := statusOf(err)
	if je, ok := errors.AsType[*jobError](err); ok {
		if je.JobID != "" {
			log = log.With().Str("jobId", je.JobID).Logger()
		}
		if je.MessageID != "" {
			log = log.With().Str("messageId", je.MessageID).Logger()
		}
	}
	ev := log.Error()
	if status == http.StatusBadRequest {
		// The body is evidence: keep it, so nothing is lost silently.
		ev = logBody(ev, body)
	}
	ev.Err(err).Int("status", status).Dur("duration", time.Since(start)).Msg("invocation failed")
	writeError(w, status, err.Error(), logs)
}

func (s *server) writeResponse(w http.ResponseWriter, log zerolog.Logger, name string, resp *funchost.Response, start time.Time) {
	if resp == nil {
		resp = &funchost.Response{}
	}
	out, err := json.Marshal(resp)
	if err != nil {
		msg := fmt.Sprintf("%s: encode response: %v", name, err)
		log.Error().Int("status", http.StatusInternalServerError).Msg(msg)
		writeError(w, http.StatusInternalServerError, msg, resp.Logs)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(out)
	log.Info().Int("status", http.StatusOK).Dur("duration", time.Since(start)).Msg("invocation done")
}

// writeError answers a failed invocation; msg is also appended to the logs.
func writeError(w http.ResponseWriter, status int, msg string, logs []string) {
	env := errorEnvelope{
		Outputs: map[string]any{},
		Logs:    append(slices.Clip(logs), msg),
		Error:   msg,
	}
	out, err := json.Marshal(env)
	if err != nil { // cannot happen: strings only
		out = []byte(`{"Error":"encode error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(out)
}

// logBody adds the raw body to a log event, redacted (function keys,
// tokens, SAS signatures, connection strings) and capped at maxLoggedBody.
func logBody(ev *zerolog.Event, body []byte) *zerolog.Event {
	logged, cut := redact.Cap(body, maxLoggedBody)
	return ev.Str("body", logged).Int("bodyBytes", len(body)).Bool("bodyTruncated", cut)
}
