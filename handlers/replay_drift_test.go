package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 20, drift from events, as `handler replay` shows it: once the
// connections are decided, a write of the workspace itself (public access
// turned back on) is reconciled: reported as public-access-open with its
// rule, a verification scheduled, and public access not disabled (replay
// runs no verification, and nothing closes the door before one passes).
func TestReplayReportsPublicAccessDriftFromATargetWrite(t *testing.T) {
	src, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccess: disableAfterVerification\n", 1)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	// the guide's workspace with its connections decided already
	guide, err := os.ReadFile("../testdata/scenarios/guide.yaml")
	if err != nil {
		t.Fatal(err)
	}
	decided := strings.Replace(string(guide), "{status: Pending, description: app team patients api", "{status: Approved, description: app team patients api", 1)
	decided = strings.Replace(decided, "{status: Pending, description: please approve", "{status: Rejected, description: please approve", 1)
	if decided == string(guide) {
		t.Fatal("guide.yaml has no pending connections to decide")
	}
	scenario := filepath.Join(t.TempDir(), "guide-decided.yaml")
	if err := os.WriteFile(scenario, []byte(decided), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--sandbox", scenario, "--policy", pol,
		"../testdata/events/workspace-write.eventgrid.json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "events 1 (enqueued 1,") {
		t.Errorf("the workspace write was not enqueued:\n%s", out)
	}
	var drift string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "public-access-open") {
			drift = l
		}
	}
	if !strings.Contains(drift, "contoso-health") || !strings.Contains(drift, "rule=publicNetworkAccess") || !strings.Contains(drift, "observed") {
		t.Errorf("no public-access-open report for contoso-health with its rule:\n%s", out)
	}
	if strings.Contains(out, "disable-public-access") {
		t.Errorf("public access disabled before any verification passed:\n%s", out)
	}
}
