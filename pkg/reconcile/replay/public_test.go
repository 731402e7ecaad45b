package replay

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
)

const (
	legacyID   = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	peHubConn  = legacyID + "/privateEndpointConnections/pe-hub-fhirserverxxx.2a4f6b8d-0c1e-4f2a-b3c4-d5e6f7a8b9c0"
	peAppLegID = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-legacy"
	peHubID    = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-hub-network/providers/Microsoft.Network/privateEndpoints/pe-hub-fhirserverxxx"
)

// publicScenario loads workspace-and-legacy.yaml with the legacy service's
// publicNetworkAccess set to access (it is Disabled in the file).
func publicScenario(t *testing.T, access string) *sandbox.Sandbox {
	t.Helper()
	raw, err := os.ReadFile(root + "testdata/scenarios/workspace-and-legacy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(raw), "publicNetworkAccess: Disabled", "publicNetworkAccess: "+access, 1)
	path := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	// on simulated time, as handler replay loads it: the public listener
	// refuses once the propagation delay has passed on the replay's clock
	sb, err := sandbox.Load(path, sandbox.WithoutThrottling(), sandbox.WithClock(clock.NewFake(time.Time{})))
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// revokingPolicy is the example policy with a first rule revoking the hub's
// endpoint to the legacy service.
func revokingPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	raw, err := os.ReadFile(root + "examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(raw), "connectionRules:\n", `connectionRules:
  - name: decommission-hub-endpoint
    when: endpoint.name == "pe-hub-fhirserverxxx"
    decision: reject
    revoke: true
    description: The hub endpoint is being decommissioned.
`, 1)
	p, err := policy.Parse("revoking.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func connStatus(t *testing.T, sb *sandbox.Sandbox, id string) string {
	t.Helper()
	raw, ok := sb.Get(id)
	if !ok {
		t.Fatalf("%s not in the sandbox", id)
	}
	var c struct {
		Properties struct {
			State struct {
				Status string `json:"status"`
			} `json:"privateLinkServiceConnectionState"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Properties.State.Status
}

// The policy would revoke the only approved connection of fhirserverxxx,
// whose public access is Disabled: the replay shows no reject but a guard
// naming the rule, and the connection stays approved. With public access
// Enabled the same policy revokes it.
func TestReplayGuardsLastPrivatePath(t *testing.T) {
	for _, tc := range []struct {
		access  string
		guarded bool
	}{{"Disabled", true}, {"Enabled", false}} {
		t.Run(tc.access, func(t *testing.T) {
			sb := publicScenario(t, tc.access)
			// pe-app-legacy gone: the hub's endpoint is the only one left.
			if err := sb.Delete(peAppLegID); err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), Options{Sandbox: sb, Policy: revokingPolicy(t),
				Deliveries: deliveries(t, "connection-write-service.eventgrid.json"),
				Start:      time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC), Dir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			var guards, rejects []Line
			for _, l := range rep.Lines {
				switch l.Action {
				case "guard-last-private-path":
					guards = append(guards, l)
				case "reject":
					rejects = append(rejects, l)
				}
			}
			status := connStatus(t, sb, peHubConn)
			if !tc.guarded {
				if len(rejects) != 1 || len(guards) != 0 || status != "Rejected" {
					t.Fatalf("public access Enabled: rejects %v guards %v status %s, want the revocation applied", rejects, guards, status)
				}
				return
			}
			if len(rejects) != 0 {
				t.Errorf("the last private path was revoked: %+v", rejects)
			}
			if len(guards) != 1 {
				t.Fatalf("guard lines = %+v, want 1", guards)
			}
			g := guards[0]
			if g.Rule != "decommission-hub-endpoint" || !strings.Contains(g.Reason, "public network access is Disabled") || g.Result != outcome.ResultObserved {
				t.Errorf("guard line = %+v, want the overridden rule, why, and result observed", g)
			}
			if status != "Approved" {
				t.Errorf("connection status = %s, want Approved", status)
			}
			if n := len(byType(rep.Outcomes, outcome.PrivatePathGuarded)); n != 1 {
				t.Errorf("connection.guarded events = %d, want 1", n)
			}
			if n := len(byType(rep.Outcomes, outcome.TargetUnreachable)); n != 0 {
				t.Errorf("target.unreachable while the path is kept: %d events", n)
			}
		})
	}
}

// Deleting the last approved endpoint of fhirserverxxx (public access
// Disabled): the endpoint's delete event produces a critical
// target.unreachable event at once, with what to do; public access stays
// Disabled.
func TestReplayLastEndpointDeletedReportsUnreachable(t *testing.T) {
	sb := publicScenario(t, "Disabled")
	for _, id := range []string{peAppLegID, peHubID} {
		if err := sb.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	ev := strings.ReplaceAll(string(deliveries(t, "endpoint-delete.eventgrid.json")[0]),
		"/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir", peHubID)
	rep, err := Run(context.Background(), Options{Sandbox: sb, Policy: loadPolicy(t, false),
		Deliveries: [][]byte{[]byte(ev)}, Start: time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	evs := byType(rep.Outcomes, outcome.TargetUnreachable)
	if len(evs) != 1 {
		t.Fatalf("target.unreachable events = %d, want 1 (lines %+v)", len(evs), rep.Lines)
	}
	e := evs[0]
	if !strings.EqualFold(e.Subject, legacyID) || e.Data.Severity != outcome.SeverityCritical {
		t.Errorf("event subject %s severity %q, want %s critical", e.Subject, e.Data.Severity, legacyID)
	}
	for _, want := range []string{"no request reaches", "create a private endpoint", "never re-enables public access"} {
		if !strings.Contains(e.Data.Reason, want) {
			t.Errorf("reason %q does not say %q", e.Data.Reason, want)
		}
	}
	raw, _ := sb.Get(legacyID)
	if !strings.Contains(string(raw), `"publicNetworkAccess":"Disabled"`) {
		t.Errorf("public access changed: %s", raw)
	}
	// the workspace (public access Enabled) is not reported
	for _, e := range evs {
		if strings.Contains(e.Subject, "contoso-health") {
			t.Errorf("workspace with public access Enabled reported unreachable")
		}
	}
}

func byType(evs []outcome.Event, typ outcome.Type) []outcome.Event {
	var out []outcome.Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
