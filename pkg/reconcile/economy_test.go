package reconcile

import (
	"context"
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
	j.Reason = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write"
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
	out, n, _, err := g.r.apply(ctx, jobB.ID, plB, t0)
	if err != nil {
		t.Fatal(err)
	}
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
	if got.Attempt != 3 || !got.NotBefore.Equal(t0.Add(c.deferBy())) || got.ID == j.ID || !got.Created.Equal(j.Created) || got.TargetID != j.TargetID {
		t.Errorf("deferred copy %+v; want attempt 3 kept, due %v, a new id, the original creation time", got, t0.Add(c.deferBy()))
	}
	if f.readTotal != 0 {
		t.Errorf("a deferred job read ARM %d times, want 0", f.readTotal)
	}
}
