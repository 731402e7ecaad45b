package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPolicyCheckWarnsOnRequesterAlone(t *testing.T) {
	file := filepath.Join(t.TempDir(), "requester.yaml")
	src := `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
connectionRules:
  - name: pipeline-only
    when: requester.known && requester.appId == "33333333-3333-3333-3333-333333333333"
    decision: approve
    description: pipeline
  - name: pipeline-in-app-subscription
    when: requester.appId == "33333333-3333-3333-3333-333333333333" && requester.tenantId == "00000000-0000-0000-0000-0000000000ff" && endpoint.subscriptionId == "00000000-0000-0000-0000-0000000000bb"
    decision: approve
    description: pipeline
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "check", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	warn := stderr.String()
	if !strings.Contains(warn, `warning: `+file+`: line 6: rule "pipeline-only": approves on requester alone`) {
		t.Errorf("stderr %q lacks the warning for pipeline-only", warn)
	}
	if strings.Contains(warn, "pipeline-in-app-subscription") {
		t.Errorf("warned about a rule that also checks the endpoint: %q", warn)
	}
}

// Issue 26's spoof: a rule that trusts requester.upn without the tenant.
// `policy check` names the rule and what to add.
func TestPolicyCheckWarnsOnUPNWithoutTenant(t *testing.T) {
	file := filepath.Join(t.TempDir(), "attack.yaml")
	src := `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
connectionRules:
  - name: trusted-engineer
    when: requester.known && requester.upn == "dana@contoso.example"
    decision: approve
    description: trusted engineer
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "check", file}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := `warning: ` + file + `: line 6: rule "trusted-engineer": trusts requester.upn without requester.tenantId`
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), `add requester.tenantId == "<your tenant id>"`) {
		t.Errorf("stderr %q lacks %q and what to add", stderr.String(), want)
	}
}
