package jobstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Harness is one queue under test and how to drive its time.
type Harness struct {
	// Queue is an empty queue (or one whose leftovers the suite can ignore:
	// every test uses fresh message ids).
	Queue jobs.Queue
	// Now tells the queue's time.
	Now func() time.Time
	// Advance lets d of the queue's time pass: a clock.Fake move for the
	// embedded queue, a real sleep in a live run.
	Advance func(d time.Duration)
	// LockDuration and MaxDeliveries are the queue's settings.
	LockDuration  time.Duration
	MaxDeliveries int
	// Step is the unit of the suite's schedules (a minute of fake time; a
	// few real seconds live, at least twice Quiet).
	Step time.Duration
	// Quiet is how long a Receive must come back empty for the suite to
	// conclude that nothing is receivable.
	Quiet time.Duration
	// Wait bounds a Receive that should return something.
	Wait time.Duration
	// DeadLetters lists the dead letters; nil uses the queue's
	// jobs.DeadLetterLister.
	DeadLetters func(ctx context.Context) ([]jobs.DeadLetter, error)
	// Reopen closes and reopens the queue's store and returns the queue
	// again; nil skips the durability test (Service Bus).
	Reopen func(t *testing.T) jobs.Queue
}

// NewJob returns a valid first attempt of a reconcile job for a unique
// workspace named after name (ids never collide across runs).
func NewJob(name string) jobs.Job {
	var r [6]byte
	_, _ = rand.Read(r[:])
	target := "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-contract/providers/Microsoft.HealthcareApis/workspaces/" + name
	j := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, target, "contract-"+hex.EncodeToString(r[:]))
	j.CorrelationID = "corr-" + name
	j.Reason = "contract test"
	return j
}

// RunContract runs the queue contract; newHarness is called once per subtest.
func RunContract(t *testing.T, newHarness func(t *testing.T) *Harness) {
	t.Run("scheduled jobs wait until due and come in due order", func(t *testing.T) {
		h := newHarness(t)
		now := h.Now()
		third, first, second, immediate := NewJob("third"), NewJob("first"), NewJob("second"), NewJob("immediate")
		third.NotBefore = now.Add(3 * h.Step)
		first.NotBefore = now.Add(1 * h.Step)
		second.NotBefore = now.Add(2 * h.Step)
		for _, j := range []jobs.Job{third, first, second, immediate} {
			send(t, h, j)
		}
		var got []string
		for k := range 4 {
			// Half a step past the k-th schedule, measured from the sends,
			// so that time spent waiting in a live run does not add up.
			h.Advance(max(0, now.Add(time.Duration(k)*h.Step+h.Step/2).Sub(h.Now())))
			for _, d := range receive(t, h, 1) {
				got = append(got, d.Job.CorrelationID)
				complete(t, h, d)
			}
			expectNothing(t, h)
		}
		want := []string{"corr-immediate", "corr-first", "corr-second", "corr-third"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("delivery order (-got +want):\n%s", diff)
		}
	})

	t.Run("an expired lock redelivers the job with its delivery count raised", func(t *testing.T) {
		h := newHarness(t)
		j := NewJob("lock-expiry")
		send(t, h, j)
		first := receive(t, h, 1)[0]
		if first.DeliveryCount != 1 {
			t.Errorf("first delivery count = %d, want 1", first.DeliveryCount)
		}
		if !first.LockedUntil.After(h.Now()) {
			t.Errorf("lockedUntil %s is not after now %s", first.LockedUntil, h.Now())
		}
		expectNothing(t, h) // locked: not delivered twice at once
		h.Advance(h.LockDuration + h.Step)
		second := receive(t, h, 1)[0]
		if second.MessageID != j.ID || second.DeliveryCount != 2 {
			t.Errorf("redelivery = %s count %d, want %s count 2", second.MessageID, second.DeliveryCount, j.ID)
		}
		if second.LockToken == first.LockToken {
			t.Errorf("redelivery reused lock token %q", first.LockToken)
		}
		if err := h.Queue.Complete(ctx(t, h), first); !errors.Is(err, jobs.ErrLockLost) {
			t.Errorf("complete with the expired lock: err = %v, want ErrLockLost", err)
		}
		complete(t, h, second)
		expectNothing(t, h)
	})

	t.Run("a job delivered max deliveries times is dead-lettered with MaxDeliveryCountExceeded", func(t *testing.T) {
		h := newHarness(t)
		j := NewJob("max-deliveries")
		send(t, h, j)
		ab, canAbandon := h.Queue.(jobs.Abandoner)
		for i := 1; i <= h.MaxDeliveries; i++ {
			d := receive(t, h, 1)[0]
			if d.DeliveryCount != i {
				t.Fatalf("delivery %d has delivery count %d", i, d.DeliveryCount)
			}
			if canAbandon {
				if err := ab.Abandon(ctx(t, h), d); err != nil {
					t.Fatalf("abandon delivery %d: %v", i, err)
				}
			} else {
				h.Advance(h.LockDuration + h.Step)
			}
		}
		if !canAbandon {
			h.Advance(h.LockDuration + h.Step)
		}
		expectNothing(t, h)
		dl := findDeadLetter(t, h, j.ID)
		if dl.Reason != jobs.DeadLetterReasonMaxDelivery {
			t.Errorf("dead-letter reason = %q, want %q", dl.Reason, jobs.DeadLetterReasonMaxDelivery)
		}
		if diff := cmp.Diff(dl.Job, j); diff != "" {
			t.Errorf("dead-lettered job (-got +want):\n%s", diff)
		}
	})

	t.Run("a job sent twice with the same id is delivered once", func(t *testing.T) {
		h := newHarness(t)
		j := NewJob("duplicate")
		send(t, h, j)
		again := j
		again.Reason = "redelivered event"
		send(t, h, again)
		d := receive(t, h, 1)[0]
		if d.Job.Reason != j.Reason {
			t.Errorf("delivered reason %q, want the first send's %q", d.Job.Reason, j.Reason)
		}
		expectNothing(t, h)
		complete(t, h, d)
		send(t, h, j) // completed, but still within the duplicate-detection window
		expectNothing(t, h)
	})

	t.Run("retry completes the delivery and schedules attempt+1 after the delay", func(t *testing.T) {
		h := newHarness(t)
		j := NewJob("retry")
		send(t, h, j)
		d := receive(t, h, 1)[0]
		before := h.Now()
		if err := h.Queue.Retry(ctx(t, h), d, 2*h.Step); err != nil {
			t.Fatalf("retry: %v", err)
		}
		expectNothing(t, h)
		h.Advance(3 * h.Step)
		r := receive(t, h, 1)[0]
		want := j.Next(2*h.Step, before)
		if r.Job.ID != want.ID || r.MessageID != want.ID {
			t.Errorf("retry id = %s (message %s), want %s", r.Job.ID, r.MessageID, want.ID)
		}
		if r.Job.Attempt != 2 || r.Job.CorrelationID != j.CorrelationID || r.Job.TargetID != j.TargetID {
			t.Errorf("retry = attempt %d correlation %q target %q, want attempt 2 and the original's", r.Job.Attempt, r.Job.CorrelationID, r.Job.TargetID)
		}
		if r.Job.NotBefore.Before(before.Add(2 * h.Step)) {
			t.Errorf("retry notBefore %s is earlier than retry time + delay %s", r.Job.NotBefore, before.Add(2*h.Step))
		}
		if r.DeliveryCount != 1 {
			t.Errorf("retry delivery count = %d, want 1 (a new message)", r.DeliveryCount)
		}
		complete(t, h, r)
		expectNothing(t, h)
	})

	t.Run("dead-letter keeps the job with its reason and description", func(t *testing.T) {
		h := newHarness(t)
		j := NewJob("dead-letter")
		send(t, h, j)
		d := receive(t, h, 1)[0]
		if err := h.Queue.DeadLetter(ctx(t, h), d, "PolicyInvalid", "rule 3: unknown field"); err != nil {
			t.Fatalf("dead-letter: %v", err)
		}
		expectNothing(t, h)
		dl := findDeadLetter(t, h, j.ID)
		got := []string{dl.Reason, dl.Description, dl.Job.ID}
		if diff := cmp.Diff(got, []string{"PolicyInvalid", "rule 3: unknown field", j.ID}); diff != "" {
			t.Errorf("dead letter reason, description, job id (-got +want):\n%s", diff)
		}
	})

	t.Run("an invalid job is refused on send with the field named", func(t *testing.T) {
		h := newHarness(t)
		j := NewJob("invalid")
		j.Attempt = 0
		err := h.Queue.Send(ctx(t, h), j)
		if !errors.Is(err, jobs.ErrInvalidJob) {
			t.Fatalf("send attempt 0: err = %v, want ErrInvalidJob", err)
		}
		if want := `"attempt"`; !contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	})

	t.Run("jobs, locks and dead letters survive a restart", func(t *testing.T) {
		h := newHarness(t)
		if h.Reopen == nil {
			t.Skip("queue has no local store to reopen")
		}
		locked, scheduled, dead := NewJob("restart-locked"), NewJob("restart-scheduled"), NewJob("restart-dead")
		scheduled.NotBefore = h.Now().Add(h.Step)
		send(t, h, dead)
		d := receive(t, h, 1)[0]
		if err := h.Queue.DeadLetter(ctx(t, h), d, "Broken", "kept across restart"); err != nil {
			t.Fatalf("dead-letter: %v", err)
		}
		send(t, h, locked)
		held := receive(t, h, 1)[0]
		send(t, h, scheduled)

		h.Queue = h.Reopen(t)
		send(t, h, locked) // duplicate detection survives too
		expectNothing(t, h)
		h.Advance(h.LockDuration + h.Step)
		var got []string
		for _, d := range receive(t, h, 2) {
			got = append(got, fmt.Sprintf("%s count %d", d.Job.CorrelationID, d.DeliveryCount))
			complete(t, h, d)
		}
		slices.Sort(got)
		want := []string{"corr-restart-locked count 2", "corr-restart-scheduled count 1"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("after restart (-got +want):\n%s", diff)
		}
		if err := h.Queue.Complete(ctx(t, h), held); !errors.Is(err, jobs.ErrLockLost) {
			t.Errorf("complete with a lock from before the restart: err = %v, want ErrLockLost", err)
		}
		if dl := findDeadLetter(t, h, dead.ID); dl.Reason != "Broken" {
			t.Errorf("dead letter reason after restart = %q, want Broken", dl.Reason)
		}
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func ctx(t *testing.T, h *Harness) context.Context {
	c, cancel := context.WithTimeout(context.Background(), h.Wait)
	t.Cleanup(cancel)
	return c
}

func send(t *testing.T, h *Harness, j jobs.Job) {
	t.Helper()
	if err := h.Queue.Send(ctx(t, h), j); err != nil {
		t.Fatalf("send %s: %v", j.CorrelationID, err)
	}
}

func complete(t *testing.T, h *Harness, d jobs.Delivery) {
	t.Helper()
	if err := h.Queue.Complete(ctx(t, h), d); err != nil {
		t.Fatalf("complete %s: %v", d.Job.CorrelationID, err)
	}
}

// receive collects n deliveries, failing if they do not come within h.Wait.
func receive(t *testing.T, h *Harness, n int) []jobs.Delivery {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), h.Wait)
	defer cancel()
	var got []jobs.Delivery
	for len(got) < n {
		ds, err := h.Queue.Receive(c, n-len(got))
		if err != nil {
			t.Fatalf("receive %d (got %d so far): %v", n, len(got), err)
		}
		got = append(got, ds...)
	}
	return got
}

// expectNothing fails if anything is receivable within h.Quiet; what it
// receives is abandoned or left to expire.
func expectNothing(t *testing.T, h *Harness) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), h.Quiet)
	defer cancel()
	ds, err := h.Queue.Receive(c, 10)
	if err == nil && len(ds) > 0 {
		var ids []string
		for _, d := range ds {
			ids = append(ids, fmt.Sprintf("%s (attempt %d, delivery %d)", d.Job.CorrelationID, d.Job.Attempt, d.DeliveryCount))
		}
		t.Fatalf("received %v, want nothing receivable", ids)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v", err)
	}
}

func findDeadLetter(t *testing.T, h *Harness, id string) jobs.DeadLetter {
	t.Helper()
	list := h.DeadLetters
	if list == nil {
		l, ok := h.Queue.(jobs.DeadLetterLister)
		if !ok {
			t.Fatalf("queue %T cannot list dead letters and the harness gives no DeadLetters", h.Queue)
		}
		list = l.DeadLetters
	}
	dls, err := list(ctx(t, h))
	if err != nil {
		t.Fatalf("list dead letters: %v", err)
	}
	for _, dl := range dls {
		if dl.MessageID == id {
			return dl
		}
	}
	t.Fatalf("no dead letter with message id %s among %d", id, len(dls))
	return jobs.DeadLetter{}
}
