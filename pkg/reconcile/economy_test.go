package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
)

func peeringJob(id, evt string) jobs.Job {
	j := reconcileJob(jobs.SubjectVNet, id)
	j.ID = jobs.NewID(jobs.KindReconcile, jobs.SubjectVNet, id, evt)
	j.Trigger, j.Reason = jobs.TriggerPeering, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write"
	return j
}

func TestPeeringFollowUpsOfOneWindowCollapseAndRunAfterIt(t *testing.T) {
	g := newRig(t, approvedWorld(), nil)
	ctx := context.Background()
	for _, evt := range []string{"evt-a", "evt-b"} {
		if _, err := g.r.Handle(ctx, peeringJob(hubVNet, evt)); err != nil {
			t.Fatal(err)
		}
	}
	if len(g.jobs.sent) != 1 {
		t.Fatalf("sent %d follow-ups for two peering events in one window, want 1", len(g.jobs.sent))
	}
	want := t0.Truncate(FollowUpWindow).Add(FollowUpWindow)
	if got := g.jobs.sent[0].NotBefore; !got.Equal(want) {
		t.Errorf("follow-up NotBefore = %v, want the window's end %v", got, want)
	}
}

func TestPeeringWithEveryVNetLinkedSendsNoFollowUp(t *testing.T) {
	f := convergedWorld()
	g := newRig(t, f, nil)
	res, err := g.r.Handle(context.Background(), peeringJob(spokeVNet, "evt-a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.jobs.sent) != 0 {
		t.Errorf("sent %+v; want no follow-up when the VNet and its peers are linked", g.jobs.sent)
	}
	if n := f.reads["ListTargets|"+core.IDKey(subHub)]; n != 0 {
		t.Errorf("listed targets %d times, want 0", n)
	}
	if !res.Plan.Empty() {
		t.Errorf("plan %v, want empty", summary(res.Plan))
	}
}

func TestLinkedPeerIsNotRead(t *testing.T) {
	f := world()
	f.links[core.IDKey(zoneID)] = []core.VNetLink{{ID: zoneID + "/virtualNetworkLinks/hub", ZoneID: zoneID, VNetID: hubVNet}}
	g := newRig(t, f, nil)
	res, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatal(err)
	}
	if n := f.reads["GetVNet|"+core.IDKey(hubVNet)]; n != 0 {
		t.Errorf("read the linked hub VNet %d times, want 0", n)
	}
	for _, a := range res.Plan.Changes() {
		if a.Kind == KindCreateLink && core.SameID(a.Resource, hubVNet) {
			t.Errorf("planned a second link for the linked hub: %+v", a)
		}
	}
	if len(res.Plan.Notes) != 0 {
		t.Errorf("notes %q, want none", res.Plan.Notes)
	}
	if res.Reads != 4 || res.Writes != 3 {
		t.Errorf("reads/writes = %d/%d, want 4/3 (target, endpoint, VNet, zone links; approve, zone group, spoke link)", res.Reads, res.Writes)
	}
}

func TestRerunOnConvergedStateReadsFourWritesNothing(t *testing.T) {
	f := convergedWorld()
	g := newRig(t, f, nil)
	res, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectEndpoint, pe1ID))
	if err != nil {
		t.Fatal(err)
	}
	if res.Reads != 4 || res.Writes != 0 || len(f.writes) != 0 {
		t.Errorf("reads/writes = %d/%d (%v), want 4/0", res.Reads, res.Writes, f.writes)
	}
}

func TestChangeWrittenByOneJobIsNotSentByAnother(t *testing.T) {
	f := world()
	g := newRig(t, f, nil)
	ctx := context.Background()
	// job B gathers before job A writes: both see the connection Pending
	jobB := reconcileJob(jobs.SubjectEndpoint, pe1ID)
	plB, _, err := g.r.Plan(ctx, jobB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.r.Handle(ctx, reconcileJob(jobs.SubjectTarget, wsID)); err != nil {
		t.Fatal(err)
	}
	writes := len(f.writes)
	done, err := g.r.apply(ctx, jobB.ID, plB, t0)
	if err != nil {
		t.Fatal(err)
	}
	out, n := done.results, done.writes
	if got := len(f.writes) - writes; got != 0 || n != 0 {
		t.Errorf("job B sent %d writes (%v), want 0: job A wrote the same changes", got, f.writes[writes:])
	}
	for _, ar := range out {
		if ar.Action.Kind.IsChange() && ar.Result != outcome.ResultUnchanged {
			t.Errorf("%s %s: result %s, want unchanged", ar.Action.Kind, core.NameOf(ar.Action.Resource), ar.Result)
		}
	}
}

func TestCoalescerSkipsJobsCoveredByALaterSuccessfulRun(t *testing.T) {
	now := t0
	f := world()
	g := &rig{arm: f, pol: newFakePolicy(), jobs: &fakeSender{}, sink: outcome.NewMemorySink(100)}
	r, err := New(Config{Reader: f, Writer: f, Policy: g.pol, Jobs: g.jobs, Sink: g.sink, Now: func() time.Time { return now },
		Log: zerolog.Nop(), Coalesce: NewCoalescer()})
	if err != nil {
		t.Fatal(err)
	}
	job := func(evt string, created time.Time) jobs.Delivery {
		j := reconcileJob(jobs.SubjectTarget, wsID)
		j.ID, j.Created = jobs.NewID(jobs.KindReconcile, jobs.SubjectTarget, wsID, evt), created
		return jobs.Delivery{Job: j, DeliveryCount: 1}
	}
	ctx := context.Background()
	if d := r.ProcessDelivery(ctx, job("e1", t0.Add(-2*time.Second))); d.Verdict != Complete || d.Reason != "" {
		t.Fatalf("first job: %+v, want a completed run", d)
	}
	now = t0.Add(time.Second)
	reads := f.readTotal
	if d := r.ProcessDelivery(ctx, job("e2", t0.Add(-time.Second))); d.Reason != ReasonCoalesced || d.Verdict != Complete {
		t.Errorf("job created before the successful run started: %+v, want coalesced", d)
	}
	if f.readTotal != reads {
		t.Errorf("a coalesced job read %d times, want 0", f.readTotal-reads)
	}
	if d := r.ProcessDelivery(ctx, job("e3", t0.Add(500*time.Millisecond))); d.Reason == ReasonCoalesced {
		t.Errorf("job created after the run started was coalesced: %+v", d)
	}
}

// hubWithSpokes gives the hub n more unlinked spokes peered with it.
func hubWithSpokes(n int) *fakeARM {
	f := world()
	hub := f.vnets[core.IDKey(hubVNet)]
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/extra%d", subSpoke, i)
		f.vnets[core.IDKey(id)] = core.VNet{ID: id, Name: fmt.Sprintf("extra%d", i), SubscriptionID: subSpoke,
			Peerings: []core.Peering{{Name: "to-hub", RemoteVNetID: hubVNet, State: "Connected"}}}
		hub.Peerings = append(hub.Peerings, core.Peering{Name: fmt.Sprintf("to-extra%d", i), RemoteVNetID: id, State: "Connected"})
	}
	f.vnets[core.IDKey(hubVNet)] = hub
	return f
}

func TestHubWithManyUnlinkedPeersFansOutOneJobPerPeer(t *testing.T) {
	f := hubWithSpokes(PeerFanOut) // spoke1 + PeerFanOut extras: one more than one job reads
	g := newRig(t, f, nil)
	res, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectVNet, hubVNet))
	if err != nil {
		t.Fatal(err)
	}
	fanned := map[string]bool{}
	for _, j := range g.jobs.sent {
		if j.Subject == jobs.SubjectVNet && j.Kind == jobs.KindReconcile {
			fanned[core.IDKey(j.TargetID)] = true
		}
	}
	if len(fanned) != PeerFanOut+1 || !fanned[core.IDKey(spokeVNet)] {
		t.Errorf("fanned out %d VNet jobs (%v), want one per unlinked peer (%d, spoke1 among them)", len(fanned), fanned, PeerFanOut+1)
	}
	for id := range f.vnets {
		if id != core.IDKey(hubVNet) && f.reads["GetVNet|"+id] != 0 {
			t.Errorf("the hub job read peer %s; fanned-out peers are read by their own jobs", id)
		}
	}
	if len(res.Plan.Changes()) != 0 {
		t.Errorf("hub job planned changes %v; its peers' links belong to their own jobs", summary(res.Plan))
	}
}

func TestHubWithFewUnlinkedPeersReadsThemItself(t *testing.T) {
	f := hubWithSpokes(PeerFanOut - 1) // exactly PeerFanOut peers in all
	g := newRig(t, f, nil)
	if _, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectVNet, hubVNet)); err != nil {
		t.Fatal(err)
	}
	for _, j := range g.jobs.sent {
		if j.Subject == jobs.SubjectVNet {
			t.Fatalf("sent VNet job %s for a hub with only %d peers; want them read in this job", j.TargetID, PeerFanOut)
		}
	}
	if n := f.reads["GetVNet|"+core.IDKey(spokeVNet)]; n != 1 {
		t.Errorf("read spoke1 %d times, want 1", n)
	}
}

func TestTargetWithManyConnectionsPrefetchesEndpointsConcurrentlyReadingEachOnce(t *testing.T) {
	f := world()
	ws := f.targets[core.IDKey(wsID)]
	ws.Connections = nil
	const n = 12
	for i := 0; i < n; i++ {
		pe := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe%d", subSpoke, i)
		vn := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet%d", subSpoke, i)
		ws.Connections = append(ws.Connections, core.Connection{ID: fmt.Sprintf("%s/privateEndpointConnections/pe%d.c", wsID, i),
			Name: fmt.Sprintf("pe%d.c", i), TargetID: wsID, PrivateEndpointID: pe, Status: core.StatusPending})
		f.endpoints[core.IDKey(pe)] = core.Endpoint{ID: pe, Name: fmt.Sprintf("pe%d", i), SubscriptionID: subSpoke, VNetID: vn}
		f.vnets[core.IDKey(vn)] = core.VNet{ID: vn, Name: fmt.Sprintf("vnet%d", i), SubscriptionID: subSpoke, AddressPrefixes: []string{"10.1.0.0/16"}}
	}
	f.targets[core.IDKey(wsID)] = ws

	var mu sync.Mutex
	var batches []int
	g := newRig(t, f, nil)
	r, err := New(Config{Reader: f, Writer: f, Policy: g.pol, Jobs: g.jobs, Sink: g.sink,
		Now: func() time.Time { return t0 }, Log: zerolog.Nop(),
		Parallel: func(fs ...func()) {
			mu.Lock()
			batches = append(batches, len(fs))
			mu.Unlock()
			runParallel(fs...)
		}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 2 || batches[0] != PrefetchConcurrency || batches[1] != PrefetchConcurrency {
		t.Errorf("parallel batches %v, want two (endpoints, then VNets) of %d readers", batches, PrefetchConcurrency)
	}
	for i := 0; i < n; i++ {
		pe := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe%d", subSpoke, i)
		vn := fmt.Sprintf("/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet%d", subSpoke, i)
		if f.reads["GetEndpoint|"+core.IDKey(pe)] != 1 || f.reads["GetVNet|"+core.IDKey(vn)] != 1 {
			t.Errorf("pe%d read %d times, its VNet %d times; want each once", i, f.reads["GetEndpoint|"+core.IDKey(pe)], f.reads["GetVNet|"+core.IDKey(vn)])
		}
	}
	approved := 0
	for _, a := range res.Plan.Changes() {
		if a.Kind == KindApprove {
			approved++
		}
	}
	if approved != n {
		t.Errorf("approved %d of %d pending connections", approved, n)
	}
}

func TestDeferredJobKeepsItsAttemptAndComesBackLater(t *testing.T) {
	f := world()
	g := &rig{arm: f, pol: newFakePolicy(), jobs: &fakeSender{}, sink: outcome.NewMemorySink(100)}
	c := NewCoalescer()
	r, err := New(Config{Reader: f, Writer: f, Policy: g.pol, Jobs: g.jobs, Sink: g.sink, Now: func() time.Time { return t0 },
		Log: zerolog.Nop(), Coalesce: c})
	if err != nil {
		t.Fatal(err)
	}
	j := reconcileJob(jobs.SubjectTarget, wsID)
	j.Attempt, j.Created = 3, t0.Add(-time.Minute)
	// another worker holds the subject
	if c.admit(CoalesceKey(j), j.Created) != admitRun {
		t.Fatal("the first admit should run")
	}
	d := r.ProcessDelivery(context.Background(), jobs.Delivery{Job: j, DeliveryCount: 1})
	if d.Reason != ReasonDeferred || d.Verdict != Complete {
		t.Fatalf("busy subject: %+v, want a deferral that completes the delivery", d)
	}
	if len(g.jobs.sent) != 1 {
		t.Fatalf("sent %d jobs, want the deferred copy", len(g.jobs.sent))
	}
	got := g.jobs.sent[0]
	if got.Attempt != 3 || !got.NotBefore.Equal(t0.Add(c.deferBy(0))) || got.ID == j.ID || !got.Created.Equal(j.Created) || got.TargetID != j.TargetID {
		t.Errorf("deferred copy %+v; want attempt 3 kept, due %v, a new id, the original creation time", got, t0.Add(c.deferBy(0)))
	}
	if f.readTotal != 0 {
		t.Errorf("a deferred job read ARM %d times, want 0", f.readTotal)
	}
}

// wakingSender is a job sender that can wake scheduled jobs (like the
// embedded queue) and records what it was asked to wake.
type wakingSender struct {
	fakeSender
	woken []string
}

func (s *wakingSender) Wake(_ context.Context, ids ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.woken = append(s.woken, ids...)
	return nil
}

// A job deferred because its subject is busy is woken as soon as the
// subject's running job ends, instead of polling; each further deferral of
// the same job waits twice as long, up to the cap.
func TestDeferredJobIsWokenWhenTheRunningJobEnds(t *testing.T) {
	f := world()
	sender := &wakingSender{}
	c := NewCoalescer()
	r, err := New(Config{Reader: f, Writer: f, Policy: newFakePolicy(), Jobs: sender, Now: func() time.Time { return t0 },
		Log: zerolog.Nop(), Coalesce: c})
	if err != nil {
		t.Fatal(err)
	}
	running := reconcileJob(jobs.SubjectTarget, wsID)
	running.Created = t0.Add(-time.Minute)
	busy := running
	busy.ID, busy.Deferrals = "busy-job", 3
	key := CoalesceKey(running)
	if c.admit(key, running.Created) != admitRun {
		t.Fatal("the first admit should run")
	}
	d := r.ProcessDelivery(context.Background(), jobs.Delivery{Job: busy, DeliveryCount: 1})
	if d.Reason != ReasonDeferred || len(sender.sent) != 1 {
		t.Fatalf("busy subject: %+v, %d sent; want one deferred copy", d, len(sender.sent))
	}
	copyJob := sender.sent[0]
	if want := t0.Add(16 * time.Second); copyJob.Deferrals != 4 || !copyJob.NotBefore.Equal(want) {
		t.Errorf("fourth deferral due %v with count %d, want %v (2s doubled three times) and 4", copyJob.NotBefore, copyJob.Deferrals, want)
	}
	if len(sender.woken) != 0 {
		t.Fatalf("woken %v while the subject is still busy", sender.woken)
	}
	// the running job ends: the copy is woken
	if ids := c.done(key, t0, true); len(ids) != 1 || ids[0] != copyJob.ID {
		t.Fatalf("done woke %v, want the deferred copy %s", ids, copyJob.ID)
	}
	if c.deferBy(10) != DefaultDeferMax {
		t.Errorf("deferBy(10) = %s, want the cap %s", c.deferBy(10), DefaultDeferMax)
	}
	// a copy whose subject's run ended before it was registered is woken
	// at once
	busy.ID = "late"
	sender.woken = nil
	if d := r.deferJob(context.Background(), busy, key, busy.Created); d.Reason != ReasonDeferred || len(sender.woken) != 1 {
		t.Errorf("deferral after the run ended: %+v, woken %v; want the copy woken at once", d, sender.woken)
	}
}

// A run that changed something before failing starts its back-off again;
// failing runs in a row without progress grow it and finally give up.
func TestRetryBackoffResetByProgress(t *testing.T) {
	b := Backoff{Rand: func() float64 { return 0.999999 }}
	job := reconcileJob(jobs.SubjectTarget, wsID)
	job.Attempt, job.Streak = 9, 5
	fail := &core.Error{Class: core.Retryable, StatusCode: 503}
	if d := b.Dispose(job, fail, true); d.Verdict != Retry || !d.Progress || d.Delay > DefaultBackoffBase || !d.Settlement().Progress() {
		t.Errorf("after progress: %+v, want a retry after at most %s carrying the progress", d, DefaultBackoffBase)
	}
	if d := b.Dispose(job, fail, false); d.Verdict != Retry || d.Progress || d.Delay < DefaultBackoffMax-time.Millisecond || d.Delay > DefaultBackoffMax {
		t.Errorf("sixth failure in a row: %+v, want a retry at the cap %s", d, DefaultBackoffMax)
	}
	job.Streak = DefaultMaxAttempts - 1
	if d := b.Dispose(job, fail, false); d.Verdict != DeadLetter || d.Reason != "RetriesExhausted" {
		t.Errorf("after %d failures in a row: %+v, want dead-letter RetriesExhausted", DefaultMaxAttempts, d)
	}
	if d := b.Dispose(job, fail, true); d.Verdict != Retry {
		t.Errorf("a job that keeps making progress was given up: %+v", d)
	}
}

// A change someone else made or overruled meanwhile (the connection was
// decided by a human, the link taken over) is skipped: the job completes
// as converged instead of failing into the dead-letter queue.
func TestChangeOverruledByAnotherWriterCompletesTheJob(t *testing.T) {
	f := world()
	f.fail["SetConnectionStatus"] = []error{&core.Error{Class: core.Fatal, Op: "set connection status approved", Code: codeInvalidTransition,
		Err: errors.New("connection is Rejected, not Pending: will not set it to Approved")}}
	g := newRig(t, f, nil)
	d := g.r.ProcessDelivery(context.Background(), jobs.Delivery{Job: reconcileJob(jobs.SubjectTarget, wsID), DeliveryCount: 1})
	if d.Verdict != Complete {
		t.Fatalf("verdict %s %s: %s, want complete", d.Verdict, d.Reason, d.Description)
	}
	for _, ar := range d.Result.Applied {
		if ar.Action.Kind == KindApprove && ar.Result != outcome.ResultSkipped {
			t.Errorf("approval result %s, want skipped", ar.Result)
		}
	}
	// a refusal that is not about someone else's change still dead-letters
	f.fail["SetConnectionStatus"] = []error{&core.Error{Class: core.Fatal, Code: "AuthorizationFailed", StatusCode: 403}}
	d = g.r.ProcessDelivery(context.Background(), jobs.Delivery{Job: reconcileJob(jobs.SubjectTarget, wsID), DeliveryCount: 1})
	if d.Verdict != DeadLetter || d.Reason != "AuthorizationFailed" {
		t.Errorf("403 on the approval: %s %s, want dead-letter AuthorizationFailed", d.Verdict, d.Reason)
	}
}
