package servicebus

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/uuid"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Application property names set on every job message.
const (
	PropKind     = "kind"
	PropSubject  = "subject"
	PropAttempt  = "attempt"
	PropTargetID = "targetId"
)

// ToMessage maps a job to a Service Bus message: MessageID = job id (for
// duplicate detection), ContentType = jobs.ContentType, Subject = kind,
// CorrelationID, application properties kind/subject/attempt/targetId,
// ScheduledEnqueueTime = NotBefore (when set), Body = jobs.Encode(job).
func ToMessage(job jobs.Job) (*azservicebus.Message, error) {
	body, err := jobs.Encode(job)
	if err != nil {
		return nil, err
	}
	m := &azservicebus.Message{
		MessageID:   ptr(job.ID),
		ContentType: ptr(jobs.ContentType),
		Subject:     ptr(string(job.Kind)),
		Body:        body,
		ApplicationProperties: map[string]any{
			PropKind:     string(job.Kind),
			PropSubject:  string(job.Subject),
			PropAttempt:  int64(job.Attempt),
			PropTargetID: job.TargetID,
		},
	}
	if job.CorrelationID != "" {
		m.CorrelationID = ptr(job.CorrelationID)
	}
	if !job.NotBefore.IsZero() {
		m.ScheduledEnqueueTime = ptr(job.NotBefore.UTC())
	}
	return m, nil
}

// FromMessage maps a received message to a delivery. The body must be a
// valid job (errors wrap jobs.ErrInvalidJob); the delivery's MessageID is the
// message's, which for jobs sent by this package equals the job id.
func FromMessage(m *azservicebus.ReceivedMessage) (jobs.Delivery, error) {
	if m == nil {
		return jobs.Delivery{}, fmt.Errorf("service bus message is nil")
	}
	job, err := jobs.Decode(m.Body)
	if err != nil {
		return jobs.Delivery{}, fmt.Errorf("service bus message %s: %w", m.MessageID, err)
	}
	d := jobs.Delivery{
		Job:           job,
		MessageID:     m.MessageID,
		LockToken:     LockTokenString(m.LockToken),
		DeliveryCount: int(m.DeliveryCount),
	}
	if d.MessageID == "" {
		d.MessageID = job.ID
	}
	if m.EnqueuedTime != nil {
		d.EnqueuedAt = m.EnqueuedTime.UTC()
	}
	if m.LockedUntil != nil {
		d.LockedUntil = m.LockedUntil.UTC()
	}
	return d, nil
}

// LockTokenString renders a lock token as a GUID string, the form the
// Functions host puts in the LockToken metadata.
func LockTokenString(t [16]byte) string {
	if t == ([16]byte{}) {
		return ""
	}
	return uuid.UUID(t).String()
}

// FromTrigger builds the delivery of a serviceBusTrigger invocation from the
// binding's body and metadata (as decoded by the custom-handler envelope;
// pkg/funchost's ServiceBusMessage has these fields). The body may still be a
// JSON string holding the job (the host quotes bodies once or twice);
// messageID and lockToken may still carry JSON quotes. A deliveryCount of 0
// (metadata missing) counts as the first delivery.
func FromTrigger(body []byte, messageID string, deliveryCount int, enqueued time.Time, lockToken string) (jobs.Delivery, error) {
	job, err := jobs.Decode(body)
	if err != nil {
		return jobs.Delivery{}, fmt.Errorf("service bus trigger message %s: %w", unquote(messageID), err)
	}
	if deliveryCount < 0 {
		return jobs.Delivery{}, fmt.Errorf("service bus trigger message %s: metadata DeliveryCount is %d (must not be negative)", unquote(messageID), deliveryCount)
	}
	d := jobs.Delivery{
		Job:           job,
		MessageID:     unquote(messageID),
		LockToken:     unquote(lockToken),
		DeliveryCount: max(deliveryCount, 1),
		EnqueuedAt:    enqueued.UTC(),
	}
	if d.MessageID == "" {
		d.MessageID = job.ID
	}
	if enqueued.IsZero() {
		d.EnqueuedAt = time.Time{}
	}
	return d, nil
}

// unquote removes JSON string quoting left on a metadata value.
func unquote(s string) string {
	for range 3 {
		t := strings.TrimSpace(s)
		if len(t) < 2 || t[0] != '"' || t[len(t)-1] != '"' {
			return t
		}
		var u string
		if err := json.Unmarshal([]byte(t), &u); err != nil {
			return t
		}
		s = u
	}
	return s
}

func ptr[T any](v T) *T { return &v }
