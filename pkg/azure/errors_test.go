package azure

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Each injected ARM failure must come back from the adapter as one
// classified *core.Error, after the SDK's own retry policy has had its go
// (the adapter's own retries are off here: see retry_test.go).
func TestClassificationThroughSDK(t *testing.T) {
	tests := []struct {
		name       string
		failure    func() *http.Response
		wantClass  core.ErrorClass
		wantStatus int
		wantCode   string
		wantTries  int // requests sent, retries included
		wantAfter  time.Duration
	}{
		{
			name:      "429 asking for longer than the retry cap surfaces retryable with its delay",
			failure:   func() *http.Response { return armError(429, "TooManyRequests", "Retry-After", "120") },
			wantClass: core.Retryable, wantStatus: 429, wantCode: "TooManyRequests", wantTries: 1, wantAfter: 120 * time.Second,
		},
		{
			name:      "429 with retry-after-ms beyond the cap",
			failure:   func() *http.Response { return armError(429, "TooManyRequests", "Retry-After-Ms", "90000") },
			wantClass: core.Retryable, wantStatus: 429, wantCode: "TooManyRequests", wantTries: 1, wantAfter: 90 * time.Second,
		},
		{
			name:      "500 retried by the SDK then retryable",
			failure:   func() *http.Response { return armError(500, "InternalServerError") },
			wantClass: core.Retryable, wantStatus: 500, wantCode: "InternalServerError", wantTries: 4,
		},
		{
			name:      "409 on a busy resource is retryable",
			failure:   func() *http.Response { return armError(409, "AnotherOperationInProgress") },
			wantClass: core.Retryable, wantStatus: 409, wantCode: "AnotherOperationInProgress", wantTries: 1,
		},
		{
			name:      "409 for a reason that will not pass is fatal",
			failure:   func() *http.Response { return armError(409, "InvalidResourceReference") },
			wantClass: core.Fatal, wantStatus: 409, wantCode: "InvalidResourceReference", wantTries: 1,
		},
		{
			name:      "403 authorization failed is fatal",
			failure:   func() *http.Response { return armError(403, "AuthorizationFailed") },
			wantClass: core.Fatal, wantStatus: 403, wantCode: "AuthorizationFailed", wantTries: 1,
		},
		{
			name:      "403 linked authorization failed is fatal",
			failure:   func() *http.Response { return armError(403, "LinkedAuthorizationFailed") },
			wantClass: core.Fatal, wantStatus: 403, wantCode: "LinkedAuthorizationFailed", wantTries: 1,
		},
		{
			name:      "404 is not found",
			failure:   func() *http.Response { return armError(404, "ResourceNotFound") },
			wantClass: core.NotFound, wantStatus: 404, wantCode: "ResourceNotFound", wantTries: 1,
		},
		{
			name:      "400 is fatal",
			failure:   func() *http.Response { return armError(400, "InvalidRequestContent") },
			wantClass: core.Fatal, wantStatus: 400, wantCode: "InvalidRequestContent", wantTries: 1,
		},
		{
			name:      "412 is retryable after a re-read",
			failure:   func() *http.Response { return armError(412, "PreconditionFailed") },
			wantClass: core.Retryable, wantStatus: 412, wantCode: "PreconditionFailed", wantTries: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, tr := newScripted(t, Config{Retry: RetryOptions{Tries: 1}}, func(int, *http.Request) *http.Response { return tt.failure() })
			_, err := c.GetVNet(context.Background(), vnetID)
			var ce *core.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v (%T), want a *core.Error", err, err)
			}
			if ce.Class != tt.wantClass || ce.StatusCode != tt.wantStatus || ce.Code != tt.wantCode {
				t.Errorf("got class %s status %d code %q, want %s %d %q", ce.Class, ce.StatusCode, ce.Code, tt.wantClass, tt.wantStatus, tt.wantCode)
			}
			if ce.RetryAfter != tt.wantAfter {
				t.Errorf("got RetryAfter %s, want %s", ce.RetryAfter, tt.wantAfter)
			}
			if got := tr.count(); got != tt.wantTries {
				t.Errorf("got %d requests, want %d", got, tt.wantTries)
			}
			if ce.ResourceID != vnetID || ce.Op != "get vnet" {
				t.Errorf("error names op %q id %q, want get vnet %s", ce.Op, ce.ResourceID, vnetID)
			}
		})
	}
}

// A 429 whose Retry-After is within the cap is waited out by the SDK and
// the call succeeds.
func TestRetryAfterHonoured(t *testing.T) {
	var firstAt, secondAt time.Time
	c, tr := newScripted(t, Config{}, func(n int, _ *http.Request) *http.Response {
		if n == 0 {
			firstAt = time.Now()
			return armError(429, "TooManyRequests", "Retry-After", "1")
		}
		secondAt = time.Now()
		return respond(200, `{"id":"`+vnetID+`","name":"hub","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]},"virtualNetworkPeerings":[]}}`)
	})
	v, err := c.GetVNet(context.Background(), vnetID)
	if err != nil {
		t.Fatalf("GetVNet after a short 429: %v", err)
	}
	if len(v.AddressPrefixes) != 1 || v.AddressPrefixes[0] != "10.0.0.0/16" {
		t.Errorf("got prefixes %v, want [10.0.0.0/16]", v.AddressPrefixes)
	}
	if tr.count() != 2 {
		t.Errorf("got %d requests, want 2 (one 429, one retry)", tr.count())
	}
	// the retry waited for the server's delay, not the 1 ms base delay
	if gap := secondAt.Sub(firstAt); gap < 900*time.Millisecond {
		t.Errorf("retry sent %s after the 429, want about the 1s Retry-After", gap)
	}
}

func TestClassifyTransportFailures(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want core.ErrorClass
	}{
		{"deadline", context.DeadlineExceeded, core.Retryable},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, core.Retryable},
		{"already classified", &core.Error{Class: core.Fatal}, core.Fatal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := core.ClassOf(classify("op", "id", tt.err)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if classify("op", "id", nil) != nil {
		t.Error("nil error classified as a failure")
	}
}

func TestRetryAfterHeader(t *testing.T) {
	now := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header []string
		want   time.Duration
	}{
		{"seconds", []string{"Retry-After", "30"}, 30 * time.Second},
		{"http date", []string{"Retry-After", now.Add(2 * time.Minute).Format(http.TimeFormat)}, 2 * time.Minute},
		{"date in the past", []string{"Retry-After", now.Add(-time.Minute).Format(http.TimeFormat)}, 0},
		{"milliseconds first", []string{"Retry-After-Ms", "250", "Retry-After", "30"}, 250 * time.Millisecond},
		{"x-ms milliseconds", []string{"x-ms-retry-after-ms", "1500"}, 1500 * time.Millisecond},
		{"garbage", []string{"Retry-After", "soon"}, 0},
		{"none", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := retryAfter(respond(429, "", tt.header...), now); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if retryAfter(nil, now) != 0 {
		t.Error("nil response gave a delay")
	}
}

func asCoreError(err error, target **core.Error) bool { return errors.As(err, target) }
