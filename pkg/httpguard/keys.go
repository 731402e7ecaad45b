package httpguard

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// HeaderFunctionsKey is the header carrying a key, as the Functions host
// reads it.
const HeaderFunctionsKey = "x-functions-key"

// MinKeyLength is the shortest key a setting may give: 32 characters of a
// random key leave a guess no chance, with or without throttling.
const MinKeyLength = 32

// Failed key attempts a client may make: a burst of FailureBurst, then one
// every FailureEvery.
const (
	FailureBurst = 10
	FailureEvery = 6 * time.Second
)

// Keys checks that requests carry the key, as the query parameter Param
// or the x-functions-key header, compared in constant time. Wrong or
// missing keys are throttled per client: after FailureBurst failures a
// client gets 429 with Retry-After, its key not even compared, until its
// budget refills (one attempt per FailureEvery). Every refusal closes the
// connection. A client that presents the key is remembered in Known, whose
// members ConnGuard lets use its headroom.
type Keys struct {
	key, param string
	failures   *Limiter
	known      *Known
}

// NewKeys returns the check of key (param "code" when empty); now is the
// clock (time.Now when nil); known, when not nil, learns the clients that
// present the key.
func NewKeys(key, param string, now func() time.Time, known *Known) *Keys {
	if param == "" {
		param = "code"
	}
	return &Keys{key: key, param: param, known: known,
		failures: NewLimiter(float64(time.Second)/float64(FailureEvery), FailureBurst, now)}
}

// Param is the query parameter the key is read from.
func (k *Keys) Param() string { return k.param }

// Check reports whether r carries the key. When it does not, Check has
// answered: 401, or 429 while the client is throttled, both as JSON
// {"error": ...} with Connection: close.
func (k *Keys) Check(w http.ResponseWriter, r *http.Request) bool {
	client := ClientOf(r)
	if wait, ok := k.failures.Allowed(client); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		refuse(w, http.StatusTooManyRequests, fmt.Sprintf("too many wrong keys from this client: at most %d, then one every %s; retry in %s",
			FailureBurst, FailureEvery, wait.Round(time.Second)))
		return false
	}
	got := r.URL.Query().Get(k.param)
	if got == "" {
		got = r.Header.Get(HeaderFunctionsKey)
	}
	if subtle.ConstantTimeCompare([]byte(got), []byte(k.key)) == 1 {
		k.known.Add(client)
		return true
	}
	k.failures.Take(client)
	refuse(w, http.StatusUnauthorized, fmt.Sprintf("missing or wrong key (query parameter %q or header %s)", k.param, HeaderFunctionsKey))
	return false
}

func refuse(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close") // net/http closes the connection after this answer
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Known remembers the clients that presented the key recently (at most
// maxKnown, for KnownFor).
type Known struct {
	mu      sync.Mutex
	now     func() time.Time
	clients map[string]time.Time
}

// KnownFor is how long a client stays known after it last presented the
// key.
const KnownFor = 24 * time.Hour

const maxKnown = 4096

// NewKnown returns an empty set; now is the clock (time.Now when nil).
func NewKnown(now func() time.Time) *Known {
	if now == nil {
		now = time.Now
	}
	return &Known{now: now, clients: map[string]time.Time{}}
}

// Add remembers client (a nil Known ignores it).
func (k *Known) Add(client string) {
	if k == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if _, ok := k.clients[client]; !ok && len(k.clients) >= maxKnown {
		for c, at := range k.clients { // forget the expired, else the oldest
			if now.Sub(at) > KnownFor {
				delete(k.clients, c)
			}
		}
		if len(k.clients) >= maxKnown {
			oldest, at := "", now
			for c, t := range k.clients {
				if t.Before(at) {
					oldest, at = c, t
				}
			}
			delete(k.clients, oldest)
		}
	}
	k.clients[client] = now
}

// Has reports whether client presented the key within KnownFor.
func (k *Known) Has(client string) bool {
	if k == nil {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.clients[client]
	return ok && k.now().Sub(at) <= KnownFor
}
