package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/rs/zerolog"
)

// DefaultSweepInterval is the sweep window when none is configured.
const DefaultSweepInterval = 15 * time.Minute

// Sweeper makes the autopilot level-triggered: it lists governed targets
// and VNets in every governed subscription and enqueues reconcile jobs, so a
// lost event costs at most one sweep interval.
type Sweeper struct {
	Reader core.Reader
	Policy Policy
	Jobs   jobs.Sender
	// Interval is the sweep period; job ids are derived from the window
	// (now truncated to it), so repeated sweeps in one window collapse.
	Interval time.Duration
	Log      zerolog.Logger
}

// SweepResult reports what one sweep did and cost.
type SweepResult struct {
	Window        time.Time `json:"window"`
	Subscriptions int       `json:"subscriptions"`
	Targets       int       `json:"targets"` // governed targets seen
	VNets         int       `json:"vnets"`
	// Enqueued lists the jobs sent (duplicates within a window collapse in
	// the queue).
	Enqueued []jobs.Job `json:"enqueued,omitempty"`
	// Reads counts ARM calls: one ListTargets and one ListVNets per
	// subscription, plus one ListVNetLinks per managed zone when any VNet
	// matches a link rule.
	Reads  int      `json:"reads"`
	Errors []string `json:"errors,omitempty"`
}

// Sweep enqueues a reconcile job for every governed target with a Pending
// or Approved connection (pending ones need a decision; approved ones may
// lack DNS), and for every VNet that a link rule wants linked to a managed
// zone it is not linked to. A failure in one subscription does not stop
// the others; the errors are returned joined (classified) with the result.
func (s *Sweeper) Sweep(ctx context.Context, now time.Time) (SweepResult, error) {
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultSweepInterval
	}
	window := now.UTC().Truncate(interval)
	disc := "sweep:" + window.Format(time.RFC3339)
	res := SweepResult{Window: window}
	m := newMemo(s.Reader)
	var errs []error
	fail := func(err error) {
		errs = append(errs, err)
		res.Errors = append(res.Errors, err.Error())
	}
	send := func(subject jobs.Subject, id, why string) {
		j := jobs.Job{Version: jobs.Version, ID: jobs.NewID(jobs.KindReconcile, subject, id, disc), Kind: jobs.KindReconcile,
			Subject: subject, TargetID: id, Attempt: 1, CorrelationID: disc, Trigger: jobs.TriggerSweep, Reason: "sweep: " + why, Created: now}
		if err := s.Jobs.Send(ctx, j); err != nil {
			fail(&core.Error{Class: core.Retryable, Op: "send sweep job", ResourceID: id, Err: err})
			return
		}
		res.Enqueued = append(res.Enqueued, j)
	}
	zones := s.Policy.Zones()
	linksListed := false
	linked := map[string]bool{} // vnetKey|zoneKey
	listLinks := func() error {
		if linksListed {
			return nil
		}
		for _, z := range zones {
			ls, err := m.links(ctx, z.ID)
			if err != nil {
				return fmt.Errorf("sweep: links of zone %s: %w", z.Name, err)
			}
			for _, l := range ls {
				linked[core.IDKey(l.VNetID)+"|"+core.IDKey(z.ID)] = true
			}
		}
		linksListed = true
		return nil
	}

	for _, sub := range s.Policy.Subscriptions() {
		res.Subscriptions++
		targets, err := m.targets(ctx, sub)
		if err != nil {
			fail(fmt.Errorf("sweep: targets of subscription %s: %w", sub, err))
		}
		for _, t := range targets {
			if !s.Policy.GovernsTarget(t) {
				continue
			}
			res.Targets++
			if why := sweepReason(t); why != "" {
				send(jobs.SubjectTarget, t.ID, why)
			}
		}
		vnets, err := m.vnets(ctx, sub)
		if err != nil {
			fail(fmt.Errorf("sweep: vnets of subscription %s: %w", sub, err))
			continue
		}
		byID := map[string]core.VNet{}
		for _, v := range vnets {
			byID[core.IDKey(v.ID)] = v
		}
		for _, v := range vnets {
			res.VNets++
			var peers []core.VNet
			for _, pid := range activePeers(v) {
				if p, ok := byID[core.IDKey(pid)]; ok {
					peers = append(peers, p)
				}
			}
			decisions, err := s.Policy.DecideLinks(linkInput(v, peers))
			if err != nil {
				fail(fmt.Errorf("sweep: link rules for VNet %s: %w", v.ID, err))
				continue
			}
			wanted := false
			for _, d := range decisions {
				if d.Link {
					wanted = true
				}
			}
			if !wanted {
				continue
			}
			if err := listLinks(); err != nil {
				fail(err)
				break
			}
			for _, d := range decisions {
				if d.Link && !linked[core.IDKey(v.ID)+"|"+core.IDKey(d.ZoneID)] {
					send(jobs.SubjectVNet, v.ID, "VNet matches link rule "+d.Rule+" and is not linked")
					break
				}
			}
		}
	}
	res.Reads = m.reads
	s.Log.Info().Time("window", window).Int("subscriptions", res.Subscriptions).Int("targets", res.Targets).
		Int("vnets", res.VNets).Int("enqueued", len(res.Enqueued)).Int("reads", res.Reads).Strs("errors", res.Errors).Msg("sweep")
	return res, joinClassified(errs)
}

// sweepReason says why a governed target needs a reconcile, "" when none.
func sweepReason(t core.Target) string {
	approved := false
	for _, c := range t.Connections {
		switch c.Status {
		case core.StatusPending:
			return "pending connection " + c.Name
		case core.StatusApproved:
			approved = true
		}
	}
	if approved {
		return "approved connections: check DNS"
	}
	if publicDisabled(t) {
		return "public access Disabled and no approved connection: report the target unreachable"
	}
	return ""
}
