package httpguard

import (
	"math"
	"sync"
	"time"
)

// maxClients bounds a Limiter's memory: beyond it, idle clients are
// forgotten, and when none is idle new clients share one bucket.
const maxClients = 10_000

type bucket struct {
	tokens float64
	at     time.Time
}

// Limiter is a token bucket per client: Rate tokens a second, at most Burst
// saved up.
type Limiter struct {
	mu      sync.Mutex
	rate    float64
	burst   float64
	now     func() time.Time
	buckets map[string]*bucket
}

// NewLimiter returns a limiter of rate tokens per second and bursts of
// burst; now is the clock (time.Now when nil).
func NewLimiter(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(max(burst, 1)), now: now, buckets: map[string]*bucket{}}
}

// Take spends a token of client's bucket, or says how long until one is
// available.
func (l *Limiter) Take(client string) (time.Duration, bool) { return l.use(client, true) }

// Allowed says whether client has a token (without spending it), or how long
// until it has one.
func (l *Limiter) Allowed(client string) (time.Duration, bool) { return l.use(client, false) }

func (l *Limiter) use(client string, take bool) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.buckets[client]
	if !ok {
		if !take {
			return 0, true // a full bucket
		}
		if len(l.buckets) >= maxClients {
			l.evict(now)
		}
		if len(l.buckets) >= maxClients {
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
		if take {
			b.tokens--
		}
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// evict forgets clients whose bucket has refilled (idle ones).
func (l *Limiter) evict(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.at).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}
