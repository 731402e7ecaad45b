package azure

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/plautopilot/autopilot/pkg/core"
)

// busyCodes are ARM error codes (on 409, or on a failed long-running
// operation) that mean "the resource is busy or the failure is transient":
// the same request can succeed later.
var busyCodes = map[string]bool{
	"anotheroperationinprogress":                 true,
	"conflict":                                   true,
	"retryableerror":                             true,
	"resourcebusy":                               true,
	"operationinprogress":                        true,
	"referencedresourcenotprovisioned":           true,
	"canceledandsupersededduetoanotheroperation": true,
	"privatednszonegroupoperationinprogress":     true,
	"internalservererror":                        true,
	"serviceunavailable":                         true,
	"toomanyrequests":                            true,
	"gatewaytimeout":                             true,
	"operationcanceled":                          true,
	"canceled":                                   true,
}

// fatalCodes are refusals no retry can fix, whatever the HTTP status.
var fatalCodes = map[string]bool{
	"authorizationfailed":        true,
	"linkedauthorizationfailed":  true,
	"invalidauthenticationtoken": true,
	"authenticationfailed":       true,
	"forbidden":                  true,
	"disallowedoperation":        true,
	"requestdisallowedbypolicy":  true,
	"scopelocked":                true,
	"badrequest":                 true,
	"invalidrequestcontent":      true,
	"invalidparameter":           true,
}

// notFoundCodes mean the resource (or its parent) does not exist.
var notFoundCodes = map[string]bool{
	"resourcenotfound":       true,
	"notfound":               true,
	"parentresourcenotfound": true,
	"resourcegroupnotfound":  true,
	"subscriptionnotfound":   true,
}

// classify turns an SDK error into a *core.Error, once, for the whole
// package. A nil error stays nil; an error already classified is returned as
// is.
func classify(op, id string, err error) error {
	if err == nil {
		return nil
	}
	var done *core.Error
	if errors.As(err, &done) {
		return err
	}
	e := &core.Error{Op: op, ResourceID: id, Err: err}

	var re *azcore.ResponseError
	var authErr *azidentity.AuthenticationFailedError
	var netErr net.Error
	switch {
	case errors.As(err, &re):
		e.StatusCode, e.Code = re.StatusCode, re.ErrorCode
		e.Class = classByStatus(re.StatusCode, re.ErrorCode)
		if e.Class == core.Retryable {
			e.RetryAfter = retryAfter(re.RawResponse, time.Now())
		}
	case errors.As(err, &authErr):
		// the token endpoint failed: transient when it answered 5xx/429
		e.Class = core.Fatal
		e.Code = "CredentialAuthenticationFailed"
		if authErr.RawResponse != nil {
			e.StatusCode = authErr.RawResponse.StatusCode
			if e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500 {
				e.Class = core.Retryable
				e.RetryAfter = retryAfter(authErr.RawResponse, time.Now())
			}
		}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		e.Class = core.Retryable
	case errors.As(err, &netErr):
		e.Class = core.Retryable
	default:
		// unknown failures can still change (matches core.ClassOf)
		e.Class = core.Retryable
	}
	return e
}

func classByStatus(status int, code string) core.ErrorClass {
	lc := strings.ToLower(code)
	switch {
	case fatalCodes[lc]:
		return core.Fatal
	case status == http.StatusNotFound || notFoundCodes[lc] && status < 500:
		return core.NotFound
	case status == http.StatusTooManyRequests,
		status == http.StatusRequestTimeout,
		status == http.StatusPreconditionFailed, // someone else wrote: re-read and try again
		status >= 500:
		return core.Retryable
	case status == http.StatusConflict:
		if busyCodes[lc] {
			return core.Retryable
		}
		return core.Fatal
	case status >= 400:
		return core.Fatal
	default:
		// a long-running operation that ended in failure: the HTTP status
		// of the last poll is 2xx and the code says what happened
		if busyCodes[lc] {
			return core.Retryable
		}
		return core.Fatal
	}
}

// retryAfter returns the delay a response asks for: retry-after-ms,
// x-ms-retry-after-ms (milliseconds), or Retry-After (seconds or an HTTP
// date, relative to now). 0 when none is given or it is in the past.
func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return 0
	}
	for _, h := range []string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if v := strings.TrimSpace(resp.Header.Get(h)); v != "" {
			if ms, err := strconv.ParseInt(v, 10, 64); err == nil && ms > 0 {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
