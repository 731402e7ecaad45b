package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Stats counts the requests the sandbox received. Every request counts,
// including those answered with an injected fault or a throttling 429.
type Stats struct {
	Total   int
	Reads   int // GET, including LRO polls
	Writes  int // PUT, PATCH, POST
	Deletes int
	// ByOperation counts by "METHOD Resource/type": "GET", "LIST" (a
	// collection GET), "POLL" (an LRO status GET), "PUT", "DELETE".
	ByOperation map[string]int
	// ByAPI counts by SDK method ("WorkspacePrivateEndpointConnectionsClient.BeginCreateOrUpdate").
	ByAPI map[string]int
	// Throttled counts 429s answered by the token buckets.
	Throttled int
	// Faults counts injected faults by HTTP status.
	Faults map[int]int
}

func newStats() Stats {
	return Stats{ByOperation: map[string]int{}, ByAPI: map[string]int{}, Faults: map[int]int{}}
}

// InjectedFaults is the number of injected faults of any status.
func (st Stats) InjectedFaults() int {
	n := 0
	for _, v := range st.Faults {
		n += v
	}
	return n
}

// Stats returns a copy of the counters.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.ByOperation, c.ByAPI, c.Faults = map[string]int{}, map[string]int{}, map[int]int{}
	for k, v := range s.stats.ByOperation {
		c.ByOperation[k] = v
	}
	for k, v := range s.stats.ByAPI {
		c.ByAPI[k] = v
	}
	for k, v := range s.stats.Faults {
		c.Faults[k] = v
	}
	return c
}

// call is one classified request.
type call struct {
	req    *http.Request
	method string
	path   string // resource ID or collection path, fake suffixes stripped
	expand string
	api    string
	op     string
	class  string // read | write | delete
	sub    string
	cond   cond
	poll   bool // a status poll of a long-running operation
}

const (
	fakePollSuffix = "/get/fake/status"
	fakePageMarker = "/fake_page_"
)

func classify(req *http.Request) *call {
	c := &call{req: req, method: req.Method, path: req.URL.Path}
	poll := strings.HasSuffix(c.path, fakePollSuffix)
	c.path = strings.TrimSuffix(c.path, fakePollSuffix)
	if i := strings.LastIndex(c.path, fakePageMarker); i >= 0 {
		c.path = c.path[:i]
	}
	c.expand = req.URL.Query().Get("$expand")
	if v, ok := req.Context().Value(runtime.CtxAPINameKey{}).(string); ok {
		c.api = v
	}
	c.sub = core.SubscriptionOf(c.path)
	c.cond = cond{ifMatch: req.Header.Get("If-Match"), ifNoneMatch: req.Header.Get("If-None-Match")}
	typ, coll := typeOf(c.path)
	if typ == "" {
		typ = c.path
	}
	verb := req.Method
	switch {
	case poll:
		verb, c.class, c.poll = "POLL", "read", true
	case req.Method == http.MethodGet || req.Method == http.MethodHead:
		c.class = "read"
		if coll {
			verb = "LIST"
		}
	case req.Method == http.MethodDelete:
		c.class = "delete"
	default:
		c.class = "write"
	}
	c.op = verb + " " + typ
	return c
}

// transport routes requests to the fake server factory of their provider,
// behind latency, throttling, fault injection and accounting.
type transport struct{ s *Sandbox }

// Do implements policy.Transporter.
func (t *transport) Do(req *http.Request) (*http.Response, error) {
	s := t.s
	c := classify(req)
	if s.latency > 0 {
		s.clock.Sleep(s.latency)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.count(c)
	if aerr := s.takeToken(c); aerr != nil {
		s.stats.Throttled++
		return aerr.response(req), nil
	}
	if f, ok := s.failingOps[strings.ToLower(c.path)]; ok && c.poll {
		delete(s.failingOps, strings.ToLower(c.path))
		return f.failedPoll(req), nil
	}
	if aerr, lro := s.injectFault(c); aerr != nil {
		s.stats.Faults[aerr.Status]++
		if !lro {
			return aerr.response(req), nil
		}
		// accepted, not applied; the first poll reports the failure
		s.failingOps[strings.ToLower(c.path)] = aerr
		return accepted(req), nil
	}
	lp := strings.ToLower(c.path)
	var inner interface {
		Do(*http.Request) (*http.Response, error)
	}
	switch {
	case strings.Contains(lp, "/providers/microsoft.healthcareapis/"):
		inner = s.hc
	case strings.Contains(lp, "/providers/microsoft.network/privatednszones"):
		inner = s.dns
	default:
		inner = s.nw
	}
	// The SDK's fake servers dispatch in a goroutine and return early when
	// the request's context ends, leaving that goroutine reading s.cur and
	// the state after the lock is released (a nil-pointer panic seen under
	// the load test). The in-memory dispatch is instant: it runs to the end
	// whatever the caller's context does.
	s.cur = c
	resp, err := inner.Do(req.WithContext(context.WithoutCancel(req.Context())))
	s.cur = nil
	var aerr *armError
	if errors.As(err, &aerr) {
		return aerr.response(req), nil
	}
	return resp, err
}

func (s *Sandbox) count(c *call) {
	s.stats.Total++
	switch c.class {
	case "read":
		s.stats.Reads++
	case "write":
		s.stats.Writes++
	case "delete":
		s.stats.Deletes++
	}
	s.stats.ByOperation[c.op]++
	if c.api != "" {
		s.stats.ByAPI[c.api]++
	}
}

// response renders the error as ARM does: status, JSON error body and, for
// throttling, Retry-After.
func (e *armError) response(req *http.Request) *http.Response {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{"code": e.Code, "message": e.Message}})
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("x-ms-failure-cause", "gateway")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status)),
		StatusCode:    e.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// fakePollerStatus is the header the SDK's fake pollers read the state of
// an operation from (azcore internal/shared.HeaderFakePollerStatus).
const fakePollerStatus = "Fake-Poller-Status"

// accepted answers a write ARM took on as a long-running operation: 200
// for a PUT (the operation runs on, as the Azure-AsyncOperation header of a
// real answer says; some APIs, such as FHIR connections, allow only 200
// there), 202 Accepted otherwise.
func accepted(req *http.Request) *http.Response {
	h := http.Header{}
	h.Set(fakePollerStatus, "InProgress")
	status := http.StatusAccepted
	if req.Method == http.MethodPut {
		status = http.StatusOK
	}
	return &http.Response{Status: fmt.Sprintf("%d %s", status, http.StatusText(status)), StatusCode: status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(nil)), Request: req}
}

// failedPoll answers the status poll of an operation that failed the way
// ARM reports it: 200, status Failed, the error in the body.
func (e *armError) failedPoll(req *http.Request) *http.Response {
	body, _ := json.Marshal(map[string]any{"status": "Failed", "error": map[string]any{"code": e.Code, "message": e.Message}})
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set(fakePollerStatus, "Failed")
	return &http.Response{Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req}
}

// ---- token buckets ----

type bucket struct {
	tokens float64
	last   time.Time
	cfg    Bucket
}

func (b *bucket) take(now time.Time) (bool, time.Duration) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(b.cfg.Burst), b.tokens+el*b.cfg.PerSecond)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if b.cfg.PerSecond <= 0 {
		return false, time.Hour
	}
	return false, time.Duration((1 - b.tokens) / b.cfg.PerSecond * float64(time.Second))
}

func orDefault(b, d Bucket) Bucket {
	if b.Burst <= 0 {
		b.Burst = d.Burst
	}
	if b.PerSecond <= 0 {
		b.PerSecond = d.PerSecond
	}
	return b
}

func (s *Sandbox) takeToken(c *call) *armError {
	if s.throttle.Disabled || c.sub == "" {
		return nil
	}
	key := strings.ToLower(c.sub) + "/" + c.class
	b := s.buckets[key]
	if b == nil {
		var cfg Bucket
		switch c.class {
		case "read":
			cfg = orDefault(s.throttle.Reads, ARMReads)
		case "delete":
			cfg = orDefault(s.throttle.Deletes, ARMDeletes)
		default:
			cfg = orDefault(s.throttle.Writes, ARMWrites)
		}
		b = &bucket{tokens: float64(cfg.Burst), last: s.clock.Now(), cfg: cfg}
		s.buckets[key] = b
	}
	ok, wait := b.take(s.clock.Now())
	if ok {
		return nil
	}
	if wait < time.Second {
		wait = time.Second // Retry-After has whole seconds
	}
	return &armError{Status: http.StatusTooManyRequests, Code: "SubscriptionRequestsThrottled", RetryAfter: wait,
		Message: fmt.Sprintf("Number of '%s' requests for subscription '%s' exceeded. Please try again after '%d' seconds.", c.class, c.sub, int(math.Ceil(wait.Seconds())))}
}

// ---- faults ----

var defaultCodes = map[int]string{
	http.StatusTooManyRequests:     "TooManyRequests",
	http.StatusInternalServerError: "InternalServerError",
	http.StatusConflict:            "AnotherOperationInProgress",
	http.StatusForbidden:           "AuthorizationFailed",
	http.StatusNotFound:            "ResourceNotFound",
	http.StatusPreconditionFailed:  "PreconditionFailed",
	http.StatusServiceUnavailable:  "ServiceUnavailable",
	http.StatusBadRequest:          "BadRequest",
}

func faultError(status int, code, msg string, retryAfter time.Duration, c *call) *armError {
	if code == "" {
		code = defaultCodes[status]
		if code == "" {
			code = strings.ReplaceAll(http.StatusText(status), " ", "")
		}
	}
	if msg == "" {
		msg = fmt.Sprintf("injected fault on %s %s", c.method, c.path)
		if status == http.StatusForbidden {
			msg = fmt.Sprintf("The client does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. (injected)", c.op, c.path)
		}
	}
	if status == http.StatusTooManyRequests && retryAfter <= 0 {
		retryAfter = time.Second
	}
	return &armError{Status: status, Code: code, Message: msg, RetryAfter: retryAfter}
}

func (r FaultRule) matches(c *call) bool {
	if r.Method != "" && !strings.EqualFold(r.Method, c.method) {
		return false
	}
	if r.ID != "" && !strings.Contains(strings.ToLower(c.path), strings.ToLower(r.ID)) {
		return false
	}
	if r.Operation != "" {
		o := strings.ToLower(r.Operation)
		if !strings.Contains(strings.ToLower(c.op), o) && !strings.Contains(strings.ToLower(c.api), o) {
			return false
		}
	}
	return true
}

// injectFault returns the fault to answer c with, if any, and whether it
// is an LRO fault (the write goes through to the server, whose
// long-running operation then fails).
func (s *Sandbox) injectFault(c *call) (*armError, bool) {
	for i, r := range s.faults.Rules {
		if !r.matches(c) || r.LRO && c.class == "read" {
			continue
		}
		s.ruleHits[i]++
		n := s.ruleHits[i]
		if n <= r.Skip || (r.Count > 0 && n > r.Skip+r.Count) {
			continue
		}
		return faultError(r.Status, r.Code, r.Message, time.Duration(r.RetryAfter), c), r.LRO
	}
	for _, f := range s.faults.Random {
		if f.Method != "" && !strings.EqualFold(f.Method, c.method) {
			continue
		}
		if f.LRO && c.class == "read" {
			continue
		}
		if f.Match != "" && !(FaultRule{Operation: f.Match}).matches(c) && !strings.Contains(strings.ToLower(c.path), strings.ToLower(f.Match)) {
			continue
		}
		if s.rng.Float64() < f.Rate {
			return faultError(f.Status, f.Code, "", time.Duration(f.RetryAfter), c), f.LRO
		}
	}
	return nil, false
}
