package httpguard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testKey = "0123456789abcdef0123456789abcdef"

func keyed(k *Keys, remote, key string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "/api/status", nil)
	req.RemoteAddr = remote
	if key != "" {
		req.Header.Set(HeaderFunctionsKey, key)
	}
	rec := httptest.NewRecorder()
	if k.Check(rec, req) {
		rec.WriteHeader(http.StatusOK)
	}
	return rec
}

// Issue 26: wrong keys were never throttled. After FailureBurst failures
// a client gets 429 (its key not even compared, the right one included)
// until its budget refills; the connection is closed after every refusal;
// other clients are not affected, but a whole IPv6 /64 counts as one.
func TestKeysThrottleFailedAttempts(t *testing.T) {
	now := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	known := NewKnown(func() time.Time { return now })
	k := NewKeys(testKey, "", func() time.Time { return now }, known)
	for i := range FailureBurst {
		rec := keyed(k, "[2001:db8:7:7::1]:5000", "wrong")
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("Connection") != "close" || !strings.Contains(rec.Body.String(), "missing or wrong key") {
			t.Fatalf("failure %d: %d %v %s; want 401 closing the connection", i+1, rec.Code, rec.Header(), rec.Body)
		}
	}
	// another address of the same /64, with the right key: throttled
	rec := keyed(k, "[2001:db8:7:7::beef]:5001", testKey)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || rec.Header().Get("Connection") != "close" {
		t.Fatalf("after %d failures: %d %v; want 429 with Retry-After, closing", FailureBurst, rec.Code, rec.Header())
	}
	if known.Has("2001:db8:7:7::/64") {
		t.Error("a throttled client became known")
	}
	// another /64 and an IPv4 client still get in
	if rec := keyed(k, "[2001:db8:7:8::1]:5000", testKey); rec.Code != http.StatusOK {
		t.Errorf("neighbouring /64: %d", rec.Code)
	}
	if rec := keyed(k, "192.0.2.1:5000", testKey); rec.Code != http.StatusOK || !known.Has("192.0.2.1") {
		t.Errorf("IPv4 client with the key: %d known %v", rec.Code, known.Has("192.0.2.1"))
	}
	// one attempt per FailureEvery later
	now = now.Add(FailureEvery)
	if rec := keyed(k, "[2001:db8:7:7::1]:5000", testKey); rec.Code != http.StatusOK {
		t.Errorf("after %s: %d; want the right key accepted", FailureEvery, rec.Code)
	}
}

func TestKnownExpires(t *testing.T) {
	now := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	k := NewKnown(func() time.Time { return now })
	k.Add("192.0.2.1")
	if !k.Has("192.0.2.1") || k.Has("192.0.2.2") {
		t.Fatal("Has")
	}
	now = now.Add(KnownFor + time.Second)
	if k.Has("192.0.2.1") {
		t.Error("a client known a day ago is still known")
	}
	var nilKnown *Known
	nilKnown.Add("x")
	if nilKnown.Has("x") {
		t.Error("nil Known knows")
	}
}
