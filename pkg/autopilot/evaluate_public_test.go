package autopilot_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/events"
	"github.com/plautopilot/autopilot/pkg/jobs/embedded"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/rs/zerolog"
)

// /api/evaluate shows issue 20's public-access half: for the guide's
// workspace (public access Enabled, its connections decided) under
// publicNetworkAccess: disableAfterVerification, the plan now reports
// public access open and disables nothing; the plan labelled "after a
// passing verification" (same reads, the job a passing verification sends)
// disables it, once, with its rule. Under the default policy there is no
// such plan.
func TestEvaluateShowsDisablePublicAccessOnlyAfterVerification(t *testing.T) {
	gw := guidetest.New(t)
	src, err := os.ReadFile(filepath.Join(guidetest.Root(t), "examples", "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccess: disableAfterVerification\n", 1)
	pol, err := policy.Parse("policy.yaml", []byte(edited))
	if err != nil || pol.PublicNetworkAccess() != policy.PublicAccessDisableAfterVerification {
		t.Fatalf("policy: %v (publicNetworkAccess %v)", err, pol)
	}
	ctx := context.Background()
	// the connections are decided already: the app's approved, the unknown one rejected
	for id, st := range map[string]core.ConnectionStatus{appConn: core.StatusApproved, unkConn: core.StatusRejected} {
		if _, err := gw.ARM.SetConnectionStatus(ctx, core.Connection{ID: id, TargetID: workspace, Name: core.NameOf(id)}, st, "decided"); err != nil {
			t.Fatal(err)
		}
	}
	svc := newService(t, gw, pol)

	got, err := svc.Evaluate(ctx, appConn)
	if err != nil {
		t.Fatal(err)
	}
	disables := func(pl reconcile.Plan) (n int, a reconcile.Action) {
		for _, x := range pl.Actions {
			if x.Kind == reconcile.KindDisablePublicAccess {
				n, a = n+1, x
			}
		}
		return n, a
	}
	if n, _ := disables(got.Plan); n != 0 {
		t.Errorf("the plan now disables public access before any verification: %+v", got.Plan.Actions)
	}
	open := false
	for _, a := range got.Plan.Actions {
		open = open || (a.Kind == reconcile.KindPublicAccessOpen && core.SameID(a.Target, workspace))
	}
	if !open {
		t.Errorf("the plan now does not report public access open: %+v", got.Plan.Actions)
	}
	av := got.AfterVerification
	if av == nil || av.When != "after a passing verification" {
		t.Fatalf("afterVerification = %+v, want the plan after a passing verification", av)
	}
	if n, a := disables(av.Plan); n != 1 || !core.SameID(a.Target, workspace) || a.Rule != reconcile.RulePublicNetworkAccess || a.After != core.PublicAccessDisabled {
		t.Errorf("after verification: %d disable-public-access (%+v), want one for the workspace by rule publicNetworkAccess", n, a)
	}
	if st := gw.Sandbox.Stats(); st.Writes != 2 {
		t.Errorf("evaluate wrote to ARM: %d writes, want only the test's 2", st.Writes)
	}

	// the same through the API, as JSON
	srv := httptest.NewServer(svc.API())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/evaluate", "application/json", strings.NewReader(`{"connectionId":"`+appConn+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var doc struct {
		Plan              struct{ Actions []struct{ Kind string } } `json:"plan"`
		AfterVerification *struct {
			When string                                    `json:"when"`
			Plan struct{ Actions []struct{ Kind string } } `json:"plan"`
		} `json:"afterVerification"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d: %v\n%s", resp.StatusCode, err, body)
	}
	count := func(as []struct{ Kind string }) (n int) {
		for _, a := range as {
			if a.Kind == "disable-public-access" {
				n++
			}
		}
		return n
	}
	if doc.AfterVerification == nil || doc.AfterVerification.When != "after a passing verification" ||
		count(doc.AfterVerification.Plan.Actions) != 1 || count(doc.Plan.Actions) != 0 {
		t.Errorf("/api/evaluate: want disable-public-access once, only in the plan after a passing verification:\n%s", body)
	}

	// explain follows the reconciler: a Rejected connection is final, so
	// no rule is evaluated and nothing is decided
	rej, err := autopilot.Explain(ctx, gw.ARM, pol, unkConn)
	if err != nil {
		t.Fatal(err)
	}
	if rej.Decision.Action != "" || !strings.Contains(rej.DecisionError, "Rejected") || len(rej.Rules) != 0 || rej.EndpointReadable {
		t.Errorf("explain of a rejected connection = decision %+v error %q rules %d readable %v; want no decision, saying the connection is Rejected",
			rej.Decision, rej.DecisionError, len(rej.Rules), rej.EndpointReadable)
	}

	// default policy (leave): no plan after verification
	plain, err := newService(t, guidetest.New(t), gw.Policy).Evaluate(ctx, appConn)
	if err != nil {
		t.Fatal(err)
	}
	if plain.AfterVerification != nil {
		t.Errorf("publicNetworkAccess leave: afterVerification = %+v, want none", plain.AfterVerification)
	}
}

func newService(t *testing.T, gw guidetest.World, pol *policy.Policy) *autopilot.Service {
	t.Helper()
	clock := clock.NewFake(time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC))
	store, err := embedded.Open(filepath.Join(t.TempDir(), "q.db"), embedded.Options{Clock: clock, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	svc, err := autopilot.New(autopilot.Config{Policy: pol, ARM: gw.ARM, Reconcile: store.Queue("reconcile"), Verify: store.Queue("verify"),
		Sink: outcome.Discard{}, Dead: events.NewMemDeadStore(), Now: clock.Now, Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
