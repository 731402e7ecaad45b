package infra

import (
	"os/exec"
	"strings"
	"testing"
)

// azd zips build/functionapp as staged by `make stage` (azure.yaml's
// prepackage hook). local.settings.json holds a developer's local settings
// and must never reach Azure: stage does not copy it, and writes a
// .funcignore naming it for tools that publish the folder directly.
func TestStageNeverPackagesLocalSettings(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	out, err := exec.Command("make", "-s", "-n", "-C", "..", "stage").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n stage: %v\n%s", err, out)
	}
	sawIgnore := false
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "local.settings.json") {
			if strings.Contains(line, ".funcignore") && !strings.HasPrefix(strings.TrimSpace(line), "cp") {
				sawIgnore = true
				continue
			}
			t.Errorf("make stage touches local.settings.json: %s", line)
		}
	}
	if !sawIgnore {
		t.Errorf("make stage writes no .funcignore naming local.settings.json:\n%s", out)
	}
}
