package loadtest

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// FaultProfile is what ARM does on a bad day, as sandbox random faults for
// a share rate of the calls. Reads: 429 (37% of the faults asking 2 s of
// Retry-After, 3% asking 20 s: longer than azcore's 15 s cap, inside a
// job's budget), 500 and 503 (25% each) and slow calls past the client
// timeout (10%, added by latencyTransport, see SlowShare). Writes (PUT):
// 429 (27% at 2 s, 3% at 20 s), 500 and 503 (15% each), 409
// AnotherOperationInProgress (20%), long-running operations that fail after
// ARM accepted them (10%: half Conflict, half InternalServerError) and slow
// calls (10%). Throttling and transient 5xx are the bulk of what ARM
// returns under load; hung calls and failed operations are the rarer,
// costlier tail.
func FaultProfile(rate float64) []sandbox.RandomFault {
	return []sandbox.RandomFault{
		{Method: http.MethodGet, Status: 429, Rate: rate * 0.37, RetryAfter: sandbox.Duration(2 * time.Second)},
		{Method: http.MethodGet, Status: 429, Rate: rate * 0.03, RetryAfter: sandbox.Duration(20 * time.Second)},
		{Method: http.MethodGet, Status: 500, Rate: rate * 0.25},
		{Method: http.MethodGet, Status: 503, Rate: rate * 0.25},
		{Method: http.MethodPut, Status: 429, Rate: rate * 0.27, RetryAfter: sandbox.Duration(2 * time.Second)},
		{Method: http.MethodPut, Status: 429, Rate: rate * 0.03, RetryAfter: sandbox.Duration(20 * time.Second)},
		{Method: http.MethodPut, Status: 500, Rate: rate * 0.15},
		{Method: http.MethodPut, Status: 503, Rate: rate * 0.15},
		{Method: http.MethodPut, Status: 409, Code: "AnotherOperationInProgress", Rate: rate * 0.20},
		{Method: http.MethodPut, Status: 200, Code: "Conflict", Rate: rate * 0.05, LRO: true},
		{Method: http.MethodPut, Status: 200, Code: "InternalServerError", Rate: rate * 0.05, LRO: true},
	}
}

// SlowShare is the share of the fault rate that latencyTransport makes slow
// (past the client timeout), reads and writes alike.
const SlowShare = 0.10

// latencyTransport adds a uniformly drawn latency in [min, max] to every
// call, slept on the simulated clock, before the sandbox answers. With a
// slowRate, SlowShare of that share of calls is slow: the client gives up
// after timeout
// and gets a timeout error, while the sandbox still acts on a write (the
// answer is lost, not the request: the worst case for a retry).
type latencyTransport struct {
	inner    policy.Transporter
	clock    *SimClock
	min, max time.Duration
	slowRate float64
	timeout  time.Duration
	mu       sync.Mutex
	rng      *rand.Rand
	slow     int
	noSlow   bool
}

// errTryTimeout is what a client sees when a try runs past its timeout.
type errTryTimeout struct{ after time.Duration }

func (e errTryTimeout) Error() string {
	return "no answer within the client's try timeout of " + e.after.String()
}
func (errTryTimeout) Timeout() bool   { return true }
func (errTryTimeout) Temporary() bool { return true }

func (t *latencyTransport) Do(req *http.Request) (*http.Response, error) {
	d := t.min
	t.mu.Lock()
	if t.max > t.min {
		d += time.Duration(t.rng.Int64N(int64(t.max - t.min)))
	}
	share := t.slowRate * SlowShare
	// status polls of long-running operations are never slow here: the
	// sandbox's fake pollers answer each poll once
	slow := !t.noSlow && share > 0 && !strings.HasSuffix(req.URL.Path, "/get/fake/status") && t.rng.Float64() < share
	if slow {
		t.slow++
	}
	t.mu.Unlock()
	if !slow {
		t.clock.Sleep(d)
		return t.inner.Do(req)
	}
	t.clock.Sleep(t.timeout)
	resp, err := t.inner.Do(req)
	if err == nil && resp.Body != nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return nil, errTryTimeout{after: t.timeout}
}

func (t *latencyTransport) slowCalls() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.slow
}

func (t *latencyTransport) stopSlow() {
	t.mu.Lock()
	t.noSlow = true
	t.mu.Unlock()
}

// Limiter is the client side of ARM's throttling: an azcore policy (pass it
// in ClientOptions.PerCallPolicies) that
//   - takes a token from a per-subscription bucket (reads, writes and
//     deletes separately, like ARM) before each request, sleeping on the
//     simulated clock until one is free, so that the server's bucket is used
//     fully but rarely refuses;
//   - retries 408/429/500/502/503/504 like azcore's retry policy (Retry-After
//     honoured up to MaxRetryDelay, else exponential back-off), sleeping on
//     the simulated clock (azcore's own retry sleeps in wall time, so the
//     client options disable it).
//
// A request is retried only when ARM did not act on it (an error status), so
// no work is duplicated; what is still failing after MaxRetries goes back to
// the adapter as a classified error and the job is rescheduled.
type Limiter struct {
	clock *SimClock
	// Reads, Writes and Deletes are the client-side buckets' settings.
	Reads, Writes, Deletes sandbox.Bucket
	MaxRetries             int
	RetryDelay             time.Duration
	MaxRetryDelay          time.Duration
	// OnWrite is called after each successful write (PUT/PATCH/POST/DELETE
	// answered 2xx) with the request's context: the fault run uses it to
	// kill a worker mid-job.
	OnWrite func(ctx context.Context)

	mu      sync.Mutex
	buckets map[string]*clientBucket
	stats   LimiterStats
	reads   map[string]int // requests sent, by subscription
	writes  map[string]int // writes and deletes sent, by subscription
}

// BySubscription returns the writes (deletes included) and reads sent per
// subscription, retries included.
func (l *Limiter) BySubscription() (writes, reads map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	writes, reads = map[string]int{}, map[string]int{}
	for k, v := range l.writes {
		writes[k] = v
	}
	for k, v := range l.reads {
		reads[k] = v
	}
	return writes, reads
}

// LimiterStats counts what the limiter did.
type LimiterStats struct {
	Waits      int           `json:"waits"`      // requests that waited for a client-side token
	WaitTime   time.Duration `json:"waitTime"`   // total simulated wait for tokens
	Retries    int           `json:"retries"`    // requests re-sent after a retryable status
	Throttled  int           `json:"throttled"`  // 429 answers seen
	RetryAfter time.Duration `json:"retryAfter"` // total simulated back-off slept
}

type clientBucket struct {
	tokens float64
	last   time.Time
	cfg    sandbox.Bucket
}

// NewLimiter returns a Limiter with buckets slightly inside ARM's published
// limits (5% less burst, same rate) so jittered latencies rarely push the
// server's bucket over.
func NewLimiter(clock *SimClock) *Limiter {
	inside := func(b sandbox.Bucket) sandbox.Bucket {
		return sandbox.Bucket{Burst: b.Burst * 95 / 100, PerSecond: b.PerSecond}
	}
	return &Limiter{clock: clock, Reads: inside(sandbox.ARMReads), Writes: inside(sandbox.ARMWrites), Deletes: inside(sandbox.ARMDeletes),
		MaxRetries: 3, RetryDelay: time.Second, MaxRetryDelay: 15 * time.Second, buckets: map[string]*clientBucket{},
		reads: map[string]int{}, writes: map[string]int{}}
}

// Stats returns a copy of the counters.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

func class(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "read"
	case http.MethodDelete:
		return "delete"
	}
	return "write"
}

// reserve takes a token now or reserves the next one and says how long to
// wait for it (the bucket may go negative: reservations queue up in order).
func (l *Limiter) reserve(sub, cls string) time.Duration {
	if sub == "" {
		return 0
	}
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if cls == "read" {
		l.reads[strings.ToLower(sub)]++
	} else {
		l.writes[strings.ToLower(sub)]++
	}
	key := strings.ToLower(sub) + "/" + cls
	b := l.buckets[key]
	if b == nil {
		cfg := l.Writes
		switch cls {
		case "read":
			cfg = l.Reads
		case "delete":
			cfg = l.Deletes
		}
		b = &clientBucket{tokens: float64(cfg.Burst), last: now, cfg: cfg}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(float64(b.cfg.Burst), b.tokens+el*b.cfg.PerSecond)
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	wait := time.Duration(-b.tokens / b.cfg.PerSecond * float64(time.Second))
	l.stats.Waits++
	l.stats.WaitTime += wait
	return wait
}

var retryStatus = map[int]bool{408: true, 429: true, 500: true, 502: true, 503: true, 504: true}

// Do implements policy.Policy.
func (l *Limiter) Do(req *policy.Request) (*http.Response, error) {
	raw := req.Raw()
	sub := core.SubscriptionOf(raw.URL.Path)
	cls := class(raw.Method)
	for try := 0; ; try++ {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		l.clock.Sleep(l.reserve(sub, cls))
		resp, err := req.Clone(raw.Context()).Next()
		if err != nil || raw.Context().Err() != nil {
			return resp, err
		}
		if resp.StatusCode < 300 && cls != "read" && l.OnWrite != nil {
			l.OnWrite(raw.Context())
		}
		if !retryStatus[resp.StatusCode] || try >= l.MaxRetries {
			if resp.StatusCode == http.StatusTooManyRequests {
				l.mu.Lock()
				l.stats.Throttled++
				l.mu.Unlock()
			}
			return resp, nil
		}
		delay := retryAfter(resp)
		if delay > l.MaxRetryDelay {
			return resp, nil // the adapter reports it retryable with RetryAfter
		}
		if delay <= 0 {
			delay = l.RetryDelay * time.Duration(1<<try)
		}
		l.mu.Lock()
		l.stats.Retries++
		l.stats.RetryAfter += delay
		if resp.StatusCode == http.StatusTooManyRequests {
			l.stats.Throttled++
		}
		l.mu.Unlock()
		if resp.Body != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		l.clock.Sleep(delay)
	}
}

func retryAfter(resp *http.Response) time.Duration {
	v := resp.Header.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return time.Duration(s) * time.Second
	}
	return 0 // ARM sends seconds; an HTTP date falls back to exponential back-off
}
