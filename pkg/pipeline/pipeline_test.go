package pipeline_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/reconcile"
)

// A pipeline without its queues or policy is not built, and the error
// names every missing part.
func TestNewNamesWhatIsMissing(t *testing.T) {
	_, err := pipeline.New(pipeline.Config{})
	if err == nil {
		t.Fatal("a pipeline without policy, ARM and queues was built")
	}
	for _, part := range []string{"Policy", "ARM", "Reconcile", "Verify"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %s", err, part)
		}
	}
}

// The one router: verification jobs to the verify queue, every other job
// to the reconcile queue, each send reported to the Sent hook; a wake-up
// makes a scheduled reconcile job due at once.
func TestRouterSendsByKindAndWakes(t *testing.T) {
	clock := clock.NewFake(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC))
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rq, vq := store.Queue(pipeline.DefaultReconcileQueue), store.Queue(pipeline.DefaultVerifyQueue)
	var sent []string
	r := pipeline.Router{Reconcile: rq, Verify: vq, Sent: func(j jobs.Job) { sent = append(sent, string(j.Kind)) }}
	ctx := context.Background()
	rec := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, "/subscriptions/s/resourceGroups/g/providers/Microsoft.HealthcareApis/workspaces/w", "e1")
	rec.NotBefore = clock.Now().Add(time.Hour)
	ver := jobs.New(jobs.KindVerify, jobs.SubjectTarget, rec.TargetID, "e2")
	for _, j := range []jobs.Job{rec, ver} {
		if err := r.Send(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(sent, ","); got != "reconcile,verify" {
		t.Errorf("Sent hook saw %q, want reconcile,verify", got)
	}
	rst, _ := rq.Stats(ctx)
	vst, _ := vq.Stats(ctx)
	if rst.Scheduled != 1 || rst.Active != 0 || vst.Active != 1 {
		t.Fatalf("reconcile queue %+v, verify queue %+v: want the reconcile job scheduled there and the verification active on its own queue", rst, vst)
	}
	if err := r.Wake(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if rst, _ = rq.Stats(ctx); rst.Active != 1 {
		t.Errorf("reconcile queue after Wake = %+v, want the job due now", rst)
	}
}

// A job on the wrong queue is dead-lettered with reason WrongQueue and
// reported; a verification without a runner is dead-lettered, not lost.
func TestHandlersKeepMisroutedAndUnrunnableJobs(t *testing.T) {
	gw := guidetest.New(t)
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	var misrouted, reconciled int
	p, err := pipeline.New(pipeline.Config{Policy: gw.Policy, ARM: gw.ARM, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Log: zerolog.Nop(), Hooks: pipeline.Hooks{
			Misrouted:  func(jobs.Delivery, string, string) { misrouted++ },
			Reconciled: func(jobs.Delivery, reconcile.Disposition) { reconciled++ },
		}})
	if err != nil {
		t.Fatal(err)
	}
	ver := jobs.Delivery{Job: jobs.New(jobs.KindVerify, jobs.SubjectTarget, "/subscriptions/s/x", "e")}
	if s := p.Reconcile(context.Background(), ver); !s.IsDeadLetter() || s.Reason() != pipeline.ReasonWrongQueue {
		t.Errorf("verify job on the reconcile handler: %v, want dead-letter %s", s, pipeline.ReasonWrongQueue)
	}
	if misrouted != 1 || reconciled != 0 {
		t.Errorf("hooks: misrouted %d, reconciled %d; want 1 and 0", misrouted, reconciled)
	}
	if s := p.Handle(context.Background(), ver); !s.IsDeadLetter() || s.Reason() != pipeline.ReasonVerifierMissing {
		t.Errorf("verify job without a runner: %v, want dead-letter %s", s, pipeline.ReasonVerifierMissing)
	}
}
