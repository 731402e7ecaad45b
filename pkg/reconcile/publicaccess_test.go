package reconcile

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// openWorld is a converged workspace (approved endpoint, DNS in place)
// whose public network access is still Enabled.
func openWorld() *fakeARM {
	f := convergedWorld()
	t := f.targets[core.IDKey(wsID)]
	t.PublicNetworkAccess = core.PublicAccessEnabled
	f.targets[core.IDKey(wsID)] = t
	return f
}

func kindsOf(pl Plan, keep ...Kind) []Kind {
	var out []Kind
	for _, a := range pl.Actions {
		for _, k := range keep {
			if a.Kind == k {
				out = append(out, a.Kind)
			}
		}
	}
	return out
}

func verifiedJob() jobs.Job {
	j := reconcileJob(jobs.SubjectTarget, wsID)
	j.PrivateVerified = true
	return j
}

// disableAfterVerification: a reconcile of the target before any
// verification disables nothing (it reports public access open and schedules
// a verification of the target); the job the verification sends once private
// access works disables it, with rule and reason, and schedules a
// verification after the delay. A rerun on Disabled plans nothing.
func TestDisablePublicAccessOnlyAfterVerification(t *testing.T) {
	f := openWorld()
	g := newRig(t, f, func(p *fakePolicy) {
		p.publicAccess = policy.PublicAccessDisableAfterVerification
		p.delay = 5 * time.Minute
	})
	ctx := context.Background()

	before, err := g.r.Handle(ctx, reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatal(err)
	}
	if got := kindsOf(before.Plan, KindDisablePublicAccess); len(got) != 0 {
		t.Fatalf("public access disabled before any verification: %+v", before.Plan.Actions)
	}
	if got := kindsOf(before.Plan, KindPublicAccessOpen, KindScheduleVerify); len(got) != 2 {
		t.Fatalf("plan before verification = %v, want public-access-open and a scheduled verification of the target", kindsOf(before.Plan, KindPublicAccessOpen, KindScheduleVerify, KindDisablePublicAccess))
	}
	for _, w := range f.writes {
		if strings.HasPrefix(w, "SetPublicNetworkAccess") {
			t.Fatalf("written before verification: %s", w)
		}
	}

	after, err := g.r.Handle(ctx, verifiedJob())
	if err != nil {
		t.Fatal(err)
	}
	var dis *ActionResult
	for i, ar := range after.Applied {
		if ar.Action.Kind == KindDisablePublicAccess {
			dis = &after.Applied[i]
		}
	}
	if dis == nil {
		t.Fatalf("verified job planned %+v: want disable-public-access", after.Plan.Actions)
	}
	if dis.Result != outcome.ResultApplied || dis.Action.Rule != RulePublicNetworkAccess || !strings.Contains(dis.Action.Reason, "verified") {
		t.Errorf("disable-public-access = %+v: want applied, rule publicNetworkAccess, a reason naming the verification", dis)
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessDisabled {
		t.Errorf("publicNetworkAccess after apply = %q, want Disabled", got)
	}
	found := false
	for _, a := range after.Plan.Actions {
		j, ok := a.Job()
		if a.Kind == KindScheduleVerify && ok && j.Subject == jobs.SubjectTarget && core.SameID(j.TargetID, wsID) &&
			// after the propagation delay, at the end of the window of
			// changes (scheduleVerify)
			!j.NotBefore.Before(t0.Add(5*time.Minute)) && !j.NotBefore.After(t0.Add(5*time.Minute+FollowUpWindow)) {
			found = true
		}
	}
	if !found {
		t.Errorf("no verification of the target scheduled after the propagation delay: %+v", after.Plan.Actions)
	}

	again, err := g.r.Handle(ctx, verifiedJob())
	if err != nil {
		t.Fatal(err)
	}
	if !again.Plan.Empty() || len(kindsOf(again.Plan, KindPublicAccessOpen, KindScheduleVerify)) != 0 {
		t.Errorf("rerun on Disabled planned %+v, want nothing", again.Plan.Actions)
	}

	// Drift: someone enables it again. Reported and, once verified, closed again.
	tg := f.targets[core.IDKey(wsID)]
	tg.PublicNetworkAccess = core.PublicAccessEnabled
	f.targets[core.IDKey(wsID)] = tg
	drift, err := g.r.Handle(ctx, reconcileJob(jobs.SubjectTarget, wsID))
	if err != nil {
		t.Fatal(err)
	}
	if len(kindsOf(drift.Plan, KindPublicAccessOpen)) != 1 || len(kindsOf(drift.Plan, KindDisablePublicAccess)) != 0 {
		t.Errorf("drift plan %+v: want public-access-open reported, no write before a verification", drift.Plan.Actions)
	}
	if _, err := g.r.Handle(ctx, verifiedJob()); err != nil {
		t.Fatal(err)
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessDisabled {
		t.Errorf("after drift and verification publicNetworkAccess = %q, want Disabled again", got)
	}
}

// With leave (the default) nothing about public access is planned; with
// audit a verified target with public access on is reported, not written.
func TestPublicAccessLeaveAndAudit(t *testing.T) {
	f := openWorld()
	g := newRig(t, f, nil)
	res, err := g.r.Handle(context.Background(), verifiedJob())
	if err != nil {
		t.Fatal(err)
	}
	if k := kindsOf(res.Plan, KindPublicAccessOpen, KindDisablePublicAccess); len(k) != 0 {
		t.Errorf("leave planned %v", k)
	}

	f = openWorld()
	g = newRig(t, f, func(p *fakePolicy) { p.publicAccess = policy.PublicAccessAudit })
	if res, err = g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID)); err != nil {
		t.Fatal(err)
	}
	if k := kindsOf(res.Plan, KindPublicAccessOpen, KindDisablePublicAccess); len(k) != 0 {
		t.Errorf("audit reported %v before private access was verified", k)
	}
	if res, err = g.r.Handle(context.Background(), verifiedJob()); err != nil {
		t.Fatal(err)
	}
	if k := kindsOf(res.Plan, KindPublicAccessOpen, KindDisablePublicAccess); len(k) != 1 || k[0] != KindPublicAccessOpen {
		t.Errorf("audit planned %v, want one public-access-open observation", k)
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessEnabled {
		t.Errorf("audit changed publicNetworkAccess to %q", got)
	}
}

// Public access is never closed on a target without an approved private
// endpoint connection, even on a verified job, nor when the connection was
// rejected between plan and apply.
func TestDisablePublicAccessNeverClosesTheOnlyDoor(t *testing.T) {
	f := openWorld()
	g := newRig(t, f, func(p *fakePolicy) { p.publicAccess = policy.PublicAccessDisableAfterVerification })
	pl := ComputePlan(stateOf(f, verifiedJob()), g.pol)
	if len(kindsOf(pl, KindDisablePublicAccess)) != 1 {
		t.Fatalf("plan %+v: want disable-public-access", pl.Actions)
	}
	tg := f.targets[core.IDKey(wsID)]
	tg.Connections[0].Status = core.StatusRejected
	f.targets[core.IDKey(wsID)] = tg
	done, err := g.r.apply(context.Background(), "job-1", pl, t0)
	if err != nil {
		t.Fatal(err)
	}
	res := done.results
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessEnabled {
		t.Fatalf("public access of a target without any approved connection set to %q", got)
	}
	for _, ar := range res {
		if ar.Action.Kind == KindDisablePublicAccess && (ar.Result != outcome.ResultSkipped || !strings.Contains(ar.Error, "no approved private endpoint")) {
			t.Errorf("disable result %+v: want skipped, saying why", ar)
		}
	}
	if pl := ComputePlan(stateOf(f, verifiedJob()), g.pol); len(kindsOf(pl, KindDisablePublicAccess)) != 0 {
		t.Errorf("planned disable-public-access for a target without an approved connection: %+v", pl.Actions)
	}
}

// The disable and the drift are outcome events naming the rule.
func TestPublicAccessOutcomeEvents(t *testing.T) {
	f := openWorld()
	g := newRig(t, f, func(p *fakePolicy) { p.publicAccess = policy.PublicAccessDisableAfterVerification })
	if _, err := g.r.Handle(context.Background(), reconcileJob(jobs.SubjectTarget, wsID)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.r.Handle(context.Background(), verifiedJob()); err != nil {
		t.Fatal(err)
	}
	open := g.sink.ByType(outcome.PublicAccessOpen)
	dis := g.sink.ByType(outcome.PublicAccessDisabled)
	if len(open) != 1 || len(dis) != 1 {
		t.Fatalf("events: %d public-access-open, %d public-access-disabled; want 1 and 1", len(open), len(dis))
	}
	if dis[0].Data.Rule != RulePublicNetworkAccess || dis[0].Data.Result != outcome.ResultApplied || dis[0].Data.After != core.PublicAccessDisabled {
		t.Errorf("public-access-disabled event data %+v", dis[0].Data)
	}
}

// In policy mode audit the disable is shown as planned and not written.
func TestDisablePublicAccessPlannedInAuditMode(t *testing.T) {
	f := openWorld()
	g := newRig(t, f, func(p *fakePolicy) {
		p.publicAccess = policy.PublicAccessDisableAfterVerification
		p.mode = policy.ModeAudit
	})
	res, err := g.r.Handle(context.Background(), verifiedJob())
	if err != nil {
		t.Fatal(err)
	}
	planned := false
	for _, ar := range res.Applied {
		if ar.Action.Kind == KindDisablePublicAccess && ar.Result == outcome.ResultPlanned {
			planned = true
		}
	}
	if !planned {
		t.Errorf("audit mode results %+v: want disable-public-access planned", res.Applied)
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessEnabled {
		t.Errorf("audit mode wrote publicNetworkAccess %q", got)
	}
}

// A selection of targets.publicNetworkAccessBy decides for the targets it
// matches: the plan's action names the selection as its rule and says so in
// its reason; a selection that leaves public access alone overrides a
// default that would close it.
func TestPublicAccessPerSelection(t *testing.T) {
	f := openWorld()
	g := newRig(t, f, func(p *fakePolicy) {
		p.publicAccess = policy.PublicAccessAudit
		p.publicBy = map[string]publicSel{core.IDKey(wsID): {policy.PublicAccessDisableAfterVerification, "close-prod-workspaces"}}
	})
	res, err := g.r.Handle(context.Background(), verifiedJob())
	if err != nil {
		t.Fatal(err)
	}
	var dis *Action
	for i, a := range res.Plan.Actions {
		if a.Kind == KindDisablePublicAccess {
			dis = &res.Plan.Actions[i]
		}
	}
	if dis == nil {
		t.Fatalf("default audit, selection disableAfterVerification: planned %+v, want disable-public-access", res.Plan.Actions)
	}
	if dis.Rule != "close-prod-workspaces" || !strings.Contains(dis.Reason, `selection "close-prod-workspaces" is disableAfterVerification`) {
		t.Errorf("disable-public-access rule %q reason %q: want the selection named", dis.Rule, dis.Reason)
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessDisabled {
		t.Errorf("publicNetworkAccess = %q, want Disabled", got)
	}
	if ev := g.sink.ByType(outcome.PublicAccessDisabled); len(ev) != 1 || ev[0].Data.Rule != "close-prod-workspaces" {
		t.Errorf("public-access-disabled events %+v: want one naming the selection", ev)
	}

	f = openWorld()
	g = newRig(t, f, func(p *fakePolicy) {
		p.publicAccess = policy.PublicAccessDisableAfterVerification
		p.publicBy = map[string]publicSel{core.IDKey(wsID): {policy.PublicAccessLeave, "lab-left-alone"}}
	})
	for _, j := range []jobs.Job{reconcileJob(jobs.SubjectTarget, wsID), verifiedJob()} {
		res, err := g.r.Handle(context.Background(), j)
		if err != nil {
			t.Fatal(err)
		}
		if k := kindsOf(res.Plan, KindPublicAccessOpen, KindDisablePublicAccess); len(k) != 0 {
			t.Errorf("selection leave over default disableAfterVerification planned %v", k)
		}
	}
	if got := f.targets[core.IDKey(wsID)].PublicNetworkAccess; got != core.PublicAccessEnabled {
		t.Errorf("a target its selection leaves alone got publicNetworkAccess %q", got)
	}
}
