package azure

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// fakeTime is a clock whose Sleep moves it forward at once and records the
// wait.
type fakeTime struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeTime() *fakeTime { return &fakeTime{now: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)} }

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	f.slept = append(f.slept, d)
	return nil
}

func (f *fakeTime) waits() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.slept...)
}

func (f *fakeTime) total() time.Duration {
	var t time.Duration
	for _, d := range f.waits() {
		t += d
	}
	return t
}

// Transient failures ARM really produces are retried inside the call, the
// write re-reading what it depends on; the caller sees a success.
func TestAdapterRetriesTransientFailures(t *testing.T) {
	link := func(c *Client) (core.WriteResult, error) {
		return c.EnsureVNetLink(context.Background(), core.LinkSpec{ZoneID: cZone, VNetID: cSpoke})
	}
	tests := []struct {
		name string
		rule sandbox.FaultRule
		// wantWait is the least the call must have waited in all
		wantWait time.Duration
	}{
		{
			name:     "busy 409 on the link create",
			rule:     sandbox.FaultRule{Method: "PUT", Operation: "virtualNetworkLinks", Status: 409, Code: "AnotherOperationInProgress", Count: 2},
			wantWait: time.Second, // two jittered waits of at least 0.5s and 1s
		},
		{
			name: "long-running operation failing with Conflict after ARM accepted it",
			rule: sandbox.FaultRule{Method: "PUT", Operation: "virtualNetworkLinks", Status: 200, Code: "Conflict", LRO: true, Count: 1},
		},
		{
			name: "long-running operation failing with an internal error",
			rule: sandbox.FaultRule{Method: "PUT", Operation: "virtualNetworkLinks", Status: 200, Code: "InternalServerError", LRO: true, Count: 1},
		},
		{
			name:     "429 whose Retry-After is beyond azcore's cap but inside the budget",
			rule:     sandbox.FaultRule{Method: "PUT", Operation: "virtualNetworkLinks", Status: 429, RetryAfter: sandbox.Duration(20 * time.Second), Count: 1},
			wantWait: 20 * time.Second,
		},
		{
			name: "503 on the zone listing the busy conflict makes it re-read",
			rule: sandbox.FaultRule{Method: "GET", Operation: "virtualNetworkLinks", Status: 503, Count: 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, c, ft := newContractClock(t, sandbox.WithFaultRules(tt.rule))
			res, err := link(c)
			if err != nil {
				t.Fatalf("EnsureVNetLink: %v, want success after retries", err)
			}
			if tt.rule.Method == "PUT" && sb.Stats().InjectedFaults() == 0 {
				t.Fatal("no fault injected: the test proves nothing")
			}
			links, err := c.ListVNetLinks(context.Background(), cZone)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range links {
				if core.SameID(l.VNetID, cSpoke) {
					n++
				}
			}
			if n != 1 || !res.Changed {
				t.Errorf("spoke linked %d times (changed %v), want one link made by this call", n, res.Changed)
			}
			if got := ft.total(); got < tt.wantWait {
				t.Errorf("waited %s in all, want at least %s", got, tt.wantWait)
			}
		})
	}
}

// A failure that outlasts the job's retry budget comes back to the caller
// retryable, without waiting past the budget.
func TestAdapterRetryStopsAtTheJobBudget(t *testing.T) {
	sb, c, ft := newContractClock(t, sandbox.WithFaultRules(sandbox.FaultRule{Operation: "VirtualNetworksClient.Get", Status: 500}))
	ctx := core.WithRetryBudget(context.Background(), ft.Now().Add(5*time.Second))
	_, err := c.GetVNet(ctx, cHub)
	if ok, _ := core.IsRetryable(err); !ok {
		t.Fatalf("GetVNet under a persistent 500: %v, want a retryable error", err)
	}
	if got := ft.total(); got > 5*time.Second || got == 0 {
		t.Errorf("waited %s (%v), want some waiting within the 5s budget", got, ft.waits())
	}
	if n := sb.Stats().Faults[500]; n < 2*4 {
		t.Errorf("%d tries answered 500, want the adapter to have retried azcore's 4 tries at least once", n)
	}
}

// A 429 asking for longer than the budget is not waited for: the job is
// rescheduled with the server's delay instead of holding its worker.
func TestAdapterRetryLeavesLongThrottlesToTheJob(t *testing.T) {
	_, c, ft := newContractClock(t, sandbox.WithFaultRules(sandbox.FaultRule{Operation: "VirtualNetworksClient.Get", Status: 429, RetryAfter: sandbox.Duration(2 * time.Minute)}))
	_, err := c.GetVNet(context.Background(), cHub)
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Class != core.Retryable || ce.RetryAfter != 2*time.Minute {
		t.Fatalf("got %v, want retryable with RetryAfter 2m", err)
	}
	if w := ft.waits(); len(w) != 0 {
		t.Errorf("waited %v, want no wait for a throttle longer than the budget", w)
	}
}

// timeoutOnce loses the first answer (a client-side timeout), then answers.
type timeoutOnce struct {
	scripted
	lost bool
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "try timed out" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func (s *timeoutOnce) Do(req *http.Request) (*http.Response, error) {
	if !s.lost {
		s.lost = true
		return nil, timeoutErr{}
	}
	return s.scripted.Do(req)
}

// A try whose answer was lost to the client timeout is sent again.
func TestAdapterRetriesAClientTimeout(t *testing.T) {
	tr := &timeoutOnce{scripted: scripted{answer: func(int, *http.Request) *http.Response {
		return respond(200, `{"id":"`+vnetID+`","name":"hub","properties":{"addressSpace":{"addressPrefixes":["10.0.0.0/16"]}}}`)
	}}}
	ft := newFakeTime()
	opts := DefaultClientOptions()
	opts.Transport = tr
	opts.Retry.MaxRetries = -1 // only the adapter retries
	c, err := New(&azfake.TokenCredential{}, opts, Config{Sleep: ft.Sleep, Now: ft.Now})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.GetVNet(context.Background(), vnetID)
	if err != nil || len(v.AddressPrefixes) != 1 {
		t.Fatalf("GetVNet after a lost answer: %+v, %v", v, err)
	}
	if len(ft.waits()) != 1 {
		t.Errorf("waits %v, answered tries %d: want one wait for the lost answer", ft.waits(), tr.count())
	}
}
