package core

import (
	"errors"
	"fmt"
	"time"
)

// ErrorClass tells a caller what to do with a failed ARM call.
type ErrorClass string

const (
	// Retryable failures (429 with Retry-After, 5xx, 409 on a busy resource,
	// network errors) are rescheduled with back-off.
	Retryable ErrorClass = "retryable"
	// Fatal failures (400, 403 AuthorizationFailed, a refusal by the
	// autopilot's own safety rules) are dead-lettered with the reason.
	Fatal ErrorClass = "fatal"
	// NotFound means the resource does not exist (deleted target or
	// endpoint): usually the end of the story, not an error to retry.
	NotFound ErrorClass = "notfound"
)

// Error is a classified failure of one ARM operation.
type Error struct {
	Class      ErrorClass    `json:"class"`
	Op         string        `json:"op"`                   // e.g. "approve connection", "get endpoint"
	ResourceID string        `json:"resourceId,omitempty"` // the resource concerned
	StatusCode int           `json:"statusCode,omitempty"` // HTTP status, 0 when none
	Code       string        `json:"code,omitempty"`       // ARM error code, e.g. AuthorizationFailed
	RetryAfter time.Duration `json:"retryAfter,omitempty"` // server-asked delay, when given
	Err        error         `json:"-"`
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %s", e.Op, e.ResourceID, e.Class)
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d", e.StatusCode)
		if e.Code != "" {
			msg += " " + e.Code
		}
		msg += ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err: the class of the first *Error in its
// chain, Retryable for unclassified errors (network failures, timeouts) since
// those can still change, and "" for nil.
func ClassOf(err error) ErrorClass {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Retryable
}

// IsRetryable reports whether err may succeed later, and the delay the server
// asked for (0 when it asked none).
func IsRetryable(err error) (bool, time.Duration) {
	if ClassOf(err) != Retryable {
		return false, 0
	}
	var e *Error
	if errors.As(err, &e) {
		return true, e.RetryAfter
	}
	return true, 0
}

// IsNotFound reports whether err says the resource does not exist.
func IsNotFound(err error) bool { return ClassOf(err) == NotFound }
