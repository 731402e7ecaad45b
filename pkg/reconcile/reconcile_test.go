package reconcile

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/rs/zerolog"
)

type rig struct {
	arm  *fakeARM
	pol  *fakePolicy
	jobs *fakeSender
	sink *outcome.MemorySink
	r    *Reconciler
}

func newRig(t *testing.T, arm *fakeARM, edit func(*fakePolicy)) *rig {
	t.Helper()
	g := &rig{arm: arm, pol: newFakePolicy(), jobs: &fakeSender{}, sink: outcome.NewMemorySink(100)}
	if edit != nil {
		edit(g.pol)
	}
	r, err := New(Config{Reader: arm, Writer: arm, Policy: g.pol, Jobs: g.jobs, Sink: g.sink,
		Now: func() time.Time { return t0 }, Log: zerolog.Nop(), Backoff: Backoff{Rand: func() float64 { return 0.5 }}})
	if err != nil {
		t.Fatal(err)
	}
	g.r = r
	return g
}

func eventTypes(evs []outcome.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, strings.TrimPrefix(string(e.Type), "io.plautopilot.")+" "+core.NameOf(e.Subject)+" "+e.Data.Result)
	}
	return out
}

func TestHandleApprovesLinksAndConverges(t *testing.T) {
	for _, subject := range []jobs.Subject{jobs.SubjectTarget, jobs.SubjectEndpoint} {
		t.Run(string(subject), func(t *testing.T) {
			g := newRig(t, world(), nil)
			id := wsID
			if subject == jobs.SubjectEndpoint {
				id = pe1ID
			}
			job := reconcileJob(subject, id)
			res, err := g.r.Handle(context.Background(), job)
			if err != nil {
				t.Fatalf("Handle: %v", err)
			}
			wantWrites := []string{
				"SetConnectionStatus " + conn1ID,
				"EnsureZoneGroup " + pe1ID,
				"EnsureVNetLink " + spokeVNet,
				"EnsureVNetLink " + hubVNet,
			}
			if diff := cmp.Diff(g.arm.writes, wantWrites); diff != "" {
				t.Errorf("ARM writes (-got +want):\n%s", diff)
			}
			// target (or endpoint) + the other + endpoint VNet + peer VNet + zone links: each read once
			if res.Reads != 5 || res.Writes != 4 {
				t.Errorf("reads/writes = %d/%d, want 5/4", res.Reads, res.Writes)
			}
			for k, n := range g.arm.reads {
				if n != 1 {
					t.Errorf("%s read %d times in one job, want once", k, n)
				}
			}
			if got := g.arm.targets[core.IDKey(wsID)].Connections[0]; got.Status != core.StatusApproved || got.Description != "approved by autopilot rule allow-spokes" {
				t.Errorf("connection after job = %s %q, want Approved with the rule's description", got.Status, got.Description)
			}
			var verify []string
			for _, j := range g.jobs.sent {
				if j.Kind != jobs.KindVerify || !j.NotBefore.Equal(t0.Add(FollowUpWindow+5*time.Minute)) || j.CorrelationID != "corr-1" {
					t.Errorf("sent job %+v, want verify jobs due 5m after the window (t0+30s) correlated to the event", j)
				}
				verify = append(verify, string(j.Subject)+" "+core.NameOf(j.TargetID))
			}
			if diff := cmp.Diff(verify, []string{"target ws1", "endpoint pe1"}); diff != "" {
				t.Errorf("verify jobs (-got +want):\n%s", diff)
			}
			wantEvents := []string{
				"connection.approved pe1.c1 applied",
				"zonegroup.created pe1 applied",
				"link.created spoke1 applied",
				"link.created hub applied",
				// the fake policy manages only privatelink.fhir...: the
				// workspace and dicom zones the workspace needs are missing
				"dns.finding pe1 observed",
				"dns.finding pe1 observed",
			}
			if diff := cmp.Diff(eventTypes(g.sink.Events()), wantEvents); diff != "" {
				t.Errorf("outcome events (-got +want):\n%s", diff)
			}
			ev := g.sink.Events()[0]
			if ev.Data.Rule != "allow-spokes" || ev.Data.Before != "Pending" || ev.Data.After != "Approved" || ev.Data.CorrelationID != "corr-1" || ev.Data.JobID != job.ID {
				t.Errorf("approval event data = %+v, want rule, before/after, correlation and job id", ev.Data)
			}

			// Rerun (a duplicate event): empty plan, zero writes, nothing sent.
			g.arm.writes = nil
			sentBefore := len(g.jobs.sent)
			job2 := job
			job2.ID = "duplicate"
			res2, err := g.r.Handle(context.Background(), job2)
			if err != nil {
				t.Fatalf("second Handle: %v", err)
			}
			if !res2.Plan.Empty() || len(summary(res2.Plan)) != 0 {
				t.Errorf("plan on converged state = %v, want empty", summary(res2.Plan))
			}
			if res2.Writes != 0 || len(g.arm.writes) != 0 || len(g.jobs.sent) != sentBefore {
				t.Errorf("converged rerun wrote %v and sent %d jobs, want nothing", g.arm.writes, len(g.jobs.sent)-sentBefore)
			}
		})
	}
}

func TestHandleAuditModeWritesNothing(t *testing.T) {
	g := newRig(t, world(), func(p *fakePolicy) { p.mode = policy.ModeAudit })
	res, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plan.Changes()) != 4 {
		t.Errorf("audit plan has %d changes, want 4 (approve, zone group, 2 links)", len(res.Plan.Changes()))
	}
	if len(g.arm.writes) != 0 || res.Writes != 0 || len(g.jobs.sent) != 0 {
		t.Errorf("audit mode wrote %v and sent %d jobs, want nothing", g.arm.writes, len(g.jobs.sent))
	}
	for _, e := range g.sink.Events() {
		want := outcome.ResultPlanned
		if e.Type == outcome.DNSFinding {
			want = outcome.ResultObserved // a finding writes nothing in either mode
		}
		if e.Data.Mode != "audit" || e.Data.Result != want {
			t.Errorf("audit event %s has mode %q result %q, want audit/planned", e.Type, e.Data.Mode, e.Data.Result)
		}
	}
	if got := len(g.sink.ByType(outcome.ConnectionApproved)); got != 1 {
		t.Errorf("audit recorded %d approval decisions, want 1", got)
	}
}

func TestHandleRejectsUnknownSubscription(t *testing.T) {
	f := world()
	e := f.endpoints[core.IDKey(pe1ID)]
	e.SubscriptionID = subUnknown
	f.endpoints[core.IDKey(pe1ID)] = e
	g := newRig(t, f, nil)
	if _, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID)); err != nil {
		t.Fatal(err)
	}
	c := f.targets[core.IDKey(wsID)].Connections[0]
	if c.Status != core.StatusRejected || c.Description != "rejected: subscription not allowed" {
		t.Errorf("connection = %s %q, want Rejected with the rule's description", c.Status, c.Description)
	}
	if len(f.links[core.IDKey(zoneID)]) != 0 {
		t.Errorf("rejected endpoint's VNet got linked: %v", f.links[core.IDKey(zoneID)])
	}
}

func TestHandleUnreadableEndpointLeavesPending(t *testing.T) {
	f := world()
	f.fail["GetEndpoint"] = []error{&core.Error{Class: core.Fatal, Op: "get endpoint", StatusCode: 403, Code: "AuthorizationFailed"}}
	g := newRig(t, f, nil)
	res, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatalf("Handle: %v (an unreadable endpoint is the policy's call, not a job failure)", err)
	}
	if in := g.pol.decided[0]; in.Endpoint != nil || in.EndpointReadable {
		t.Errorf("policy got endpoint %v readable %v, want nil/false", in.Endpoint, in.EndpointReadable)
	}
	if diff := cmp.Diff(summary(res.Plan), []string{"leave-pending pe1.c1"}); diff != "" {
		t.Errorf("plan (-got +want):\n%s", diff)
	}
	if got := eventTypes(g.sink.Events()); len(got) != 1 || !strings.HasPrefix(got[0], "connection.left-pending") {
		t.Errorf("events = %v, want one connection.left-pending", got)
	}
}

func TestHandleVNetDeletedRemovesOnlyOwnLinks(t *testing.T) {
	f := world()
	delete(f.vnets, core.IDKey(spokeVNet))
	ours := core.VNetLink{ID: zoneID + "/virtualNetworkLinks/ours", ZoneID: zoneID, VNetID: spokeVNet, Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}}
	theirs := core.VNetLink{ID: zoneID + "/virtualNetworkLinks/theirs", ZoneID: zoneID, VNetID: spokeVNet}
	hub := core.VNetLink{ID: zoneID + "/virtualNetworkLinks/hub", ZoneID: zoneID, VNetID: hubVNet, Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}}
	f.links[core.IDKey(zoneID)] = []core.VNetLink{ours, theirs, hub}
	g := newRig(t, f, nil)
	job := reconcileJob(jobs.SubjectVNet, spokeVNet)
	job.Deleted = true
	res, err := g.r.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, l := range f.links[core.IDKey(zoneID)] {
		left = append(left, l.Name+core.NameOf(l.ID))
	}
	if diff := cmp.Diff(left, []string{"theirs", "hub"}); diff != "" {
		t.Errorf("links left (-got +want):\n%s", diff)
	}
	if res.Writes != 1 || res.Reads != 2 {
		t.Errorf("reads/writes = %d/%d, want 2/1 (get vnet, list links; one delete)", res.Reads, res.Writes)
	}
}

func TestHandleVNetDeleteEventButVNetExists(t *testing.T) {
	// delete event delivered after the VNet was re-created: level-triggered,
	// the VNet is live and its managed links stay.
	f := world()
	f.links[core.IDKey(zoneID)] = []core.VNetLink{{ID: zoneID + "/virtualNetworkLinks/ours", ZoneID: zoneID, VNetID: spokeVNet,
		Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}}}
	g := newRig(t, f, nil)
	job := reconcileJob(jobs.SubjectVNet, spokeVNet)
	job.Deleted = true
	res, err := g.r.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.arm.writes) != 0 {
		t.Errorf("writes = %v, want none", g.arm.writes)
	}
	if !strings.Contains(strings.Join(res.Plan.Notes, "\n"), "treated as live") {
		t.Errorf("notes %q, want the out-of-order delete explained", res.Plan.Notes)
	}
}

func TestHandlePeeringEventFollowsUpGovernedTargets(t *testing.T) {
	f := approvedWorld()
	g := newRig(t, f, nil)
	job := reconcileJob(jobs.SubjectVNet, hubVNet)
	job.Trigger, job.Reason = jobs.TriggerPeering, "a peering of the hub changed" // the trigger decides, not the note
	res, err := g.r.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.jobs.sent) != 1 || g.jobs.sent[0].Subject != jobs.SubjectTarget || !core.SameID(g.jobs.sent[0].TargetID, wsID) {
		t.Fatalf("sent %+v, want one follow-up reconcile of ws1", g.jobs.sent)
	}
	if !res.Plan.Empty() {
		t.Errorf("follow-ups made the plan non-empty: %v", summary(res.Plan))
	}
	// the follow-up links the peer
	if _, err := g.r.Handle(context.Background(), g.jobs.sent[0]); err != nil {
		t.Fatal(err)
	}
	if n := len(f.links[core.IDKey(zoneID)]); n != 2 {
		t.Errorf("links after follow-up = %d, want 2 (spoke1 and hub)", n)
	}
}

// Only a job triggered by a peering asks the governed targets to follow up:
// a VNet write whose human note happens to name a peering does not (the
// note is for people; the trigger, set by the classifier, decides).
func TestOnlyPeeringTriggerFollowsUp(t *testing.T) {
	f := approvedWorld()
	g := newRig(t, f, nil)
	job := reconcileJob(jobs.SubjectVNet, hubVNet)
	job.Trigger, job.Reason = jobs.TriggerVNet, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write (quoted in a note)"
	if _, err := g.r.Handle(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	for _, j := range g.jobs.sent {
		if j.Kind == jobs.KindReconcile {
			t.Errorf("a VNet write sent reconcile job %+v: only peering jobs follow up targets", j)
		}
	}
	if a, b := CoalesceKey(job), CoalesceKey(reconcileJob(jobs.SubjectVNet, hubVNet)); a != b {
		t.Errorf("coalesce keys of two VNet writes differ by their note: %q vs %q", a, b)
	}
	job.Trigger = jobs.TriggerPeering
	if CoalesceKey(job) == CoalesceKey(reconcileJob(jobs.SubjectVNet, hubVNet)) {
		t.Error("a peering job shares its coalesce key with a VNet write: the write's run would cover the peering's follow-ups")
	}
}

func TestHandleSubjectGone(t *testing.T) {
	g := newRig(t, newFakeARM(), nil)
	res, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatalf("Handle of a deleted target: %v, want nil (nothing to do)", err)
	}
	if len(res.Plan.Actions) != 0 {
		t.Errorf("plan = %v, want empty", summary(res.Plan))
	}
	if got := g.sink.ByType(outcome.SubjectGone); len(got) != 1 {
		t.Errorf("subject.gone events = %d, want 1", len(got))
	}
}

func TestProcessFaults(t *testing.T) {
	throttled := &core.Error{Class: core.Retryable, Op: "approve connection", StatusCode: 429, RetryAfter: 20 * time.Second}
	forbidden := &core.Error{Class: core.Fatal, Op: "create vnet link", StatusCode: 403, Code: "AuthorizationFailed", Err: errors.New("no join permission")}
	tests := []struct {
		name      string
		op        string
		err       error
		verdict   Verdict
		minDelay  time.Duration
		maxDelay  time.Duration
		reason    string
		failedEvt bool
	}{
		{name: "429 on approve: retry honouring Retry-After", op: "SetConnectionStatus", err: throttled, verdict: Retry, minDelay: 20 * time.Second, maxDelay: 20 * time.Second},
		{name: "500 on link: retry with back-off", op: "EnsureVNetLink", err: &core.Error{Class: core.Retryable, StatusCode: 500}, verdict: Retry, minDelay: 2500 * time.Millisecond, maxDelay: 5 * time.Second},
		{name: "409 on zone group: retry", op: "EnsureZoneGroup", err: &core.Error{Class: core.Retryable, StatusCode: 409, Code: "AnotherOperationInProgress"}, verdict: Retry, minDelay: 2500 * time.Millisecond, maxDelay: 5 * time.Second},
		{name: "network error on read: retry", op: "GetVNet", err: errors.New("connection reset"), verdict: Retry, minDelay: 2500 * time.Millisecond, maxDelay: 5 * time.Second},
		{name: "403 on link: dead-letter with reason and job.failed", op: "EnsureVNetLink", err: forbidden, verdict: DeadLetter, reason: "AuthorizationFailed", failedEvt: true},
		{name: "403 reading the target: dead-letter", op: "GetTarget", err: forbidden, verdict: DeadLetter, reason: "AuthorizationFailed", failedEvt: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := world()
			f.fail[tt.op] = []error{tt.err}
			g := newRig(t, f, nil)
			job := reconcileJob(jobs.SubjectTarget, wsID)
			disp := g.r.ProcessDelivery(context.Background(), jobs.Delivery{Job: job, DeliveryCount: 1})
			if disp.Verdict != tt.verdict {
				t.Fatalf("verdict = %s (%s), want %s", disp.Verdict, disp.Description, tt.verdict)
			}
			if tt.verdict == Retry && (disp.Delay < tt.minDelay || disp.Delay > tt.maxDelay) {
				t.Errorf("retry delay = %s, want within [%s, %s]", disp.Delay, tt.minDelay, tt.maxDelay)
			}
			if tt.reason != "" && disp.Reason != tt.reason {
				t.Errorf("dead-letter reason = %q, want %q", disp.Reason, tt.reason)
			}
			failed := g.sink.ByType(outcome.JobFailed)
			if tt.failedEvt != (len(failed) == 1) {
				t.Errorf("job.failed events = %d, want %v", len(failed), tt.failedEvt)
			}
			if tt.failedEvt && !strings.Contains(failed[0].Data.Error, "403") {
				t.Errorf("job.failed error %q does not carry the cause", failed[0].Data.Error)
			}
			if tt.verdict == Retry {
				// the retry (attempt 2) converges and nothing is lost
				job.Attempt = 2
				if disp := g.r.ProcessDelivery(context.Background(), jobs.Delivery{Job: job}); disp.Verdict != Complete {
					t.Fatalf("retry verdict = %s (%s), want complete", disp.Verdict, disp.Description)
				}
				if c := f.targets[core.IDKey(wsID)].Connections[0]; c.Status != core.StatusApproved || len(f.links[core.IDKey(zoneID)]) != 2 {
					t.Errorf("after retry: connection %s, %d links; want Approved and 2 links", c.Status, len(f.links[core.IDKey(zoneID)]))
				}
			}
			if out := disp.Settlement(); out.IsRetry() != (tt.verdict == Retry) || out.IsDeadLetter() != (tt.verdict == DeadLetter) {
				t.Errorf("jobs.Settlement %s does not match verdict %s", out, disp.Verdict)
			}
		})
	}
}

func TestProcessGivesUpAfterMaxAttempts(t *testing.T) {
	f := world()
	f.fail["GetTarget"] = []error{&core.Error{Class: core.Retryable, StatusCode: 503}}
	g := newRig(t, f, nil)
	job := reconcileJob(jobs.SubjectTarget, wsID)
	job.Attempt, job.Streak = DefaultMaxAttempts, DefaultMaxAttempts-1
	disp := g.r.ProcessDelivery(context.Background(), jobs.Delivery{Job: job})
	if disp.Verdict != DeadLetter || disp.Reason != "RetriesExhausted" {
		t.Errorf("verdict = %s %s, want dead-letter RetriesExhausted", disp.Verdict, disp.Reason)
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		name       string
		attempt    int
		retryAfter time.Duration
		rand       float64
		want       time.Duration
	}{
		{"first retry, least jitter", 1, 0, 0, 2500 * time.Millisecond},
		{"first retry, most jitter", 1, 0, 0.999999, 5 * time.Second},
		{"third retry doubles twice", 3, 0, 0, 10 * time.Second},
		{"capped at max", 20, 0, 0.999999, 2 * time.Minute},
		{"Retry-After is the floor", 1, 30 * time.Second, 0, 30 * time.Second},
		{"Retry-After grows the base", 2, 30 * time.Second, 0.999999, 60 * time.Second},
		{"Retry-After above cap honoured", 1, time.Hour, 0, time.Hour},
		{"Retry-After grows the base only up to the cap", 3, time.Minute, 0.999999, 2 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := Backoff{Rand: func() float64 { return tt.rand }}
			got := b.Delay(tt.attempt, tt.retryAfter)
			if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("Delay(%d, %s) = %s, want %s", tt.attempt, tt.retryAfter, got, tt.want)
			}
		})
	}
	// jitter spreads delays
	b := Backoff{}
	seen := map[time.Duration]bool{}
	for i := 0; i < 20; i++ {
		d := b.Delay(2, 0)
		if d < 5*time.Second || d > 10*time.Second {
			t.Errorf("jittered Delay(2) = %s, want within [5s, 10s]", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Errorf("20 jittered delays were all equal: no jitter")
	}
}

func TestNewNamesMissingDependency(t *testing.T) {
	_, err := New(Config{Reader: newFakeARM(), Writer: newFakeARM(), Policy: newFakePolicy()})
	if err == nil || !strings.Contains(err.Error(), "job sender") {
		t.Errorf("New without a sender: %v, want an error naming the job sender", err)
	}
}
