package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
)

// Two approved connections on a workspace with public access Disabled, both
// listed for revocation: the plan revokes one and guards the other, naming
// the rule. When another job revoked the second meanwhile, the revocation
// planned from the stale read is not sent either.
func TestRevocationKeepsLastPrivatePath(t *testing.T) {
	conn2ID := wsID + "/privateEndpointConnections/pe2.c2"
	pe2ID := strings.Replace(pe1ID, "pe1", "pe2", 1)
	f := approvedWorld()
	tg := f.targets[core.IDKey(wsID)]
	tg.PublicNetworkAccess = "Disabled"
	tg.Connections = append(tg.Connections, core.Connection{ID: conn2ID, Name: "pe2.c2", TargetID: wsID, PrivateEndpointID: pe2ID, Status: core.StatusApproved})
	f.targets[core.IDKey(wsID)] = tg
	g := newRig(t, f, func(p *fakePolicy) { p.revoke = map[string]bool{conn1ID: true, conn2ID: true} })

	pl := ComputePlan(stateOf(f, reconcileJob(jobs.SubjectTarget, wsID)), g.pol)
	var kinds []string
	for _, a := range pl.Actions {
		switch a.Kind {
		case KindReject, KindGuard, KindUnreachable:
			kinds = append(kinds, string(a.Kind)+" "+core.NameOf(a.Resource)+" rule="+a.Rule)
		}
	}
	want := []string{"reject pe1.c1 rule=revoke-list", "guard-last-private-path pe2.c2 rule=revoke-list"}
	if strings.Join(kinds, "; ") != strings.Join(want, "; ") {
		t.Fatalf("plan %v, want %v", kinds, want)
	}

	// Another job revoked pe2 after this plan's read: pe1 is now the last.
	tg = f.targets[core.IDKey(wsID)]
	tg.Connections[1].Status = core.StatusRejected
	f.targets[core.IDKey(wsID)] = tg
	done, err := g.r.apply(context.Background(), "job-1", pl, t0)
	if err != nil {
		t.Fatal(err)
	}
	res := done.results
	for _, w := range f.writes {
		if strings.Contains(w, "pe1.c1") {
			t.Errorf("the last approved connection was revoked: %s", w)
		}
	}
	found := false
	for _, ar := range res {
		if ar.Action.Kind == KindReject && ar.Result == outcome.ResultSkipped && strings.Contains(ar.Error, "last approved connection") {
			found = true
		}
	}
	if !found {
		t.Errorf("apply results %+v: want the revocation skipped, saying why", res)
	}
}
