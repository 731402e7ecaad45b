package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/jobs/jobstest"
)

func correlations(ds []jobs.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Job.CorrelationID)
	}
	return out
}

func mustSend(t *testing.T, q jobs.Sender, js ...jobs.Job) {
	t.Helper()
	for _, j := range js {
		if err := q.Send(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
}

func mustReceive(t *testing.T, q jobs.Queue, n int) []jobs.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := q.Receive(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestDueJobsComeByDueTimeThenSendOrder(t *testing.T) {
	s, clk, _ := open(t, embedded.Options{})
	q := s.Queue("reconcile")
	sentNow, overdue, sentNowToo, scheduled := jobstest.NewJob("sent-now"), jobstest.NewJob("overdue"), jobstest.NewJob("sent-now-too"), jobstest.NewJob("scheduled")
	overdue.NotBefore = epoch.Add(-5 * time.Minute)
	scheduled.NotBefore = epoch.Add(2 * time.Minute)
	mustSend(t, q, sentNow, scheduled, overdue, sentNowToo)
	clk.Advance(3 * time.Minute)
	got := correlations(mustReceive(t, q, 10))
	want := []string{"corr-overdue", "corr-sent-now", "corr-sent-now-too", "corr-scheduled"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("order (-got +want):\n%s", diff)
	}
}

func TestReceiveWakes(t *testing.T) {
	t.Run("on a send", func(t *testing.T) {
		s, _, _ := open(t, embedded.Options{PollInterval: time.Hour})
		q := s.Queue("reconcile")
		got := make(chan []jobs.Delivery)
		go func() { ds, _ := q.Receive(context.Background(), 1); got <- ds }()
		mustSend(t, q, jobstest.NewJob("woken"))
		if ds := <-got; len(ds) != 1 {
			t.Errorf("received %d", len(ds))
		}
	})
	t.Run("when the clock reaches a scheduled job", func(t *testing.T) {
		s, clk, _ := open(t, embedded.Options{PollInterval: time.Hour})
		q := s.Queue("reconcile")
		j := jobstest.NewJob("scheduled")
		j.NotBefore = epoch.Add(time.Hour)
		mustSend(t, q, j)
		got := make(chan []jobs.Delivery)
		go func() { ds, _ := q.Receive(context.Background(), 1); got <- ds }()
		clk.Advance(time.Hour)
		if ds := <-got; len(ds) != 1 {
			t.Errorf("received %d", len(ds))
		}
	})
	t.Run("with ErrClosed when the store closes", func(t *testing.T) {
		s, _, _ := open(t, embedded.Options{PollInterval: time.Hour})
		errc := make(chan error)
		go func() { _, err := s.Queue("reconcile").Receive(context.Background(), 1); errc <- err }()
		_ = s.Close()
		if err := <-errc; !errors.Is(err, jobs.ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	})
}

func TestStats(t *testing.T) {
	s, _, _ := open(t, embedded.Options{})
	q := s.Queue("reconcile")
	later := jobstest.NewJob("later")
	later.NotBefore = epoch.Add(10 * time.Minute)
	mustSend(t, q, jobstest.NewJob("a"), jobstest.NewJob("b"), jobstest.NewJob("c"), later)
	ds := mustReceive(t, q, 2)
	if err := q.DeadLetter(context.Background(), ds[1], "Broken", ""); err != nil {
		t.Fatal(err)
	}
	got, err := s.Stats("reconcile")
	if err != nil {
		t.Fatal(err)
	}
	want := jobs.Stats{Active: 1, Scheduled: 1, Locked: 1, DeadLettered: 1, NextDue: epoch.Add(time.Minute)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("stats (-got +want):\n%s", diff)
	}
	empty, err := s.Stats("never-used")
	if err != nil || empty != (jobs.Stats{}) {
		t.Errorf("stats of an unused queue = %+v, %v", empty, err)
	}
}

func TestDuplicateDetectionWindow(t *testing.T) {
	tests := []struct {
		name    string
		window  time.Duration
		advance time.Duration
		want    int
	}{
		{"within the window the second send is collapsed", 10 * time.Minute, 9 * time.Minute, 1},
		{"after the window the id is accepted again", 10 * time.Minute, 11 * time.Minute, 2},
		{"a negative window disables detection", -1, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clk, _ := open(t, embedded.Options{DedupWindow: tt.window})
			q := s.Queue("reconcile")
			j := jobstest.NewJob("dup")
			mustSend(t, q, j)
			clk.Advance(tt.advance)
			mustSend(t, q, j)
			st, _ := q.Stats(context.Background())
			if st.Active != tt.want {
				t.Errorf("active = %d, want %d", st.Active, tt.want)
			}
		})
	}
}

func TestLockExpiryUpToMaxDeliveriesDeadLetters(t *testing.T) {
	s, clk, _ := open(t, embedded.Options{MaxDeliveries: 2, LockDuration: time.Minute})
	q := s.Queue("reconcile")
	j := jobstest.NewJob("expiring")
	mustSend(t, q, j)
	for i := 1; i <= 2; i++ {
		if d := mustReceive(t, q, 1)[0]; d.DeliveryCount != i {
			t.Fatalf("delivery count %d, want %d", d.DeliveryCount, i)
		}
		clk.Advance(2 * time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if ds, _ := q.Receive(ctx, 1); len(ds) != 0 {
		t.Fatalf("third delivery %+v, want the job dead-lettered", ds)
	}
	dls, err := s.DeadLetters("reconcile")
	if err != nil {
		t.Fatal(err)
	}
	got := []any{len(dls), dls[0].Reason, dls[0].DeliveryCount, dls[0].DeadLetteredAt}
	want := []any{1, "MaxDeliveryCountExceeded", 2, epoch.Add(4 * time.Minute)}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("dead letter count, reason, deliveries, time (-got +want):\n%s", diff)
	}
}

func TestResubmitDeadLetter(t *testing.T) {
	s, _, _ := open(t, embedded.Options{})
	q := s.Queue("reconcile")
	j := jobstest.NewJob("fixed-later")
	mustSend(t, q, j)
	d := mustReceive(t, q, 1)[0]
	if err := q.DeadLetter(context.Background(), d, "PolicyInvalid", "bad rule"); err != nil {
		t.Fatal(err)
	}
	ok, err := q.Resubmit(context.Background(), j.ID)
	if err != nil || !ok {
		t.Fatalf("resubmit = %v, %v", ok, err)
	}
	again := mustReceive(t, q, 1)[0]
	if again.Job.ID != j.ID || again.DeliveryCount != 1 {
		t.Errorf("resubmitted delivery = %s count %d", again.Job.ID, again.DeliveryCount)
	}
	if dls, _ := q.DeadLetters(context.Background()); len(dls) != 0 {
		t.Errorf("dead letters after resubmit = %d, want 0", len(dls))
	}
	if ok, _ := q.Resubmit(context.Background(), "no-such-id"); ok {
		t.Error("resubmit of an unknown id reported found")
	}
}

func TestQueuesInOneFileAreIndependent(t *testing.T) {
	s, _, _ := open(t, embedded.Options{})
	mustSend(t, s.Queue("reconcile"), jobstest.NewJob("r"))
	mustSend(t, s.Queue("verify"), jobstest.NewJob("v1"), jobstest.NewJob("v2"))
	if first, second := s.Queue("verify"), s.Queue("verify"); first != second {
		t.Error("Queue returned two values for one name")
	}
	names, err := s.Queues()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(names, []string{"reconcile", "verify"}); diff != "" {
		t.Errorf("queues (-got +want):\n%s", diff)
	}
	got := []string{fmt.Sprint(correlations(mustReceive(t, s.Queue("reconcile"), 10))), fmt.Sprint(correlations(mustReceive(t, s.Queue("verify"), 10)))}
	if diff := cmp.Diff(got, []string{"[corr-r]", "[corr-v1 corr-v2]"}); diff != "" {
		t.Errorf("per queue (-got +want):\n%s", diff)
	}
}

func TestOpenErrors(t *testing.T) {
	_, _, path := open(t, embedded.Options{})
	_, err := embedded.Open(path, embedded.Options{OpenTimeout: 50 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "locked by another process") || !strings.Contains(err.Error(), path) {
		t.Errorf("second open = %v, want a lock error naming %s", err, path)
	}
	_, err = embedded.Open(t.TempDir()+"/missing/dir/q.db", embedded.Options{})
	if err == nil || !strings.Contains(err.Error(), "missing/dir/q.db") {
		t.Errorf("open in a missing directory = %v, want an error naming the path", err)
	}
}

func TestSettleWithForeignToken(t *testing.T) {
	s, _, _ := open(t, embedded.Options{})
	q := s.Queue("reconcile")
	mustSend(t, q, jobstest.NewJob("x"))
	d := mustReceive(t, q, 1)[0]
	d.LockToken = "not-a-token"
	err := q.Complete(context.Background(), d)
	if err == nil || errors.Is(err, jobs.ErrLockLost) || !strings.Contains(err.Error(), "malformed lock token") {
		t.Errorf("err = %v, want a malformed-token error", err)
	}
}

// A job deferred for later is made due at once by Wake; other jobs keep
// their schedule, and waking an unknown or delivered id does nothing.
func TestWakeMakesAScheduledJobDueNow(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	s, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clk, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := s.Queue("reconcile")
	ctx := context.Background()
	deferred := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws", "deferred")
	deferred.NotBefore = clk.Now().Add(30 * time.Second)
	later := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws2", "later")
	later.NotBefore = clk.Now().Add(30 * time.Second)
	for _, j := range []jobs.Job{deferred, later} {
		if err := q.Send(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Wake(ctx, deferred.ID, "no-such-id"); err != nil {
		t.Fatal(err)
	}
	now, cancel := context.WithCancel(ctx)
	cancel()
	ds, _ := q.Receive(now, 10)
	if len(ds) != 1 || ds[0].Job.ID != deferred.ID {
		t.Fatalf("received %d jobs right after the wake, want only the woken one", len(ds))
	}
	if err := q.Wake(ctx, deferred.ID, later.ID); err != nil {
		t.Fatal(err)
	}
	if st, _ := q.Stats(ctx); st.Locked != 1 || st.Active != 1 || st.Scheduled != 0 {
		t.Errorf("stats %+v after waking the delivered job and the other: want it still locked and the other due", st)
	}
}

// A retry counts failed runs in a row (Streak); a run that made progress
// starts the count again, so its back-off does too.
func TestRetryStreakResetByProgress(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	s, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clk, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := s.Queue("reconcile")
	ctx := context.Background()
	j := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws", "e1")
	if err := q.Send(ctx, j); err != nil {
		t.Fatal(err)
	}
	var streaks []int
	for _, o := range []jobs.Settlement{jobs.RetryAfter(time.Second), jobs.RetryAfter(time.Second), jobs.RetryAfter(time.Second).WithProgress(), jobs.Done()} {
		clk.Advance(time.Second)
		ds, err := q.Receive(ctx, 1)
		if err != nil || len(ds) != 1 {
			t.Fatalf("receive: %v, %d jobs", err, len(ds))
		}
		streaks = append(streaks, ds[0].Job.Streak)
		if err := jobs.Settle(ctx, q, ds[0], o); err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(streaks, []int{0, 1, 2, 1}); d != "" {
		t.Errorf("streak of each attempt (-got +want):\n%s", d)
	}
}
