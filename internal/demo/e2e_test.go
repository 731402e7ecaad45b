package demo

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
)

func newTestWorld(t *testing.T) *world {
	t.Helper()
	sb, err := sandbox.Load("../../testdata/scenarios/guide.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWorld(sb, pol, storyStart, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// Issue 8's end-to-end story: the sandbox approves an endpoint and
// schedules its verification; a VNet peered with the endpoint's VNet
// appears before the autopilot hears of it, so the first run fails naming
// that VNet; the peering's event makes the reconciler link it; the rerun
// passes.
func TestVerificationEndToEnd(t *testing.T) {
	ctx := context.Background()
	w := newTestWorld(t)

	// 1. approval
	if err := w.post(ctx, opEndpointWrite, appEndpoint, "dana@contoso.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _, _, _ := w.connection(workspaceID, "pe-app-fhir"); st != "Approved" {
		t.Fatalf("pe-app-fhir on contoso-health: got %q, want Approved", st)
	}
	// 2. verification scheduled, not yet run
	vst, err := w.vq.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wantDue := storyStart.Truncate(reconcile.FollowUpWindow).Add(reconcile.FollowUpWindow + 5*time.Minute)
	if vst.Scheduled == 0 || !vst.NextDue.Equal(wantDue) {
		t.Fatalf("verify queue after approval: %d scheduled, next due %s; want some due at %s (policy delay 5m after the changes' window)", vst.Scheduled, vst.NextDue, wantDue)
	}
	if n := len(w.mem.ByType(outcome.VerifyPassed, outcome.VerifyFailed, verify.VerifyRetry)); n != 0 {
		t.Fatalf("%d verification results before the delay", n)
	}

	// 3. a VNet peered with the spoke appears; its event is late
	if err := w.peerNewVNet(appVNet, "spoke-new-to-app", "app-to-spoke-new"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.verifyDue(ctx, wantDue); err != nil {
		t.Fatal(err)
	}
	first := w.mem.ByType(outcome.VerifyPassed, outcome.VerifyFailed, verify.VerifyRetry)
	if len(first) == 0 {
		t.Fatal("no verification ran at the delay")
	}
	var endpointRun *outcome.Event
	for i, e := range first {
		if e.Type != verify.VerifyRetry {
			t.Errorf("first run of %s: got %s, want %s (the new peer is not linked yet)", e.Subject, e.Type, verify.VerifyRetry)
		}
		if strings.EqualFold(e.Subject, appEndpoint) {
			endpointRun = &first[i]
		}
	}
	if endpointRun == nil {
		t.Fatalf("no verification of the endpoint pe-app-fhir among %d runs", len(first))
	}
	for _, want := range []string{
		"the VNet spoke-new-vnet (peered with spoke-app-vnet) is not linked to privatelink.fhir.azurehealthcareapis.com",
		"resolves the public address 203.0.113.10",
	} {
		if !strings.Contains(endpointRun.Data.Error, want) {
			t.Errorf("first run's diagnosis lacks %q:\n%s", want, endpointRun.Data.Error)
		}
	}
	if links := w.linkedVNets(fhirZone); links["spoke-new-vnet"] {
		t.Fatal("spoke-new-vnet linked before its event: the story's order is broken")
	}

	// 4. the peering's event: the reconciler links the new VNet
	if err := w.post(ctx, opPeeringWrite, appVNet+"/virtualNetworkPeerings/app-to-spoke-new", "net-admin@contoso.example"); err != nil {
		t.Fatal(err)
	}
	// The peering job asks the targets with approved endpoints near it to
	// reconcile again; those follow-ups collapse per window and run when it
	// closes, so the link appears within reconcile.FollowUpWindow.
	if _, err := jobs.Drain(ctx, w.svc.Reconcile, jobs.DrainOptions{Clock: w.clock, Until: w.clock.Now().Add(reconcile.FollowUpWindow)}, w.rq); err != nil {
		t.Fatal(err)
	}
	if owned, ok := w.linkedVNets(fhirZone)["spoke-new-vnet"]; !ok || !owned {
		t.Fatalf("spoke-new-vnet after the peering event: linked %v, owned by the autopilot %v; want both", ok, owned)
	}

	// 5. the rerun passes, and every verification ends passed
	if _, err := w.runAll(ctx); err != nil {
		t.Fatal(err)
	}
	var rerun *outcome.Event
	for _, e := range w.mem.ByType(outcome.VerifyPassed, outcome.VerifyFailed, verify.VerifyRetry) {
		if strings.EqualFold(e.Subject, appEndpoint) && e.Data.JobID != endpointRun.Data.JobID && e.Data.Attempt == 2 {
			e := e
			rerun = &e
		}
	}
	if rerun == nil || rerun.Type != outcome.VerifyPassed {
		t.Fatalf("rerun of the endpoint's verification: got %+v, want attempt 2 passed", rerun)
	}
	reps, err := w.reports.Latest(ctx, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	latest := map[string]verify.Report{}
	for _, r := range reps { // newest first
		k := verify.SubjectKey(r.Subject)
		if _, seen := latest[k]; !seen {
			latest[k] = r
		}
	}
	for _, r := range latest {
		if r.Status != verify.StatusPass {
			t.Errorf("latest report of %s: %s\n%s", verify.SubjectKey(r.Subject), r.Status, r.Text())
		}
	}
	if dl := w.deadLetters(ctx); len(dl) != 0 {
		b, _ := json.Marshal(dl)
		t.Errorf("dead letters: %s", b)
	}
	if st, err := w.vq.Stats(ctx); err != nil || st.Pending() != 0 {
		t.Errorf("verify queue not empty at the end: %+v %v", st, err)
	}
}
