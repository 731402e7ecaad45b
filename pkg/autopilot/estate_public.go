package autopilot

import (
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/reconcile"
)

// flagUnreachable marks a target red when its public network access is
// Disabled and no approved private endpoint connection is left: nothing
// reaches it (the guide: "no request will make it to your FHIR server").
// The reason says what to do; the autopilot never re-enables public access.
func flagUnreachable(ts *TargetState, t core.Target) {
	if !strings.EqualFold(t.PublicNetworkAccess, "Disabled") {
		return
	}
	for _, c := range t.Connections {
		if c.Status == core.StatusApproved {
			return
		}
	}
	ts.Unreachable = true
	ts.flag(HealthRed, "unreachable: "+reconcile.UnreachableReason(t))
}
