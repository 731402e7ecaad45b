package reconcile

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// Issue 20, drift from events: someone turns a governed workspace's public
// network access back on. ARM reports the workspace's own write; the
// classifier makes it a reconcile job of the target (trigger "target"); the
// reconcile reports the drift (public-access-open outcome event) and
// schedules a verification, but writes nothing: public access is disabled
// again only by the job a passing verification sends, as on the sweep path.
func TestWorkspaceWriteEventReportsPublicAccessDrift(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/events/workspace-write.eventgrid.json")
	if err != nil {
		t.Fatal(err)
	}
	const fixtureWS = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	raw = []byte(strings.ReplaceAll(string(raw), fixtureWS, wsID)) // the fake world's workspace
	evs, bad := events.ParseBatch(raw)
	if len(bad) > 0 || len(evs) != 1 {
		t.Fatalf("fixture parsed into %d events, malformed %+v", len(evs), bad)
	}
	c := events.Classify(evs[0])
	if c.Ignored {
		t.Fatalf("workspace write ignored: %s", c.Reason)
	}
	body, err := jobs.Encode(events.Job(c, t0))
	if err != nil {
		t.Fatal(err)
	}
	job, err := jobs.Decode(body) // as the worker receives it
	if err != nil {
		t.Fatal(err)
	}
	if job.Subject != jobs.SubjectTarget || !core.SameID(job.TargetID, wsID) || job.Trigger != jobs.TriggerTarget {
		t.Fatalf("job = %s %s trigger %q, want a target job of %s with trigger target", job.Subject, job.TargetID, job.Trigger, wsID)
	}

	f := openWorld() // approved endpoint, DNS in place, public access Enabled
	g := newRig(t, f, func(p *fakePolicy) { p.publicAccess = policy.PublicAccessDisableAfterVerification })
	res, err := g.r.Handle(context.Background(), job)
	if err != nil {
		t.Fatal(err)
	}
	open := g.sink.ByType(outcome.PublicAccessOpen)
	if len(open) != 1 || !core.SameID(open[0].Subject, wsID) || open[0].Data.Rule != RulePublicNetworkAccess ||
		!strings.Contains(open[0].Data.Reason, "disableAfterVerification") {
		t.Fatalf("public-access-open events = %+v, want one for %s naming the policy", open, wsID)
	}
	if len(kindsOf(res.Plan, KindDisablePublicAccess)) != 0 {
		t.Fatalf("drift event disabled public access before any verification: %+v", res.Plan.Actions)
	}
	for _, w := range f.writes {
		if strings.HasPrefix(w, "SetPublicNetworkAccess") {
			t.Fatalf("written on the drift event: %s", w)
		}
	}
	verifies := 0
	for _, j := range g.jobs.sent {
		if j.Kind == jobs.KindVerify && j.Subject == jobs.SubjectTarget && core.SameID(j.TargetID, wsID) {
			verifies++
		}
	}
	if verifies != 1 {
		t.Fatalf("sent %+v, want one verification of the workspace", g.jobs.sent)
	}

	// The job a passing verification sends closes the door again.
	if _, err := g.r.Handle(context.Background(), verifiedJob()); err != nil {
		t.Fatal(err)
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessDisabled {
		t.Errorf("public access after the verified job = %q, want Disabled", got)
	}
}
