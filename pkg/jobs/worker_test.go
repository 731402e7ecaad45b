package jobs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
)

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func openStore(t *testing.T) (*embedded.Store, *clock.Fake) {
	t.Helper()
	clock := clock.NewFake(epoch)
	s, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true, MaxDeliveries: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, clock
}

func jobFor(name string) jobs.Job {
	j := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/"+name, "ev")
	j.CorrelationID = name
	return j
}

func sendAll(t *testing.T, q jobs.Sender, js ...jobs.Job) {
	t.Helper()
	for _, j := range js {
		if err := q.Send(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
}

func stats(t *testing.T, q jobs.StatsReporter) jobs.Stats {
	t.Helper()
	st, err := q.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st.NextDue = time.Time{}
	return st
}

func TestPoolBoundsConcurrencyAndCompletesEverything(t *testing.T) {
	s, _ := openStore(t)
	q := s.Queue("reconcile")
	for i := range 24 {
		sendAll(t, q, jobFor(fmt.Sprintf("ws%d", i)))
	}
	var running, peak, handled atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	h := func(ctx context.Context, d jobs.Delivery) jobs.Settlement {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond) // let handlers overlap
		running.Add(-1)
		if handled.Add(1) == 24 {
			cancel()
		}
		return jobs.Done()
	}
	if err := (jobs.Pool{Queue: q, Handler: h, Concurrency: 3, Log: zerolog.Nop()}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p > 3 {
		t.Errorf("peak concurrency %d, want at most 3", p)
	}
	if got := stats(t, q); got != (jobs.Stats{}) {
		t.Errorf("queue after run = %+v, want empty", got)
	}
}

func TestPoolShutdown(t *testing.T) {
	t.Run("a handler finishing within the grace period has its settlement applied", func(t *testing.T) {
		s, _ := openStore(t)
		q := s.Queue("reconcile")
		sendAll(t, q, jobFor("ws"))
		ctx, cancel := context.WithCancel(context.Background())
		started := make(chan struct{})
		h := func(hctx context.Context, d jobs.Delivery) jobs.Settlement {
			close(started)
			<-ctx.Done() // shutdown begins while the job runs
			return jobs.DeadLetterWith("Checked", "finished during shutdown")
		}
		go func() { <-started; cancel() }()
		if err := (jobs.Pool{Queue: q, Handler: h, Concurrency: 2, Grace: time.Minute}).Run(ctx); err != nil {
			t.Fatal(err)
		}
		dls, err := q.DeadLetters(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) != 1 || dls[0].Reason != "Checked" {
			t.Errorf("dead letters = %+v, want the job with reason Checked", dls)
		}
	})
	t.Run("a handler still running after the grace period is cancelled and its lock released", func(t *testing.T) {
		s, _ := openStore(t)
		q := s.Queue("reconcile")
		sendAll(t, q, jobFor("ws"))
		ctx, cancel := context.WithCancel(context.Background())
		started, returned := make(chan struct{}), make(chan struct{})
		h := func(hctx context.Context, d jobs.Delivery) jobs.Settlement {
			close(started)
			<-hctx.Done() // only the handler context's cancellation ends it
			defer close(returned)
			return jobs.Done()
		}
		go func() { <-started; cancel() }()
		if err := (jobs.Pool{Queue: q, Handler: h, Grace: 10 * time.Millisecond}).Run(ctx); err != nil {
			t.Fatal(err)
		}
		<-returned
		if got, want := stats(t, q), (jobs.Stats{Active: 1}); got != want {
			t.Errorf("queue after shutdown = %+v, want %+v (lock released, job kept)", got, want)
		}
		ds, err := q.Receive(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if ds[0].DeliveryCount != 2 {
			t.Errorf("next delivery count = %d, want 2", ds[0].DeliveryCount)
		}
	})
}

func TestPoolStopsWhenStoreCloses(t *testing.T) {
	s, _ := openStore(t)
	q := s.Queue("reconcile")
	errc := make(chan error, 1)
	go func() {
		errc <- (jobs.Pool{Queue: q, Handler: func(context.Context, jobs.Delivery) jobs.Settlement { return jobs.Done() }}).Run(context.Background())
	}()
	_ = s.Close()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), jobs.ErrClosed.Error()) {
		t.Errorf("Pool.Run after close = %v, want ErrClosed", err)
	}
}

func TestDrainRunsScheduledRetriesInSimulatedTime(t *testing.T) {
	s, clock := openStore(t)
	reconcile, verify := s.Queue("reconcile"), s.Queue("verify")
	sendAll(t, reconcile, jobFor("a"), jobFor("b"))
	var mu sync.Mutex
	var log []string
	h := func(ctx context.Context, d jobs.Delivery) jobs.Settlement {
		mu.Lock()
		log = append(log, fmt.Sprintf("%s %s attempt %d at +%s", d.Job.Kind, d.Job.CorrelationID, d.Job.Attempt, clock.Now().Sub(epoch)))
		mu.Unlock()
		switch {
		case d.Job.Kind == jobs.KindReconcile && d.Job.CorrelationID == "a" && d.Job.Attempt < 3:
			return jobs.RetryAfter(time.Duration(d.Job.Attempt) * time.Minute)
		case d.Job.Kind == jobs.KindReconcile:
			v := jobs.New(jobs.KindVerify, jobs.SubjectTarget, d.Job.TargetID, d.Job.ID)
			v.CorrelationID = d.Job.CorrelationID
			v.NotBefore = clock.Now().Add(5 * time.Minute)
			if err := verify.Send(ctx, v); err != nil {
				return jobs.RetryAfter(time.Minute)
			}
			return jobs.Done()
		case d.Job.CorrelationID == "b":
			return jobs.DeadLetterWith("VerifyFailed", "metadata returned 403")
		}
		return jobs.Done()
	}
	res, err := jobs.Drain(context.Background(), h, jobs.DrainOptions{Clock: clock}, reconcile, verify)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"reconcile a attempt 1 at +0s",
		"reconcile b attempt 1 at +0s",
		"reconcile a attempt 2 at +1m0s",
		"reconcile a attempt 3 at +3m0s",
		"verify b attempt 1 at +5m0s",
		"verify a attempt 1 at +8m0s",
	}
	if diff := cmp.Diff(log, want); diff != "" {
		t.Errorf("handled (-got +want):\n%s", diff)
	}
	res.Now = time.Time{}
	if diff := cmp.Diff(res, jobs.DrainResult{Deliveries: 6, Completed: 3, Retried: 2, DeadLettered: 1}); diff != "" {
		t.Errorf("result (-got +want):\n%s", diff)
	}
}

func TestDrainPanics(t *testing.T) {
	s, clock := openStore(t)
	q := s.Queue("reconcile")
	sendAll(t, q, jobFor("boom"))
	calls := 0
	h := func(ctx context.Context, d jobs.Delivery) jobs.Settlement {
		calls++
		panic("nil map")
	}
	res, err := jobs.Drain(context.Background(), h, jobs.DrainOptions{Clock: clock}, q)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || res.Abandoned != 1 || res.DeadLettered != 1 {
		t.Errorf("calls %d, result %+v: want one release then a dead letter", calls, res)
	}
	dls, _ := q.DeadLetters(context.Background())
	if len(dls) != 1 || dls[0].Reason != jobs.DeadLetterReasonPanic || !strings.Contains(dls[0].Description, "nil map") {
		t.Errorf("dead letters = %+v, want HandlerPanic with the panic value", dls)
	}
}

func TestDrainStops(t *testing.T) {
	t.Run("a job retrying for ever hits the delivery limit", func(t *testing.T) {
		s, clock := openStore(t)
		q := s.Queue("reconcile")
		sendAll(t, q, jobFor("loop"))
		h := func(context.Context, jobs.Delivery) jobs.Settlement { return jobs.RetryAfter(time.Second) }
		_, err := jobs.Drain(context.Background(), h, jobs.DrainOptions{Clock: clock, MaxDeliveries: 50}, q)
		if err == nil || !strings.Contains(err.Error(), "after 50 deliveries") {
			t.Errorf("err = %v, want the delivery limit", err)
		}
	})
	t.Run("jobs due after Until stay queued", func(t *testing.T) {
		s, clock := openStore(t)
		q := s.Queue("reconcile")
		later := jobFor("later")
		later.NotBefore = epoch.Add(time.Hour)
		sendAll(t, q, jobFor("now"), later)
		res, err := jobs.Drain(context.Background(), func(context.Context, jobs.Delivery) jobs.Settlement { return jobs.Done() },
			jobs.DrainOptions{Clock: clock, Until: epoch.Add(30 * time.Minute)}, q)
		if err != nil {
			t.Fatal(err)
		}
		if res.Completed != 1 || stats(t, q).Scheduled != 1 {
			t.Errorf("result %+v, stats %+v: want one completed, one still scheduled", res, stats(t, q))
		}
	})
	t.Run("a queue that cannot report its depth is refused", func(t *testing.T) {
		_, err := jobs.Drain(context.Background(), nil, jobs.DrainOptions{}, noStats{})
		if err == nil || !strings.Contains(err.Error(), "cannot report its depth") {
			t.Errorf("err = %v", err)
		}
	})
}

type noStats struct{ jobs.Queue }

type recordingSender struct{ sent []jobs.Job }

func (r *recordingSender) Send(_ context.Context, j jobs.Job) error {
	r.sent = append(r.sent, j)
	return nil
}

func TestSettleHosted(t *testing.T) {
	now := epoch
	d := jobs.Delivery{Job: jobFor("ws"), MessageID: "m", DeliveryCount: 1}
	tests := []struct {
		name     string
		outcome  jobs.Settlement
		wantErr  string
		wantSent []int // attempts sent
	}{
		{"done lets the host complete", jobs.Done(), "", nil},
		{"retry sends the next attempt and lets the host complete", jobs.RetryAfter(time.Minute).WithResumeToken("lro"), "", []int{2}},
		{"dead-letter fails the invocation with the reason", jobs.DeadLetterWith("PolicyInvalid", "rule 2"), "dead-letter requested: PolicyInvalid: rule 2", nil},
		{"a first panic fails the invocation", jobs.Run(context.Background(), func(context.Context, jobs.Delivery) jobs.Settlement { panic("x") }, d), "released after a handler panic", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &recordingSender{}
			err := jobs.SettleHosted(context.Background(), s, d, tt.outcome, now)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
			var got []int
			for _, j := range s.sent {
				got = append(got, j.Attempt)
				if j.ResumeToken != "lro" || !j.NotBefore.Equal(now.Add(time.Minute)) {
					t.Errorf("retry = %+v, want resume token lro due in 1m", j)
				}
			}
			if diff := cmp.Diff(got, tt.wantSent); diff != "" {
				t.Errorf("sent attempts (-got +want):\n%s", diff)
			}
		})
	}
}
