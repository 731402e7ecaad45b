package demo

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
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

// The whole path through the service on the sandbox with
// publicNetworkAccess: disableAfterVerification: the approval leaves public
// access Enabled; the verification of the workspace finds its private
// access working; only then is public access Disabled (PATCH/PUT in the
// sandbox), with an outcome event naming the rule; running everything again
// changes nothing.
func TestPublicAccessClosedOnlyAfterVerification(t *testing.T) {
	src, err := os.ReadFile("../../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccess: disableAfterVerification\n", 1)
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if pol.PublicNetworkAccess() != policy.PublicAccessDisableAfterVerification {
		t.Fatalf("edited policy has publicNetworkAccess %q", pol.PublicNetworkAccess())
	}
	sb, err := sandbox.Load("../../testdata/scenarios/guide.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w, err := newWorld(sb, pol, storyStart, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	ctx := context.Background()

	if err := w.post(ctx, opEndpointWrite, appEndpoint, "dana@contoso.example"); err != nil {
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
	if n := len(w.mem.ByType(outcome.PublicAccessDisabled)); n != 0 {
		t.Fatalf("%d public-access-disabled events before verification", n)
	}

	if _, err := w.runAll(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.publicAccess(t, workspaceID); got != "Disabled" {
		t.Fatalf("public access after a passing verification: %q, want Disabled", got)
	}
	evs := w.mem.Events()
	firstVerify, disabled := -1, -1
	for i, e := range evs {
		if e.Type == outcome.VerifyPassed && strings.EqualFold(e.Subject, workspaceID) && firstVerify < 0 {
			firstVerify = i
		}
		if e.Type == outcome.PublicAccessDisabled && e.Data.Result == outcome.ResultApplied {
			if disabled >= 0 {
				t.Errorf("public access disabled twice")
			}
			disabled = i
			if e.Data.Rule != "publicNetworkAccess" || !strings.Contains(e.Data.Reason, "verified") {
				t.Errorf("public-access-disabled event %+v: want rule publicNetworkAccess and a reason naming the verification", e.Data)
			}
		}
	}
	if disabled < 0 || firstVerify < 0 || disabled < firstVerify {
		t.Fatalf("event order: first workspace verify.passed at %d, public-access-disabled at %d; want the disable after the verification", firstVerify, disabled)
	}
	if dl := w.deadLetters(ctx); len(dl) != 0 {
		t.Errorf("dead letters: %+v", dl)
	}
}
