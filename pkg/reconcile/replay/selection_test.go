package replay

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/policy"
)

// selectionPolicy is the example policy leaving public access alone by
// default, with one selection of targets.publicNetworkAccessBy.
func selectionPolicy(t *testing.T, match string) *policy.Policy {
	t.Helper()
	raw, err := os.ReadFile(root + "examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(raw), "  allOfType: [workspaces]\n", `  allOfType: [workspaces]
  publicNetworkAccessBy:
    - name: close-retiring-services
      match: `+match+`
      mode: disableAfterVerification
`, 1)
	if src == string(raw) {
		t.Fatal("examples/policy.yaml has no allOfType line to extend")
	}
	p, err := policy.Parse("selection.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Replay of the legacy service fhirserverxxx (public access Enabled, one
// approved endpoint, tagged retiring): a selection matching it by type and
// tag shows public-access-open naming the selection, with a verification
// scheduled; replay runs that verification (as production does) and only
// after it passed is public access disabled, under the selection's name.
// With a selection that does not match it, the default (leave) applies and
// public access is not looked at.
func TestReplayPublicAccessBySelection(t *testing.T) {
	for _, tc := range []struct {
		name, match string
		open        bool
	}{
		{"selected", `{types: [services], tags: {retiring: "2026-09-30"}}`, true},
		{"not selected", `{types: [services], tags: {retiring: "2027-01-01"}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := publicScenario(t, "Enabled")
			if err := sb.Delete(peAppLegID); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), Options{Sandbox: sb, Policy: selectionPolicy(t, tc.match),
				Deliveries: deliveries(t, "connection-write-service.eventgrid.json"),
				Start:      time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC), Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var open, disable []Line
			passed, closedVerified := false, false
			for _, l := range rep.Lines {
				switch l.Action {
				case "public-access-open":
					open = append(open, l)
				case ActionVerify:
					ok := l.Result == "passed" && strings.EqualFold(l.Target, legacyID)
					closedVerified = closedVerified || (ok && len(disable) > 0)
					passed = passed || ok
				case "disable-public-access":
					if !passed {
						t.Errorf("public access disabled before a verification passed: %+v", l)
					}
					disable = append(disable, l)
				}
			}
			raw, _ := sb.Get(legacyID)
			if !tc.open {
				if len(open) != 0 || len(disable) != 0 {
					t.Errorf("a target no selection matches (default leave) was looked at: %+v %+v", open, disable)
				}
				if !strings.Contains(string(raw), `"publicNetworkAccess":"Enabled"`) {
					t.Errorf("public access of a target no selection matches changed: %s", raw)
				}
				return
			}
			if len(open) != 1 || open[0].Rule != "close-retiring-services" ||
				!strings.Contains(open[0].Reason, `publicNetworkAccessBy selection "close-retiring-services" is disableAfterVerification`) {
				t.Fatalf("public-access-open lines %+v: want one naming the selection", open)
			}
			if len(disable) != 1 || disable[0].Rule != "close-retiring-services" || disable[0].Result != "applied" {
				t.Fatalf("disable-public-access lines %+v: want one, applied, naming the selection", disable)
			}
			if !strings.Contains(string(raw), `"publicNetworkAccess":"Disabled"`) {
				t.Errorf("public access not Disabled after the passing verification: %s", raw)
			}
			if !closedVerified {
				t.Errorf("no verification passed after public access was disabled (the public probe must be refused once the delay passed): %+v", rep.Lines)
			}
		})
	}
}
