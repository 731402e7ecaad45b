package autopilot

import (
	"time"

	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/pipeline"
	"github.com/plautopilot/autopilot/pkg/reconcile"
)

// hooks are the Service's pipeline hooks: counters, failures and the last
// sweep for Status, each followed by the caller's own hook.
func (s *Service) hooks(extra pipeline.Hooks) pipeline.Hooks {
	return pipeline.Hooks{
		Events: func(res events.Result, err error) {
			s.countEvents(res, err)
			if extra.Events != nil {
				extra.Events(res, err)
			}
		},
		Sent: extra.Sent,
		Reconciled: func(d jobs.Delivery, disp reconcile.Disposition) {
			s.countReconcile(d, disp)
			if extra.Reconciled != nil {
				extra.Reconciled(d, disp)
			}
		},
		Verified: func(d jobs.Delivery, st jobs.Settlement) {
			s.countVerify(d, st)
			if extra.Verified != nil {
				extra.Verified(d, st)
			}
		},
		Misrouted: func(d jobs.Delivery, reason, description string) {
			s.addFailure(d.Job, reason, description)
			if extra.Misrouted != nil {
				extra.Misrouted(d, reason, description)
			}
		},
		Swept: func(start time.Time, res reconcile.SweepResult, err error) {
			s.recordSweep(start, res, err)
			if extra.Swept != nil {
				extra.Swept(start, res, err)
			}
		},
	}
}

// countEvents updates the event counters; the intake reports every
// delivery, whether it came through HandleEvents or the webhook.
func (s *Service) countEvents(res events.Result, err error) {
	s.c.events.Add(int64(res.Received))
	s.c.eventsEnqueued.Add(int64(res.Enqueued))
	s.c.eventsIgnored.Add(int64(res.Ignored))
	s.c.eventsMalformed.Add(int64(res.Malformed))
	s.c.eventsUngoverned.Add(int64(res.Ungoverned))
	if err != nil {
		s.c.eventErrors.Add(1)
	}
}

func (s *Service) countReconcile(d jobs.Delivery, disp reconcile.Disposition) {
	s.c.reconcileRuns.Add(1)
	s.c.armReads.Add(int64(disp.Result.Reads))
	s.c.armWrites.Add(int64(disp.Result.Writes))
	switch disp.Verdict {
	case reconcile.Retry:
		s.c.reconcileRetried.Add(1)
	case reconcile.DeadLetter:
		s.c.reconcileFailed.Add(1)
		s.addFailure(d.Job, disp.Reason, disp.Description)
	default:
		s.c.reconcileDone.Add(1)
	}
}

func (s *Service) countVerify(d jobs.Delivery, st jobs.Settlement) {
	s.c.verifyRuns.Add(1)
	switch {
	case st.IsRetry():
		s.c.verifyRetried.Add(1)
	case st.IsDeadLetter():
		s.c.verifyFailed.Add(1)
		s.addFailure(d.Job, st.Reason(), st.Description())
	default:
		s.c.verifyDone.Add(1)
	}
}

func (s *Service) recordSweep(start time.Time, res reconcile.SweepResult, err error) {
	s.c.sweeps.Add(1)
	s.c.armReads.Add(int64(res.Reads))
	rep := &SweepReport{At: start, Targets: res.Targets, VNets: res.VNets, Enqueued: len(res.Enqueued), Reads: res.Reads, Errors: res.Errors}
	if err != nil {
		s.c.sweepErrors.Add(1)
		if len(rep.Errors) == 0 {
			rep.Errors = []string{err.Error()}
		}
	}
	s.mu.Lock()
	s.lastSweep = rep
	s.mu.Unlock()
}
