package demo

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
)

func (w *world) publicAccess(t *testing.T, id string) string {
	t.Helper()
	raw, ok := w.sb.Get(id)
	if !ok {
		t.Fatalf("%s is not in the sandbox", id)
	}
	var r struct {
		Properties struct {
			PublicNetworkAccess string `json:"publicNetworkAccess"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	return r.Properties.PublicNetworkAccess
}

// The whole path through the service on the sandbox with the demo policy
// (publicNetworkAccess: disableAfterVerification), the sandbox on the
// story's simulated clock: the approval leaves public access Enabled and a
// public client gets the CapabilityStatement (200); the verification of
// the workspace passes (its public probe skipped, keeping the 200 it saw);
// only then is public access Disabled, with an outcome event naming the
// rule; public clients still get 200 until the propagation delay has
// passed; the verification scheduled after the policy's delay sees 403 and
// passes; running everything again changes nothing.
func TestPublicAccessClosedOnlyAfterVerification(t *testing.T) {
	pol, err := policy.Load("../../" + DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	if pol.PublicNetworkAccess() != policy.PublicAccessDisableAfterVerification {
		t.Fatalf("demo policy has publicNetworkAccess %q", pol.PublicNetworkAccess())
	}
	sb, err := loadSandbox("../../testdata/scenarios/guide.yaml", 0)
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWorld(sb, pol, storyStart, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	ctx := context.Background()
	get := func(when string, want int) {
		t.Helper()
		status, sum, err := w.publicGet(ctx, wsFQDN)
		if err != nil {
			t.Fatal(err)
		}
		if status != want {
			t.Errorf("public GET %s: %s, want %d", when, sum, want)
		}
	}
	disabledEvents := func() []outcome.Event {
		var out []outcome.Event
		for _, e := range w.mem.ByType(outcome.PublicAccessDisabled) {
			if e.Data.Result == outcome.ResultApplied {
				out = append(out, e)
			}
		}
		return out
	}

	// The story's first two events: pe-app-fhir approved, pe-unknown
	// rejected (a plan that changes a connection keeps public access).
	_, _, unknownConn, _ := w.connection(workspaceID, "pe-unknown")
	if err := w.post(ctx, opEndpointWrite, appEndpoint, "dana@contoso.example"); err != nil {
		t.Fatal(err)
	}
	if err := w.post(ctx, opConnectionWrite, unknownConn, "someone@fabrikam.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _, _, _ := w.connection(workspaceID, "pe-app-fhir"); st != "Approved" {
		t.Fatalf("pe-app-fhir: %q, want Approved", st)
	}
	if got := w.publicAccess(t, workspaceID); got != "Enabled" {
		t.Fatalf("public access after the approval, before any verification: %q, want Enabled", got)
	}
	get("after the approval", http.StatusOK)

	// The verifications only: they pass, and nothing closes the door yet.
	if _, err := jobs.Drain(ctx, w.svc.Verify, jobs.DrainOptions{Clock: w.clock}, w.vq); err != nil {
		t.Fatal(err)
	}
	if n := len(disabledEvents()); n != 0 {
		t.Fatalf("%d public-access-disabled events from verifications alone", n)
	}
	first := latestReport(t, w)
	if first.Status != verify.StatusPass {
		t.Fatalf("first verification of contoso-health: %s %s", first.Status, first.Summary)
	}
	if c := publicCheck(first); c == nil || c.Status != verify.StatusSkipped || !strings.Contains(strings.Join(c.Evidence, " "), "200 OK") {
		t.Errorf("first verification's public probe %+v, want skipped with the 200 a public client got", c)
	}

	// The reconcile job the passing verification sent closes the door.
	if _, err := w.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.publicAccess(t, workspaceID); got != "Disabled" {
		t.Fatalf("public access after a passing verification: %q, want Disabled", got)
	}
	evs := disabledEvents()
	if len(evs) != 1 || evs[0].Data.Rule != "publicNetworkAccess" || !strings.Contains(evs[0].Data.Reason, "verified") {
		t.Fatalf("public-access-disabled events %+v: want one, rule publicNetworkAccess, a reason naming the verification", evs)
	}
	passed := w.eventIndex(func(e outcome.Event) bool {
		return e.Type == outcome.VerifyPassed && strings.EqualFold(e.Subject, workspaceID)
	})
	disabled := w.eventIndex(func(e outcome.Event) bool { return e.Type == outcome.PublicAccessDisabled })
	if passed < 0 || disabled < passed {
		t.Fatalf("event order: first workspace verify.passed at %d, public-access-disabled at %d; want the disable after it", passed, disabled)
	}
	get("right after the disable (propagating)", http.StatusOK)
	enforced := w.access(workspaceID).EnforcedAt

	// The follow-up verification, after the policy's delay, sees 403.
	if _, err := w.runAll(ctx); err != nil {
		t.Fatal(err)
	}
	get("after the delay", http.StatusForbidden)
	last := latestReport(t, w)
	if c := publicCheck(last); last.Status != verify.StatusPass || c == nil || c.Status != verify.StatusPass || !strings.Contains(strings.Join(c.Evidence, " "), "403") {
		t.Errorf("verification after the disable: %s, public probe %+v; want pass on 403", last.Status, c)
	}
	if last.StartedAt.Before(enforced) {
		t.Errorf("the follow-up verification ran at %s, before public access was blocked (%s)", last.StartedAt, enforced)
	}

	// Converged: a sweep and everything it queues changes nothing more.
	if _, err := w.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.runAll(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(disabledEvents()); n != 1 {
		t.Errorf("public access disabled %d times, want once", n)
	}
	if dl := w.deadLetters(ctx); len(dl) != 0 {
		t.Errorf("dead letters: %+v", dl)
	}
}

// latestReport is the newest report of a verification of contoso-health
// with a public probe.
func latestReport(t *testing.T, w *world) verify.Report {
	t.Helper()
	reps, err := w.reports.Latest(context.Background(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		if strings.EqualFold(r.Subject.TargetID, workspaceID) && r.Subject.PublicURL != "" {
			return r
		}
	}
	t.Fatal("no verification report of contoso-health with a public probe")
	return verify.Report{}
}

func publicCheck(r verify.Report) *verify.CheckResult {
	for i, c := range r.Checks {
		if strings.HasPrefix(c.Name, "public GET ") {
			return &r.Checks[i]
		}
	}
	return nil
}
