package autopilot

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/plautopilot/autopilot/pkg/httpguard"
)

// Defaults of APIOptions.
const (
	DefaultAPIRate  = 5.0 // requests per second and client
	DefaultAPIBurst = 20
)

// APIOptions guard the HTTP API (APIWith).
type APIOptions struct {
	// Key, when set, must be presented by every request, as the query
	// parameter KeyParam or the x-functions-key header; otherwise 401, and
	// 429 once a client made too many wrong attempts (httpguard.Keys).
	Key string
	// KeyParam is the query parameter carrying Key; "code" when empty.
	KeyParam string
	// Keys, when set, is the key check used instead of Key and KeyParam
	// (shared with the webhook: one count of failed attempts).
	Keys *httpguard.Keys
	// Rate and Burst limit the requests of each client (httpguard.Client:
	// an IPv4 address, an IPv6 /64): Rate per second on average, Burst at
	// once; beyond it 429 with Retry-After. Zero takes DefaultAPIRate and
	// DefaultAPIBurst; a negative Rate turns the limit off.
	Rate  float64
	Burst int
}

// guardAPI checks the key, then the client's rate, then serves next.
func guardAPI(next http.Handler, o APIOptions, now func() time.Time) http.Handler {
	if o.Keys == nil && o.Key != "" {
		o.Keys = httpguard.NewKeys(o.Key, o.KeyParam, now, nil)
	}
	if o.Rate == 0 {
		o.Rate = DefaultAPIRate
	}
	if o.Burst <= 0 {
		o.Burst = DefaultAPIBurst
	}
	lim := httpguard.NewLimiter(o.Rate, o.Burst, now)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Keys != nil && !o.Keys.Check(w, r) {
			return
		}
		if o.Rate > 0 {
			if wait, ok := lim.Take(httpguard.ClientOf(r)); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				writeErr(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit: at most %g requests per second per client (burst %d); retry in %s", o.Rate, o.Burst, wait.Round(time.Millisecond)))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
