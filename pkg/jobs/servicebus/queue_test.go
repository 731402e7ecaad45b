package servicebus

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// fakeBus records what the queue asks of Service Bus.
type fakeBus struct {
	sent        []*azservicebus.Message
	inbox       []*azservicebus.ReceivedMessage
	completed   []string
	abandoned   []string
	deadLetters []string // message id: reason: description
	settleErr   error
	dlq         []*azservicebus.ReceivedMessage
}

func (f *fakeBus) SendMessage(_ context.Context, m *azservicebus.Message, _ *azservicebus.SendMessageOptions) error {
	f.sent = append(f.sent, m)
	return nil
}

func (f *fakeBus) ReceiveMessages(ctx context.Context, n int, _ *azservicebus.ReceiveMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	if len(f.inbox) == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	n = min(n, len(f.inbox))
	out := f.inbox[:n]
	f.inbox = f.inbox[n:]
	return out, nil
}

func (f *fakeBus) CompleteMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.CompleteMessageOptions) error {
	if f.settleErr != nil {
		return f.settleErr
	}
	f.completed = append(f.completed, m.MessageID)
	return nil
}

func (f *fakeBus) AbandonMessage(_ context.Context, m *azservicebus.ReceivedMessage, _ *azservicebus.AbandonMessageOptions) error {
	f.abandoned = append(f.abandoned, m.MessageID)
	return f.settleErr
}

func (f *fakeBus) DeadLetterMessage(_ context.Context, m *azservicebus.ReceivedMessage, o *azservicebus.DeadLetterOptions) error {
	f.deadLetters = append(f.deadLetters, m.MessageID+": "+*o.Reason+": "+*o.ErrorDescription)
	return f.settleErr
}

func (f *fakeBus) PeekMessages(_ context.Context, n int, o *azservicebus.PeekMessagesOptions) ([]*azservicebus.ReceivedMessage, error) {
	var out []*azservicebus.ReceivedMessage
	for _, m := range f.dlq {
		if *m.SequenceNumber >= *o.FromSequenceNumber && len(out) < n {
			out = append(out, m)
		}
	}
	return out, nil
}

func received(t *testing.T, j jobs.Job, token byte) *azservicebus.ReceivedMessage {
	t.Helper()
	m, err := ToMessage(j)
	if err != nil {
		t.Fatal(err)
	}
	return &azservicebus.ReceivedMessage{MessageID: *m.MessageID, Body: m.Body, DeliveryCount: 1, LockToken: [16]byte{token}}
}

func newFakeQueue(f *fakeBus, now time.Time) *Queue {
	return NewQueue("jobs", f, f, f, clock.NewFake(now))
}

func TestReceiveDeadLettersInvalidBodies(t *testing.T) {
	j := sampleJob()
	f := &fakeBus{inbox: []*azservicebus.ReceivedMessage{
		{MessageID: "garbage", Body: []byte("{not json"), LockToken: [16]byte{9}},
		received(t, j, 1),
	}}
	q := newFakeQueue(f, time.Now())
	ds, err := q.Receive(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Job.ID != j.ID {
		t.Fatalf("deliveries = %+v, want only job %s", ds, j.ID)
	}
	if len(f.deadLetters) != 1 || f.deadLetters[0][:len("garbage: InvalidJob: ")] != "garbage: InvalidJob: " {
		t.Errorf("dead letters = %q, want the garbage message with reason InvalidJob", f.deadLetters)
	}
}

func TestRetrySendsScheduledNextAttemptThenCompletes(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	j := sampleJob()
	f := &fakeBus{inbox: []*azservicebus.ReceivedMessage{received(t, j, 1)}}
	q := newFakeQueue(f, now)
	ds, err := q.Receive(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Retry(context.Background(), ds[0], 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(f.sent) != 1 {
		t.Fatalf("sent %d messages, want 1", len(f.sent))
	}
	next := j.Next(5*time.Minute, now)
	got := []any{*f.sent[0].MessageID, *f.sent[0].ScheduledEnqueueTime, f.sent[0].ApplicationProperties["attempt"], f.completed}
	want := []any{next.ID, now.Add(5 * time.Minute), int64(2), []string{j.ID}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("retry id, schedule, attempt, completed (-got +want):\n%s", diff)
	}
}

func TestSettleErrors(t *testing.T) {
	lockLost := &azservicebus.Error{Code: azservicebus.CodeLockLost}
	tests := []struct {
		name     string
		settle   error
		token    string // empty: the received token
		wantLost bool
	}{
		{"service bus says lock lost", lockLost, "", true},
		{"token never received here", nil, "00000000-0000-0000-0000-000000000000", true},
		{"other failure", errors.New("connection reset"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeBus{inbox: []*azservicebus.ReceivedMessage{received(t, sampleJob(), 1)}, settleErr: tt.settle}
			q := newFakeQueue(f, time.Now())
			ds, err := q.Receive(context.Background(), 1)
			if err != nil {
				t.Fatal(err)
			}
			d := ds[0]
			if tt.token != "" {
				d.LockToken = tt.token
			}
			err = q.Complete(context.Background(), d)
			if err == nil {
				t.Fatal("complete succeeded, want an error")
			}
			if got := errors.Is(err, jobs.ErrLockLost); got != tt.wantLost {
				t.Errorf("errors.Is(%v, ErrLockLost) = %v, want %v", err, got, tt.wantLost)
			}
		})
	}
}

func TestSettleAfterTransientFailureCanBeRetried(t *testing.T) {
	f := &fakeBus{inbox: []*azservicebus.ReceivedMessage{received(t, sampleJob(), 1)}, settleErr: errors.New("connection reset")}
	q := newFakeQueue(f, time.Now())
	ds, _ := q.Receive(context.Background(), 1)
	if err := q.Complete(context.Background(), ds[0]); err == nil {
		t.Fatal("first complete succeeded, want the injected failure")
	}
	f.settleErr = nil
	if err := q.Complete(context.Background(), ds[0]); err != nil {
		t.Fatalf("second complete: %v", err)
	}
}

func TestDeadLettersPeeksAllPages(t *testing.T) {
	j := sampleJob()
	var dlq []*azservicebus.ReceivedMessage
	for i := range 150 {
		m := received(t, j, 1)
		m.SequenceNumber = ptr(int64(i + 10))
		m.DeadLetterReason = ptr("MaxDeliveryCountExceeded")
		dlq = append(dlq, m)
	}
	dlq[149].Body = []byte("junk")
	f := &fakeBus{dlq: dlq}
	got, err := newFakeQueue(f, time.Now()).DeadLetters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 {
		t.Fatalf("listed %d dead letters, want 150", len(got))
	}
	if got[0].Reason != "MaxDeliveryCountExceeded" || got[0].Job.ID != j.ID {
		t.Errorf("first dead letter = %+v", got[0])
	}
	if string(got[149].Body) != "junk" || got[149].Job.ID != "" {
		t.Errorf("undecodable dead letter = %+v, want raw body kept", got[149])
	}
}

func TestReceiveWaitsForCtx(t *testing.T) {
	q := newFakeQueue(&fakeBus{}, time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := q.Receive(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// A message whose counter is poisoned (issue 26) is dead-lettered at once
// as an invalid job, not run.
func TestReceiveDeadLettersPoisonCounter(t *testing.T) {
	j := sampleJob()
	body, err := jobs.Encode(j)
	if err != nil {
		t.Fatal(err)
	}
	poison := strings.Replace(string(body), `"attempt":1`, `"attempt":1,"streak":9223372036854775807`, 1)
	f := &fakeBus{inbox: []*azservicebus.ReceivedMessage{{MessageID: "poison", Body: []byte(poison), LockToken: [16]byte{7}}, received(t, j, 1)}}
	ds, err := newFakeQueue(f, time.Now()).Receive(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || len(f.deadLetters) != 1 || !strings.HasPrefix(f.deadLetters[0], "poison: InvalidJob: ") || !strings.Contains(f.deadLetters[0], `"streak"`) {
		t.Errorf("deliveries %d, dead letters %q; want the poison dead-lettered as InvalidJob naming streak", len(ds), f.deadLetters)
	}
}
