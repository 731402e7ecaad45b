package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// policy check lists the public access default and the selections of
// targets.publicNetworkAccessBy in order, so a reviewer sees which targets
// get their public access closed.
func TestPolicyCheckListsPublicAccessSelections(t *testing.T) {
	src, err := os.ReadFile("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(src), "  allOfType: [workspaces]\n", `  allOfType: [workspaces]
  publicNetworkAccess: audit
  publicNetworkAccessBy:
    - name: close-prod-workspaces
      match: {types: [workspaces], tags: {env: prod}}
      mode: disableAfterVerification
`, 1)
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"policy", "check", pol}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"public network access  ", "public network access by selection (first match wins):",
		"close-prod-workspaces  disableAfterVerification  types workspaces; tags env=prod", "(default)              audit"} {
		if !strings.Contains(out, want) {
			t.Errorf("policy check output lacks %q:\n%s", want, out)
		}
	}
	stdout.Reset()
	if code := run([]string{"policy", "check", "../examples/policy.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	if strings.Contains(stdout.String(), "by selection") {
		t.Errorf("a policy without selections lists a selection section:\n%s", stdout.String())
	}
}
