package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Replay with publicNetworkAccess: disableAfterVerification shows what the
// service does: the connection to the workspace (public access Enabled) is
// approved and a verification scheduled; the verification runs, and public
// access is disabled only after it passed, never before, once.
func TestReplayDisablesPublicAccessOnlyAfterAPassingVerification(t *testing.T) {
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
	code := run([]string{"replay", "--json", "--sandbox", "../testdata/scenarios/guide.yaml", "--policy", pol,
		"../testdata/events/connection-write.eventgrid.json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, stdout.String(), stderr.String())
	}
	const workspace = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	var order []string // the workspace's approve, verify and disable lines, in order
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var l struct{ Action, Target, Result string }
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		switch {
		case l.Action == "approve" && strings.HasPrefix(l.Target, workspace+"/"):
			order = append(order, "approve "+l.Result)
		case (l.Action == "verify" || l.Action == "disable-public-access") && l.Target == workspace:
			order = append(order, l.Action+" "+l.Result)
		}
	}
	want := []string{"approve applied", "verify passed", "disable-public-access applied", "verify passed"}
	if !slices.Equal(order, want) {
		t.Errorf("workspace lines in order = %q, want %q (public access disabled only after a passing verification, then the public path verified closed)", order, want)
	}
}
