package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Replay with publicNetworkAccess: disableAfterVerification: the
// connection to the workspace (public access Enabled) is approved and a
// verification is scheduled, but public access is not disabled: replay runs
// no verification, and nothing closes the public door before one passes.
func TestReplayNeverDisablesPublicAccessBeforeVerification(t *testing.T) {
	src, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccess: disableAfterVerification\n", 1)
	if edited == string(src) {
		t.Fatal("examples/policy.yaml has no allOfType line to extend")
	}
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"replay", "--sandbox", "../testdata/scenarios/guide.yaml", "--policy", pol,
		"../testdata/events/connection-write.eventgrid.json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "approve") || !strings.Contains(out, "schedule-verify") {
		t.Errorf("replay lacks the approval and the scheduled verification:\n%s", out)
	}
	if strings.Contains(out, "disable-public-access") {
		t.Errorf("public access disabled before any verification passed:\n%s", out)
	}
}
