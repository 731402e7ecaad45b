package servicebus

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

const workspace = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1"

func sampleJob() jobs.Job {
	j := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, workspace, "event-1")
	j.CorrelationID = "event-1"
	j.Reason = "Microsoft.Network/privateEndpoints/write"
	j.Created = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	return j
}

func TestToMessage(t *testing.T) {
	j := sampleJob()
	j.Attempt = 3
	j.NotBefore = time.Date(2026, 3, 1, 9, 5, 0, 0, time.UTC)
	m, err := ToMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{
		"MessageID":             deref(m.MessageID),
		"ContentType":           deref(m.ContentType),
		"Subject":               deref(m.Subject),
		"CorrelationID":         deref(m.CorrelationID),
		"ScheduledEnqueueTime":  deref(m.ScheduledEnqueueTime),
		"ApplicationProperties": m.ApplicationProperties,
	}
	want := map[string]any{
		"MessageID":            j.ID,
		"ContentType":          "application/vnd.plautopilot.job+json;v=1",
		"Subject":              "reconcile",
		"CorrelationID":        "event-1",
		"ScheduledEnqueueTime": j.NotBefore,
		"ApplicationProperties": map[string]any{
			"kind": "reconcile", "subject": "target", "attempt": int64(3), "targetId": workspace,
		},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("message fields (-got +want):\n%s", diff)
	}
	back, err := jobs.Decode(m.Body)
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	if diff := cmp.Diff(back, j); diff != "" {
		t.Errorf("body round trip (-got +want):\n%s", diff)
	}
}

func TestToMessageUnscheduledAndUncorrelated(t *testing.T) {
	j := sampleJob()
	j.CorrelationID = ""
	m, err := ToMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	if m.ScheduledEnqueueTime != nil || m.CorrelationID != nil {
		t.Errorf("ScheduledEnqueueTime %v, CorrelationID %v: want both unset", m.ScheduledEnqueueTime, m.CorrelationID)
	}
}

func TestToMessageRefusesInvalidJob(t *testing.T) {
	j := sampleJob()
	j.Kind = "rebuild"
	_, err := ToMessage(j)
	if !errors.Is(err, jobs.ErrInvalidJob) || !strings.Contains(err.Error(), `"kind"`) {
		t.Errorf("err = %v, want ErrInvalidJob naming kind", err)
	}
}

func TestFromMessage(t *testing.T) {
	j := sampleJob()
	m, err := ToMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	enq := time.Date(2026, 3, 1, 9, 0, 1, 0, time.UTC)
	locked := enq.Add(time.Minute)
	rm := &azservicebus.ReceivedMessage{
		MessageID:     *m.MessageID,
		Body:          m.Body,
		DeliveryCount: 2,
		EnqueuedTime:  &enq,
		LockedUntil:   &locked,
		LockToken:     [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8},
	}
	got, err := FromMessage(rm)
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Delivery{Job: j, MessageID: j.ID, LockToken: "12345678-9abc-def0-0102-030405060708", DeliveryCount: 2, EnqueuedAt: enq, LockedUntil: locked}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("delivery (-got +want):\n%s", diff)
	}
}

func TestFromMessageErrors(t *testing.T) {
	tests := []struct {
		name string
		msg  *azservicebus.ReceivedMessage
		want string
	}{
		{"nil message", nil, "message is nil"},
		{"body is not JSON", &azservicebus.ReceivedMessage{MessageID: "m1", Body: []byte("hello")}, "not a JSON object"},
		{"body misses the target", &azservicebus.ReceivedMessage{MessageID: "m2", Body: []byte(`{"version":1,"id":"x","kind":"verify","subject":"endpoint","attempt":1}`)}, `"targetId"`},
		{"body from a future format", &azservicebus.ReceivedMessage{MessageID: "m3", Body: []byte(`{"version":2,"id":"x"}`)}, `"version" unsupported version 2`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromMessage(tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestFromTrigger covers the body shapes the Functions host puts in a
// serviceBusTrigger's Data: the job object, a JSON string holding it, and a
// doubly quoted one; and metadata values that still carry quotes.
func TestFromTrigger(t *testing.T) {
	j := sampleJob()
	body, err := jobs.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	once, _ := json.Marshal(string(body))
	twice, _ := json.Marshal(string(once))
	enq := time.Date(2023, 10, 12, 20, 13, 49, 0, time.UTC)
	want := jobs.Delivery{Job: j, MessageID: j.ID, LockToken: "9f2c6f4e-0a43-4b8e-9a0e-3f1c2d4b5a69", DeliveryCount: 1, EnqueuedAt: enq}
	tests := []struct {
		name      string
		body      []byte
		messageID string
		lockToken string
		count     int
	}{
		{"object body", body, j.ID, want.LockToken, 1},
		{"body quoted once", once, j.ID, want.LockToken, 1},
		{"body quoted twice", twice, j.ID, want.LockToken, 1},
		{"metadata still quoted", once, strconv.Quote(j.ID), strconv.Quote(want.LockToken), 1},
		{"delivery count missing", body, j.ID, want.LockToken, 0},
		{"message id missing", body, "", want.LockToken, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromTrigger(tt.body, tt.messageID, tt.count, enq, tt.lockToken)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("delivery (-got +want):\n%s", diff)
			}
		})
	}
}

func TestFromTriggerErrors(t *testing.T) {
	body, _ := jobs.Encode(sampleJob())
	tests := []struct {
		name  string
		body  []byte
		count int
		want  string
	}{
		{"empty body", nil, 1, "body is empty"},
		{"quoted garbage", []byte(`"not a job"`), 1, "not a JSON object"},
		{"negative delivery count", body, -1, "DeliveryCount is -1"},
		{"attempt zero", []byte(`{"version":1,"id":"x","kind":"verify","subject":"endpoint","targetId":"/subscriptions/s","attempt":0}`), 1, `"attempt" is 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FromTrigger(tt.body, "msg-1", tt.count, time.Time{}, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), "msg-1") {
				t.Errorf("err = %v does not name the message", err)
			}
		})
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
