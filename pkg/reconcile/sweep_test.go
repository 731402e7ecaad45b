package reconcile

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/rs/zerolog"
)

func sweepWorld() *fakeARM {
	f := world()
	// a governed target with no connections: nothing to do
	idle := "/subscriptions/" + subHub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/idle"
	f.targets[core.IDKey(idle)] = core.Target{ID: idle, Name: "idle"}
	// a hub VNet tagged for linking, not linked yet; another tagged and linked
	tagged := "/subscriptions/" + subHub + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/tagged-hub"
	linked := "/subscriptions/" + subHub + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/linked-hub"
	f.vnets[core.IDKey(tagged)] = core.VNet{ID: tagged, Name: "tagged-hub", Tags: map[string]string{"link": "yes"}}
	f.vnets[core.IDKey(linked)] = core.VNet{ID: linked, Name: "linked-hub", Tags: map[string]string{"link": "yes"}}
	f.links[core.IDKey(zoneID)] = []core.VNetLink{{ID: "l", ZoneID: zoneID, VNetID: linked}}
	return f
}

func TestSweepEnqueuesWhatEventsMissed(t *testing.T) {
	f := sweepWorld()
	q := &fakeSender{}
	s := &Sweeper{Reader: f, Policy: newFakePolicy(), Jobs: q, Interval: 15 * time.Minute, Log: zerolog.Nop()}
	now := t0.Add(7 * time.Minute)
	res, err := s.Sweep(context.Background(), now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, j := range res.Enqueued {
		got = append(got, string(j.Subject)+" "+core.NameOf(j.TargetID))
	}
	sort.Strings(got)
	if diff := cmp.Diff(got, []string{"target ws1", "vnet tagged-hub"}); diff != "" {
		t.Errorf("enqueued (-got +want):\n%s", diff)
	}
	// one ListTargets + one ListVNets per governed subscription, one link list per zone
	if res.Reads != 3 {
		t.Errorf("sweep reads = %d, want 3", res.Reads)
	}
	if !res.Window.Equal(t0) {
		t.Errorf("window = %s, want %s", res.Window, t0)
	}
	// a second sweep in the same window sends the same ids (collapsed)
	res2, _ := s.Sweep(context.Background(), now.Add(5*time.Minute))
	if len(q.sent) != 2 {
		t.Errorf("queue holds %d jobs after two sweeps in one window, want 2", len(q.sent))
	}
	for i := range res2.Enqueued {
		if res2.Enqueued[i].ID != res.Enqueued[i].ID {
			t.Errorf("job id changed within a window: %s vs %s", res2.Enqueued[i].ID, res.Enqueued[i].ID)
		}
	}
	// next window: fresh jobs
	if _, err := s.Sweep(context.Background(), now.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if len(q.sent) != 4 {
		t.Errorf("queue holds %d jobs after a sweep in the next window, want 4", len(q.sent))
	}
}

func TestSweepRecoversLostEvent(t *testing.T) {
	// The connection's event never arrived: the sweep's job approves it.
	f := world()
	q := &fakeSender{}
	s := &Sweeper{Reader: f, Policy: newFakePolicy(), Jobs: q, Log: zerolog.Nop()}
	res, err := s.Sweep(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	g := newRig(t, f, nil)
	for _, j := range res.Enqueued {
		if j.Kind != jobs.KindReconcile {
			continue
		}
		if _, err := g.r.Handle(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	if c := f.targets[core.IDKey(wsID)].Connections[0]; c.Status != core.StatusApproved {
		t.Errorf("connection after sweep = %s, want Approved", c.Status)
	}
}

func TestSweepContinuesPastAFailingSubscription(t *testing.T) {
	f := sweepWorld()
	f.fail["ListTargets"] = []error{&core.Error{Class: core.Fatal, StatusCode: 403, Code: "AuthorizationFailed"}}
	p := newFakePolicy()
	p.subs = []string{subSpoke, subHub}
	s := &Sweeper{Reader: f, Policy: p, Jobs: &fakeSender{}, Log: zerolog.Nop()}
	res, err := s.Sweep(context.Background(), t0)
	if err == nil || len(res.Errors) != 1 {
		t.Errorf("err %v, errors %v: want the failing subscription reported", err, res.Errors)
	}
	found := false
	for _, j := range res.Enqueued {
		found = found || core.SameID(j.TargetID, wsID)
	}
	if !found {
		t.Errorf("enqueued %v, want ws1 from the healthy subscription", res.Enqueued)
	}
}
