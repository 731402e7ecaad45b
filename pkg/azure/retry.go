package azure

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Defaults of RetryOptions.
const (
	DefaultRetryTries  = 5
	DefaultRetryBase   = time.Second
	DefaultRetryMax    = 8 * time.Second
	DefaultRetryBudget = 30 * time.Second
)

// RetryOptions tune the adapter's own retries of transient ARM failures,
// on top of (outside) azcore's retry policy. They cover what azcore does not:
// a 409 that says the resource is busy, a long-running operation that fails
// after ARM accepted it, a Retry-After longer than azcore's cap, a call that
// timed out on the client; and they stop at the caller's time budget
// (core.WithRetryBudget) instead of a count alone.
type RetryOptions struct {
	// Tries bounds the tries of one call (default DefaultRetryTries; 1
	// turns the adapter's retries off).
	Tries int
	// Base and Max bound the jittered exponential back-off when the server
	// gives no Retry-After (defaults 1s and 8s): try n waits a random time
	// in [d/2, d] with d = min(Max, Base*2^(n-1)).
	Base, Max time.Duration
	// Budget is the time one call may spend waiting when its context
	// carries no core.WithRetryBudget (default 30s).
	Budget time.Duration
}

func (o RetryOptions) withDefaults() RetryOptions {
	if o.Tries <= 0 {
		o.Tries = DefaultRetryTries
	}
	if o.Base <= 0 {
		o.Base = DefaultRetryBase
	}
	if o.Max <= 0 {
		o.Max = DefaultRetryMax
	}
	if o.Budget <= 0 {
		o.Budget = DefaultRetryBudget
	}
	return o
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// backoff is the wait before try+1 after try (1-based) failed: the
// server's Retry-After when it gave one, else jittered exponential.
func (c *Client) backoff(try int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter
	}
	o := c.cfg.Retry
	d := float64(o.Base) * math.Pow(2, float64(min(try-1, 20)))
	d = math.Min(d, float64(o.Max))
	return time.Duration(d/2 + d/2*c.cfg.Rand())
}

// budgetEnd is when retries of a call started at start must stop.
func (c *Client) budgetEnd(ctx context.Context, start time.Time) time.Time {
	if t, ok := core.RetryBudget(ctx); ok {
		return t
	}
	return start.Add(c.cfg.Retry.Budget)
}

// mayWait reports whether a retry after d fits in the budget, and sleeps
// if so.
func (c *Client) mayWait(ctx context.Context, end time.Time, d time.Duration) bool {
	if ctx.Err() != nil || c.cfg.Now().Add(d).After(end) {
		return false
	}
	return c.cfg.Sleep(ctx, d) == nil
}

// retryPolicy is the adapter's HTTP-level retry, the first per-call policy
// of every SDK client New builds: 408, 429, 500, 502, 503, 504 and client
// timeouts are sent again after the server's Retry-After (any length) or a
// jittered back-off, while the wait fits in the call's budget. Only
// requests ARM did not act on are re-sent (an error status), or whose answer
// was lost (a timeout: every write of the adapter is idempotent or
// conditional, so sending it again is safe). Busy conflicts (409) are left
// to the operation-level retry (again), which re-reads before writing.
type retryPolicy struct{ c *Client }

var retryStatus = map[int]bool{
	http.StatusRequestTimeout:      true,
	http.StatusTooManyRequests:     true,
	http.StatusInternalServerError: true,
	http.StatusBadGateway:          true,
	http.StatusServiceUnavailable:  true,
	http.StatusGatewayTimeout:      true,
}

func (p retryPolicy) Do(req *policy.Request) (*http.Response, error) {
	c := p.c
	ctx := req.Raw().Context()
	end := c.budgetEnd(ctx, c.cfg.Now())
	for try := 1; ; try++ {
		if err := req.RewindBody(); err != nil {
			return nil, err
		}
		resp, err := req.Clone(ctx).Next()
		var d time.Duration
		switch {
		case err != nil:
			if !isTimeout(err) || ctx.Err() != nil {
				return resp, err
			}
		case retryStatus[resp.StatusCode]:
			d = retryAfter(resp, c.cfg.Now())
		default:
			return resp, nil
		}
		if try >= c.cfg.Retry.Tries {
			return resp, err
		}
		d = c.backoff(try, d)
		if !c.mayWait(ctx, end, d) {
			return resp, err
		}
		if resp != nil && resp.Body != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
}

// isTimeout reports whether err is a client-side timeout of one try (the
// answer was lost, the request may or may not have been acted on).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// again runs one adapter operation, and runs it again while it fails with
// a retryable error that the HTTP-level retry could not settle (a busy
// 409, a long-running operation that failed after ARM accepted it, a
// throttle or fault that outlasted its tries) and the wait fits in the
// budget. Each run re-reads what the operation needs, so a retry after a
// conflict acts on the state as it is now, never on the refused request.
func again[T any](ctx context.Context, c *Client, f func() (T, error)) (T, error) {
	end := c.budgetEnd(ctx, c.cfg.Now())
	for try := 1; ; try++ {
		res, err := f()
		if err == nil || try >= c.cfg.Retry.Tries {
			return res, err
		}
		ok, after := core.IsRetryable(err)
		if !ok || !c.mayWait(ctx, end, c.backoff(try, after)) {
			return res, err
		}
		c.log.Debug().Err(err).Int("try", try).Msg("retrying after a transient failure")
	}
}

// isBusy reports whether err is a conflict that means "the resource is
// busy, try again": a 409 with a busy code, or a long-running operation
// that ended in such a code (ARM reports it on a 200 poll).
func isBusy(err error) bool {
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Class != core.Retryable {
		return false
	}
	return busyCodes[strings.ToLower(ce.Code)] && (ce.StatusCode == http.StatusConflict || ce.StatusCode < 300)
}

func defaultRand() float64 { return rand.Float64() }
