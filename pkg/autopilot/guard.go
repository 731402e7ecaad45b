package autopilot

import (
	"crypto/subtle"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of APIOptions.
const (
	DefaultAPIRate  = 5.0 // requests per second and client
	DefaultAPIBurst = 20
	// maxAPIClients bounds the rate limiter's memory: beyond it, idle
	// clients are forgotten, and when none is idle new clients share one
	// bucket.
	maxAPIClients = 10_000
)

// APIOptions guard the HTTP API (APIWith).
type APIOptions struct {
	// Key, when set, must be presented by every request, as the query
	// parameter KeyParam or the x-functions-key header; otherwise 401.
	Key string
	// KeyParam is the query parameter carrying Key; "code" when empty.
	KeyParam string
	// Rate and Burst limit the requests of each client (by remote address):
	// Rate per second on average, Burst at once; beyond it 429 with
	// Retry-After. Zero takes DefaultAPIRate and DefaultAPIBurst; a negative
	// Rate turns the limit off.
	Rate  float64
	Burst int
}

// guardAPI checks the key, then the client's rate, then serves next.
func guardAPI(next http.Handler, o APIOptions, now func() time.Time) http.Handler {
	if o.KeyParam == "" {
		o.KeyParam = "code"
	}
	if o.Rate == 0 {
		o.Rate = DefaultAPIRate
	}
	if o.Burst <= 0 {
		o.Burst = DefaultAPIBurst
	}
	lim := &limiter{rate: o.Rate, burst: float64(o.Burst), now: now, buckets: map[string]*bucket{}}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Key != "" && !keyOK(r, o.KeyParam, o.Key) {
			writeErr(w, http.StatusUnauthorized, fmt.Sprintf("missing or wrong key (query parameter %q or header x-functions-key)", o.KeyParam))
			return
		}
		if o.Rate > 0 {
			if wait, ok := lim.take(clientOf(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				writeErr(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit: at most %g requests per second per client (burst %d); retry in %s", o.Rate, o.Burst, wait.Round(time.Millisecond)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func keyOK(r *http.Request, param, key string) bool {
	got := r.URL.Query().Get(param)
	if got == "" {
		got = r.Header.Get("x-functions-key")
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(key)) == 1
}

// clientOf is the client's address without the port. Forwarding headers
// are not trusted: anyone can set them.
func clientOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type bucket struct {
	tokens float64
	at     time.Time
}

// limiter is a token bucket per client.
type limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

// take spends a token of client's bucket, or says how long until one is
// available.
func (l *limiter) take(client string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[client]
	if !ok {
		if len(l.buckets) >= maxAPIClients {
			l.evict(now)
		}
		if len(l.buckets) >= maxAPIClients {
			client = "" // all busy: newcomers share one bucket
			b = l.buckets[client]
		}
		if b == nil {
			b = &bucket{tokens: l.burst, at: now}
			l.buckets[client] = b
		}
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
	}
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// evict forgets clients whose bucket has refilled (idle ones).
func (l *limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
