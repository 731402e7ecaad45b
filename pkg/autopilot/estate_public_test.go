package autopilot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/autopilot"
)

// The legacy service (public access Disabled) lost its only approved
// endpoint: the estate shows it red and unreachable, with what to do. With
// public access Enabled the same loss is no outage.
func TestEstateShowsUnreachableTarget(t *testing.T) {
	for _, access := range []string{"Disabled", "Enabled"} {
		t.Run(access, func(t *testing.T) {
			r, p, rec, now := fixedEstate(t)
			r.targets[1].PublicNetworkAccess = access
			r.targets[1].Connections = nil // the hub's endpoint was deleted
			e := autopilot.BuildEstate(context.Background(), r, p, rec, now)
			svc := e.Targets[0]
			if svc.Name != "fhirserverxxx" {
				t.Fatalf("first target %s", svc.Name)
			}
			if access == "Enabled" {
				if svc.Unreachable || svc.Health == autopilot.HealthRed {
					t.Errorf("public access Enabled: unreachable %t health %s, want reachable and not red", svc.Unreachable, svc.Health)
				}
				return
			}
			if !svc.Unreachable || svc.Health != autopilot.HealthRed {
				t.Fatalf("unreachable %t health %s, want true and red", svc.Unreachable, svc.Health)
			}
			found := false
			for _, why := range svc.HealthReasons {
				if strings.HasPrefix(why, "unreachable: ") && strings.Contains(why, "fhirserverxxx.azurehealthcareapis.com") &&
					strings.Contains(why, "approve its connection") {
					found = true
				}
			}
			if !found {
				t.Errorf("health reasons %q do not say the target is unreachable and what to do", svc.HealthReasons)
			}
		})
	}
}
