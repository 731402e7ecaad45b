package autopilot

import (
	"context"
	"html/template"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// statusLimit bounds each list of Status.
const statusLimit = 100

type counters struct {
	events, eventsEnqueued, eventsIgnored, eventsMalformed, eventErrors  atomic.Int64
	reconcileRuns, reconcileDone, reconcileRetried, reconcileFailed      atomic.Int64
	verifyRuns, verifyDone, verifyRetried, verifyFailed, verifyRequested atomic.Int64
	sweeps, sweepErrors, evaluations, armReads, armWrites                atomic.Int64
	eventsUngoverned                                                     atomic.Int64
}

// Counters are totals since the Service started.
type Counters struct {
	Events          int64 `json:"events"`
	EventsEnqueued  int64 `json:"eventsEnqueued"`
	EventsIgnored   int64 `json:"eventsIgnored"`
	EventsMalformed int64 `json:"eventsMalformed"`
	// EventsUngoverned counts ignored events about resources outside the
	// governed subscriptions (Config.EventSubscriptions).
	EventsUngoverned int64 `json:"eventsUngoverned"`
	EventErrors      int64 `json:"eventErrors"`
	ReconcileRuns    int64 `json:"reconcileRuns"`
	ReconcileDone    int64 `json:"reconcileDone"`
	ReconcileRetried int64 `json:"reconcileRetried"`
	ReconcileFailed  int64 `json:"reconcileFailed"`
	VerifyRuns       int64 `json:"verifyRuns"`
	VerifyDone       int64 `json:"verifyDone"`
	VerifyRetried    int64 `json:"verifyRetried"`
	VerifyFailed     int64 `json:"verifyFailed"`
	VerifyRequested  int64 `json:"verifyRequested"`
	Sweeps           int64 `json:"sweeps"`
	SweepErrors      int64 `json:"sweepErrors"`
	Evaluations      int64 `json:"evaluations"`
	ARMReads         int64 `json:"armReads"`
	ARMWrites        int64 `json:"armWrites"`
	OutcomeEvents    int64 `json:"outcomeEvents"`
}

// Entry is one recorded outcome (a decision, a link or zone group change,
// a verification result, a failed job), newest first in Status.
type Entry struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // short: approved, rejected, left-pending, link.created, ...
	Subject string    `json:"subject"`
	Target  string    `json:"target,omitempty"`
	Zone    string    `json:"zone,omitempty"`
	Rule    string    `json:"rule,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	// Condition is the deciding rule's condition, from the policy, so the
	// reason says what was checked, not only which rule matched.
	Condition string `json:"condition,omitempty"`
	// Description is what the requester was told (approve, reject).
	Description string `json:"description,omitempty"`
	Before      string `json:"before,omitempty"`
	After       string `json:"after,omitempty"`
	Result      string `json:"result,omitempty"`
	Error       string `json:"error,omitempty"`
	JobID       string `json:"jobId,omitempty"`
}

// Failure is a job the Service gave up on (dead-lettered or parked).
type Failure struct {
	Time        time.Time    `json:"time"`
	JobID       string       `json:"jobId"`
	Kind        jobs.Kind    `json:"kind"`
	Subject     jobs.Subject `json:"subject"`
	TargetID    string       `json:"targetId"`
	Attempt     int          `json:"attempt"`
	Reason      string       `json:"reason"`
	Description string       `json:"description,omitempty"`
}

// SweepReport is the last sweep.
type SweepReport struct {
	At       time.Time `json:"at"`
	Targets  int       `json:"targets"`
	VNets    int       `json:"vnets"`
	Enqueued int       `json:"enqueued"`
	Reads    int       `json:"reads"`
	Errors   []string  `json:"errors,omitempty"`
}

// DeadEvent is an event the intake could not turn into a job.
type DeadEvent struct {
	Time    time.Time `json:"time"`
	EventID string    `json:"eventId,omitempty"`
	Reason  string    `json:"reason"`
	Size    int       `json:"size"`
	// Source is who delivered it (the webhook's client), when known.
	Source string `json:"source,omitempty"`
}

// Status is what the Service decided and did recently.
type Status struct {
	Generated    time.Time    `json:"generated"`
	Policy       string       `json:"policy"`
	PolicyDigest string       `json:"policyDigest"`
	Mode         string       `json:"mode"`
	Counters     Counters     `json:"counters"`
	Decisions    []Entry      `json:"decisions"`
	Links        []Entry      `json:"links"`
	ZoneGroups   []Entry      `json:"zoneGroups"`
	Verification []Entry      `json:"verification"`
	Reports      []Report     `json:"reports,omitempty"`
	ReportsError string       `json:"reportsError,omitempty"`
	Failures     []Entry      `json:"failures"`
	DeadEvents   []DeadEvent  `json:"deadEvents,omitempty"`
	LastSweep    *SweepReport `json:"lastSweep,omitempty"`
	// keyQuery carries the function key (?code=) into the page's links.
	keyQuery string
}

// KeyQuery is what the page's links append to keep the caller's function
// key ("&code=..." with the key query-escaped), empty without one.
func (s Status) KeyQuery() template.URL { return template.URL(s.keyQuery) }

// Report is a verification report summarised for the status page.
type Report struct {
	Subject   string        `json:"subject"`
	Attempt   int           `json:"attempt"`
	StartedAt time.Time     `json:"startedAt"`
	Status    verify.Status `json:"status"`
	Summary   string        `json:"summary"`
	Checks    []Check       `json:"checks"`
}

// Check is one check of a Report.
type Check struct {
	Name      string        `json:"name"`
	Status    verify.Status `json:"status"`
	Diagnosis string        `json:"diagnosis,omitempty"`
}

func (s *Service) addFailure(j jobs.Job, reason, desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = append(s.failures, Failure{Time: s.now(), JobID: j.ID, Kind: j.Kind, Subject: j.Subject,
		TargetID: j.TargetID, Attempt: j.Attempt, Reason: reason, Description: desc})
	if len(s.failures) > statusLimit {
		s.failures = slices.Delete(s.failures, 0, len(s.failures)-statusLimit)
	}
}

// Failures returns the jobs given up on, oldest first.
func (s *Service) Failures() []Failure {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.failures)
}

// Outcomes returns the recent outcome events, oldest first.
func (s *Service) Outcomes() []outcome.Event { return s.mem.Events() }

// Status reports recent decisions, links, zone groups, verification
// results, failures and counters.
func (s *Service) Status() Status {
	p := s.cfg.Policy
	st := Status{Generated: s.now(), Policy: p.Source(), PolicyDigest: p.Digest(), Mode: string(p.Mode()),
		Counters: s.counters(), Decisions: []Entry{}, Links: []Entry{}, ZoneGroups: []Entry{}, Verification: []Entry{}, Failures: []Entry{}}
	seen := map[string]bool{}
	conds := conditions(p)
	evs := s.mem.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		if seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		en := entryOf(e)
		en.Condition = conds[en.Rule]
		var list *[]Entry
		switch e.Type {
		case outcome.ConnectionApproved, outcome.ConnectionRejected, outcome.ConnectionLeftPending:
			list = &st.Decisions
		case outcome.LinkCreated, outcome.LinkUpdated, outcome.LinkRemoved:
			list = &st.Links
		case outcome.ZoneGroupCreated, outcome.DNSFinding: // DNS findings sit with the zone groups
			list = &st.ZoneGroups
		case outcome.VerifyPassed, outcome.VerifyFailed:
			list = &st.Verification
		case outcome.JobFailed:
			list = &st.Failures
		default:
			continue
		}
		if len(*list) < statusLimit {
			*list = append(*list, en)
		}
	}
	if s.cfg.Reports != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		reps, err := s.cfg.Reports.Latest(ctx, nil, 20)
		cancel()
		if err != nil {
			st.ReportsError = err.Error()
		}
		for _, r := range reps {
			st.Reports = append(st.Reports, reportOf(r))
		}
	}
	// Failures recorded without an outcome event (verifier missing, wrong
	// queue) are listed too.
	fails := s.Failures()
	for i := len(fails) - 1; i >= 0 && len(st.Failures) < statusLimit; i-- {
		f := fails[i]
		if slices.ContainsFunc(st.Failures, func(e Entry) bool { return e.JobID == f.JobID && e.Reason == f.Reason }) {
			continue
		}
		st.Failures = append(st.Failures, Entry{Time: f.Time, Type: "job.failed", Subject: f.TargetID, Reason: f.Reason,
			Error: f.Description, Result: outcome.ResultFailed, JobID: f.JobID})
	}
	slices.SortStableFunc(st.Failures, func(a, b Entry) int { return b.Time.Compare(a.Time) })
	st.DeadEvents = s.deadEvents()
	s.mu.Lock()
	if s.lastSweep != nil {
		ls := *s.lastSweep
		st.LastSweep = &ls
	}
	s.mu.Unlock()
	return st
}

func (s *Service) counters() Counters {
	c := &s.c
	return Counters{
		Events: c.events.Load(), EventsEnqueued: c.eventsEnqueued.Load(), EventsIgnored: c.eventsIgnored.Load(),
		EventsMalformed: c.eventsMalformed.Load(), EventErrors: c.eventErrors.Load(), EventsUngoverned: c.eventsUngoverned.Load(),
		ReconcileRuns: c.reconcileRuns.Load(), ReconcileDone: c.reconcileDone.Load(), ReconcileRetried: c.reconcileRetried.Load(),
		ReconcileFailed: c.reconcileFailed.Load(), VerifyRuns: c.verifyRuns.Load(), VerifyDone: c.verifyDone.Load(),
		VerifyRetried: c.verifyRetried.Load(), VerifyFailed: c.verifyFailed.Load(), VerifyRequested: c.verifyRequested.Load(),
		Sweeps: c.sweeps.Load(), SweepErrors: c.sweepErrors.Load(), Evaluations: c.evaluations.Load(),
		ARMReads: c.armReads.Load(), ARMWrites: c.armWrites.Load(), OutcomeEvents: int64(s.mem.Total()),
	}
}

// shortType is an outcome type without the "io.plautopilot." prefix.
func shortType(t outcome.Type) string {
	const prefix = "io.plautopilot."
	s := string(t)
	if len(s) > len(prefix) && s[:len(prefix)] == prefix {
		s = s[len(prefix):]
	}
	return s
}

func entryOf(e outcome.Event) Entry {
	d := e.Data
	return Entry{Time: e.Time, Type: shortType(e.Type), Subject: e.Subject, Target: d.Target, Zone: d.Zone, Rule: d.Rule,
		Reason: d.Reason, Description: d.Description, Before: d.Before, After: d.After, Result: d.Result, Error: d.Error, JobID: d.JobID}
}

// conditions maps the policy's rule names to their conditions.
func conditions(p interface{ Rules() []policy.RuleSummary }) map[string]string {
	out := map[string]string{}
	for _, r := range p.Rules() {
		out[r.Name] = strings.Join(strings.Fields(r.When), " ")
	}
	return out
}

func reportOf(r verify.Report) Report {
	subj := r.Subject.ConnectionID
	for _, s := range []string{r.Subject.EndpointID, r.Subject.TargetID} {
		if subj == "" {
			subj = s
		}
	}
	out := Report{Subject: subj, Attempt: r.Attempt, StartedAt: r.StartedAt, Status: r.Status, Summary: r.Summary}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, Check{Name: c.Name, Status: c.Status, Diagnosis: c.Diagnosis})
	}
	return out
}

// deadEvents lists what the dead store holds, when it can list.
func (s *Service) deadEvents() []DeadEvent {
	var evs []events.DeadEvent
	switch d := s.cfg.Dead.(type) {
	case *events.MemDeadStore:
		evs = d.Events()
	case interface { // a bounded read of the newest (FileDeadStore)
		Tail(n int) ([]events.DeadEvent, error)
	}:
		var err error
		if evs, err = d.Tail(statusLimit); err != nil {
			return []DeadEvent{{Time: s.now(), Reason: "cannot read the dead event store: " + err.Error()}}
		}
	case interface {
		Events() ([]events.DeadEvent, error)
	}:
		var err error
		if evs, err = d.Events(); err != nil {
			return []DeadEvent{{Time: s.now(), Reason: "cannot read the dead event store: " + err.Error()}}
		}
	}
	if len(evs) > statusLimit {
		evs = evs[len(evs)-statusLimit:]
	}
	out := make([]DeadEvent, 0, len(evs))
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		// redacted again when served: a record written before reasons were
		// redacted must not show a secret either
		out = append(out, DeadEvent{Time: e.ReceivedAt, EventID: e.EventID, Reason: events.RedactReason(e.Reason), Size: e.Size, Source: e.Source})
	}
	return out
}
