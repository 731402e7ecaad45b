package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/jsonlimit"
)

// ErrInvalidJob marks a job (or message body) that does not follow the job
// message format. Such a job can never succeed and belongs in the dead-letter
// store, with the error as its description.
var ErrInvalidJob = errors.New("invalid job")

// DeadLetterReasonInvalidJob is the dead-letter reason of a message whose body
// is not a valid job.
const DeadLetterReasonInvalidJob = "InvalidJob"

// New returns the first attempt of a job with its deterministic id (see
// NewID). The caller sets CorrelationID, Reason, Actor, Created and the rest.
func New(kind Kind, subject Subject, targetID, discriminator string) Job {
	return Job{
		Version:  Version,
		ID:       NewID(kind, subject, targetID, discriminator),
		Kind:     kind,
		Subject:  subject,
		TargetID: targetID,
		Attempt:  1,
	}
}

// MaxCounter bounds every counter a job carries (Attempt, Streak,
// Deferrals). Real jobs stay in the tens (a job is dead-lettered after a
// few failed runs in a row); a message with a larger or negative counter is
// invalid, and the arithmetic on counters saturates here (NextCount), so no
// counter can wrap around and make a failing job retry forever.
const MaxCounter = 1_000_000

// NextCount returns n+1, saturating at MaxCounter; a negative n counts as 0.
func NextCount(n int) int {
	switch {
	case n < 0:
		return 1
	case n >= MaxCounter:
		return MaxCounter
	}
	return n + 1
}

// Validate reports the first field of j that breaks the job format. The error
// wraps ErrInvalidJob and names the field.
func (j Job) Validate() error {
	switch {
	case j.Version != Version:
		return invalid("version", "unsupported version %d (want %d)", j.Version, Version)
	case strings.TrimSpace(j.ID) == "":
		return invalid("id", "is empty")
	case j.Kind != KindReconcile && j.Kind != KindVerify:
		return invalid("kind", "unknown kind %q (want %q or %q)", j.Kind, KindReconcile, KindVerify)
	case !validSubject(j.Subject):
		return invalid("subject", "unknown subject %q (want target, endpoint, vnet or zone)", j.Subject)
	case strings.TrimSpace(j.TargetID) == "":
		return invalid("targetId", "is empty")
	case !strings.HasPrefix(j.TargetID, "/"):
		return invalid("targetId", "%q is not an ARM resource id (must start with /)", j.TargetID)
	case j.Attempt < 1 || j.Attempt > MaxCounter:
		return invalid("attempt", "is %d (must be 1 to %d)", j.Attempt, MaxCounter)
	case j.Streak < 0 || j.Streak > MaxCounter:
		return invalid("streak", "is %d (must be 0 to %d)", j.Streak, MaxCounter)
	case j.Deferrals < 0 || j.Deferrals > MaxCounter:
		return invalid("deferrals", "is %d (must be 0 to %d)", j.Deferrals, MaxCounter)
	case j.Trigger != "" && !j.Trigger.Known():
		return invalid("trigger", "unknown trigger %q (want one of %s)", j.Trigger, triggerList())
	}
	return nil
}

func triggerList() string {
	names := make([]string, len(Triggers))
	for i, t := range Triggers {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// EffectiveTrigger returns j.Trigger, or, for a job decoded from a message
// written before jobs carried a trigger, the one its other fields imply
// (legacyTrigger). Code that acts on why a job exists asks this.
func (j Job) EffectiveTrigger() Trigger {
	if j.Trigger != "" {
		return j.Trigger
	}
	return legacyTrigger(j)
}

// legacyTrigger gives a job without a trigger the one its other fields
// imply: verified when it says
// so, the peering and sweep jobs from the operation or note their Reason
// held then (the only place the old wording still counts), otherwise the
// subject's own kind of change. A wrong guess costs at most an extra read:
// every reconcile re-reads the world.
func legacyTrigger(j Job) Trigger {
	r := strings.ToLower(j.Reason)
	switch {
	case j.PrivateVerified:
		return TriggerVerified
	case j.Kind == KindVerify:
		return TriggerVerify
	case strings.Contains(r, "virtualnetworkpeerings"):
		return TriggerPeering
	case strings.HasPrefix(r, "sweep"):
		return TriggerSweep
	case strings.HasPrefix(r, "follow-up"):
		return TriggerFollowUp
	}
	switch j.Subject {
	case SubjectTarget:
		return TriggerConnection
	case SubjectEndpoint:
		return TriggerEndpoint
	case SubjectVNet:
		return TriggerVNet
	case SubjectZone:
		return TriggerLink
	}
	return ""
}

func validSubject(s Subject) bool {
	switch s {
	case SubjectTarget, SubjectEndpoint, SubjectVNet, SubjectZone:
		return true
	}
	return false
}

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: field %q %s", ErrInvalidJob, field, fmt.Sprintf(format, args...))
}

// Encode validates j and returns its message body (JSON, see ContentType).
func Encode(j Job) ([]byte, error) {
	if err := j.Validate(); err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	b, err := json.Marshal(j)
	if err != nil {
		return nil, fmt.Errorf("encode job %s: %w", j.ID, err)
	}
	return b, nil
}

// maxQuoting bounds how many layers of JSON string quoting Decode peels off.
// The Functions host adds one or two.
const maxQuoting = 3

// Decode parses and validates a job message body. It accepts the JSON object
// itself and, because the Functions host serialises string bodies once more,
// a JSON string holding the object (up to three levels of quoting). Errors wrap
// ErrInvalidJob and name the offending field.
func Decode(body []byte) (Job, error) {
	b := bytes.TrimSpace(body)
	for i := 0; len(b) > 0 && b[0] == '"'; i++ {
		if i == maxQuoting {
			return Job{}, fmt.Errorf("decode job: %w: body is quoted more than %d times", ErrInvalidJob, maxQuoting)
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return Job{}, fmt.Errorf("decode job: %w: body is a malformed JSON string: %v", ErrInvalidJob, err)
		}
		b = bytes.TrimSpace([]byte(s))
	}
	if len(b) == 0 {
		return Job{}, fmt.Errorf("decode job: %w: body is empty", ErrInvalidJob)
	}
	if b[0] != '{' {
		return Job{}, fmt.Errorf("decode job: %w: body is not a JSON object (starts with %q)", ErrInvalidJob, b[:1])
	}
	if err := jsonlimit.Depth(b, jsonlimit.MaxDepth); err != nil {
		return Job{}, fmt.Errorf("decode job: %w: body: %v", ErrInvalidJob, err)
	}
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return Job{}, fmt.Errorf("decode job: %w: field %q has JSON type %s (want %s)", ErrInvalidJob, te.Field, te.Value, te.Type)
		}
		return Job{}, fmt.Errorf("decode job: %w: %v", ErrInvalidJob, err)
	}
	if err := j.Validate(); err != nil {
		return Job{}, fmt.Errorf("decode job %s: %w", j.ID, err)
	}
	return j, nil
}

// Next returns the retry of j: Attempt+1 and Streak+1 (saturating at
// MaxCounter), due at now+delay, with a new
// deterministic id derived from j's id and the new attempt (so a retry sent
// twice collapses in duplicate detection) and the same correlation id.
func (j Job) Next(delay time.Duration, now time.Time) Job {
	n := j
	n.Attempt = NextCount(j.Attempt)
	n.Streak = NextCount(j.Streak)
	if delay < 0 {
		delay = 0
	}
	n.NotBefore = now.Add(delay).UTC()
	n.ID = NewID(j.Kind, j.Subject, j.TargetID, fmt.Sprintf("retry\x00%s\x00%d", j.ID, n.Attempt))
	if n.Created.IsZero() {
		n.Created = now.UTC()
	}
	return n
}
