package reconcile

import (
	"math"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Issue 26: a job whose streak is near MaxInt64 overflowed the counter
// (streak+1 < 0 < MaxAttempts) and was retried forever. The arithmetic
// saturates now: a poison streak dead-letters at once, and the deferral
// counter cannot wrap either.
func TestPoisonStreakDeadLetters(t *testing.T) {
	b := Backoff{Rand: func() float64 { return 0.5 }}
	fail := &core.Error{Class: core.Retryable, StatusCode: 503}
	for _, streak := range []int{math.MaxInt, math.MaxInt - 1, jobs.MaxCounter} {
		job := reconcileJob(jobs.SubjectTarget, wsID)
		job.Streak = streak
		if d := b.Dispose(job, fail, false); d.Verdict != DeadLetter || d.Reason != "RetriesExhausted" {
			t.Errorf("streak %d: %+v; want dead-letter RetriesExhausted", streak, d)
		}
	}
	if n := jobs.NextCount(math.MaxInt); n != jobs.MaxCounter {
		t.Errorf("NextCount(MaxInt) = %d; want %d", n, jobs.MaxCounter)
	}
}
