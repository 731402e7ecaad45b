package reconcile

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
)

// The JSON of a plan keeps the field names replay --json, /api/evaluate and
// the plan log have always had: the payload of each change appears as its
// "connection", "link", "oldLink", "zoneGroup" or "job" object; and a plan
// read back is the same plan.
func TestPlanJSONKeepsItsShapeAndRoundTrips(t *testing.T) {
	pl := ComputePlan(stateOf(approvedWorld(), reconcileJob(jobs.SubjectTarget, wsID)), newFakePolicy())
	pending := core.Connection{ID: wsID + "/privateEndpointConnections/pe9.c9", Name: "pe9.c9", Status: core.StatusPending}
	old := core.VNetLink{ID: zoneID + "/virtualNetworkLinks/l1", ZoneID: zoneID, VNetID: hubVNet}
	pl.Actions = append(pl.Actions,
		leavePendingAction(pending, wsID, "r", "why"),
		updateLinkAction(core.LinkSpec{ZoneID: zoneID, VNetID: hubVNet, Name: "l1", RegistrationEnabled: true}, old, wsID, "r", "why"),
		removeLinkAction(old, zoneID, RuleRemoveOwnLinks, "gone"))
	b, err := json.Marshal(pl)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Actions []map[string]json.RawMessage `json:"actions"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[Kind][]string{
		KindCreateLink: {"link"}, KindAddZoneGroup: {"zoneGroup"}, KindScheduleVerify: {"job"},
		KindLeavePending: {"connection"}, KindUpdateLink: {"link", "oldLink"}, KindRemoveLink: {"oldLink"},
	}
	seen := map[Kind]bool{}
	for _, a := range raw.Actions {
		var k Kind
		_ = json.Unmarshal(a["kind"], &k)
		seen[k] = true
		for _, f := range want[k] {
			if _, ok := a[f]; !ok {
				t.Errorf("%s action JSON lacks %q: %s", k, f, b)
			}
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("test plan has no %s action", k)
		}
	}
	var back Plan
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(back, pl); diff != "" {
		t.Errorf("plan read back differs (-back +plan):\n%s", diff)
	}
}

// A change that lacks what it writes cannot be read from JSON (the error
// names the field), and one built without its constructor is refused by
// apply: nothing is written and the job fails for good (not retried).
func TestMalformedChangesAreRefused(t *testing.T) {
	for body, field := range map[string]string{
		`{"kind":"approve","resource":"c"}`:               "connection",
		`{"kind":"create-link","resource":"v"}`:           "link",
		`{"kind":"update-link","resource":"v","link":{}}`: "oldLink",
		`{"kind":"remove-link","resource":"l"}`:           "oldLink",
		`{"kind":"add-zone-group","resource":"e"}`:        "zoneGroup",
		`{"kind":"disable-public-access","resource":"t"}`: "target",
		`{"kind":"schedule-verify","resource":"t"}`:       "job",
	} {
		var a Action
		err := json.Unmarshal([]byte(body), &a)
		if err == nil || !strings.Contains(err.Error(), `"`+field+`"`) {
			t.Errorf("%s: err %v, want one naming field %q", body, err, field)
		}
	}

	f := approvedWorld()
	g := newRig(t, f, nil)
	pl := Plan{Actions: []Action{{Kind: KindApprove, Resource: wsID + "/privateEndpointConnections/pe1.c1", Target: wsID}}}
	done, err := g.r.apply(context.Background(), "job-1", pl, t0)
	if err == nil || core.ClassOf(err) != core.Fatal {
		t.Fatalf("apply of a literal approve: err %v, want a fatal error", err)
	}
	if len(f.writes) != 0 || done.writes != 0 {
		t.Errorf("a malformed change was written: %v", f.writes)
	}
	if len(done.results) != 1 || done.results[0].Result != outcome.ResultFailed || !strings.Contains(done.results[0].Error, "constructor") {
		t.Errorf("results %+v, want one failed result saying why", done.results)
	}
}
