package loadtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
)

// Invariant names.
const (
	InvDecided      = "connection-decided-as-policy"
	InvApprovedRule = "no-approval-without-rule"
	InvLinkedOnce   = "vnet-linked-once"
	InvNotLinked    = "vnet-not-linked"
	InvUnmanaged    = "unmanaged-link-untouched"
	InvZoneGroup    = "zone-group-present"
	InvJobLost      = "no-job-lost"
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string `json:"invariant"`
	Resource  string `json:"resource,omitempty"`
	Detail    string `json:"detail"`
}

func (v Violation) String() string { return v.Invariant + " " + v.Resource + ": " + v.Detail }

// Evidence is what the invariants are checked against.
type Evidence struct {
	// Final is the sandbox's state at the end (Sandbox.Snapshot).
	Final []json.RawMessage
	// UnmanagedBefore and UnmanagedAfter are the links the autopilot does
	// not own, as read before and after the run.
	UnmanagedBefore, UnmanagedAfter map[string]json.RawMessage
	DeadLetters                     []jobs.DeadLetter
	// Outcomes is the outcome log (every decision and change).
	Outcomes []outcome.Event
	// Sent holds the ids of the reconcile jobs sent; Delivered those
	// delivered at least once; Pending the jobs left in the queue.
	Sent, Delivered map[string]bool
	Pending         int
}

// CheckInvariants compares the end of a run with what the policy says.
func CheckInvariants(ev Evidence, exp Expected) []Violation {
	var out []Violation
	add := func(inv, res, format string, a ...any) {
		out = append(out, Violation{Invariant: inv, Resource: res, Detail: fmt.Sprintf(format, a...)})
	}
	res := map[string]map[string]any{}
	for _, raw := range ev.Final {
		var m map[string]any
		if json.Unmarshal(raw, &m) != nil {
			continue
		}
		if id, _ := m["id"].(string); id != "" {
			res[core.IDKey(id)] = m
		}
	}
	allowed := map[string]bool{}
	for _, s := range exp.AllowedSubscriptions {
		allowed[strings.ToLower(s)] = true
	}

	// connections: decided as the policy says; approved only by a rule
	for k, want := range exp.Connections {
		m, ok := res[k]
		if !ok {
			add(InvDecided, want.ID, "connection is missing")
			continue
		}
		got := str(m, "properties", "privateLinkServiceConnectionState", "status")
		if !strings.EqualFold(got, string(want.Status)) {
			add(InvDecided, want.ID, "status %s, policy says %s (rule %s)", got, want.Status, want.Rule)
		}
	}
	for k, m := range res {
		if !strings.Contains(k, "/privateendpointconnections/") {
			continue
		}
		if !strings.EqualFold(str(m, "properties", "privateLinkServiceConnectionState", "status"), string(core.StatusApproved)) {
			continue
		}
		ep := str(m, "properties", "privateEndpoint", "id")
		if !allowed[strings.ToLower(core.SubscriptionOf(ep))] {
			add(InvApprovedRule, str(m, "id"), "approved, but no rule allows endpoint subscription %s", core.SubscriptionOf(ep))
		}
	}
	for _, e := range ev.Outcomes {
		if e.Type != outcome.ConnectionApproved || (e.Data.Result != outcome.ResultApplied && e.Data.Result != outcome.ResultInProgress) {
			continue
		}
		want, ok := exp.Connections[core.IDKey(e.Subject)]
		switch {
		case !ok:
			add(InvApprovedRule, e.Subject, "approval recorded for a connection the load never requested")
		case want.Status != core.StatusApproved || e.Data.Rule != want.Rule:
			add(InvApprovedRule, e.Subject, "approved by rule %q, policy says %s by %q", e.Data.Rule, want.Status, want.Rule)
		}
	}

	// links: exactly one per VNet that should be linked, none elsewhere
	zone := core.IDKey(exp.ZoneID)
	links := map[string][]string{} // vnet -> link ids in the zone
	for k, m := range res {
		if !strings.HasPrefix(k, zone+"/virtualnetworklinks/") {
			continue
		}
		v := core.IDKey(str(m, "properties", "virtualNetwork", "id"))
		links[v] = append(links[v], str(m, "id"))
	}
	for _, v := range exp.LinkedVNets {
		if n := len(links[core.IDKey(v)]); n != 1 {
			sort.Strings(links[core.IDKey(v)])
			add(InvLinkedOnce, v, "%d links to the zone, want exactly 1 %v", n, links[core.IDKey(v)])
		}
	}
	for _, v := range exp.UnlinkedVNets {
		if n := len(links[core.IDKey(v)]); n != 0 {
			add(InvNotLinked, v, "%d links to the zone, the policy links none", n)
		}
	}
	for id, b := range ev.UnmanagedBefore {
		a, ok := ev.UnmanagedAfter[id]
		if !ok {
			add(InvUnmanaged, id, "deleted")
			continue
		}
		if !jsonEqual(a, b) {
			add(InvUnmanaged, id, "changed: before %s after %s", b, a)
		}
	}

	// zone groups of approved endpoints
	groups := map[string]bool{} // endpoint -> covers the zone
	for k, m := range res {
		i := strings.Index(k, "/privatednszonegroups/")
		if i < 0 {
			continue
		}
		for _, c := range objs(m, "properties", "privateDnsZoneConfigs") {
			if core.SameID(str(c, "properties", "privateDnsZoneId"), exp.ZoneID) {
				groups[k[:i]] = true
			}
		}
	}
	for _, ep := range exp.ZoneGroupEndpoints {
		if !groups[core.IDKey(ep)] {
			add(InvZoneGroup, ep, "approved endpoint has no zone group for %s", ZoneName)
		}
	}

	// jobs: none left, every one sent was delivered, dead letters say why
	if ev.Pending != 0 {
		add(InvJobLost, "", "%d jobs still queued at the end", ev.Pending)
	}
	dead := map[string]bool{}
	for _, d := range ev.DeadLetters {
		dead[d.Job.ID] = true
		if strings.TrimSpace(d.Reason) == "" {
			add(InvJobLost, d.Job.TargetID, "job %s dead-lettered without a reason", d.Job.ID)
		}
	}
	var lost []string
	for id := range ev.Sent {
		if !ev.Delivered[id] && !dead[id] {
			lost = append(lost, id)
		}
	}
	sort.Strings(lost)
	for _, id := range lost {
		add(InvJobLost, "", "job %s was sent but never delivered nor dead-lettered", id)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Invariant != out[j].Invariant {
			return out[i].Invariant < out[j].Invariant
		}
		return out[i].Resource < out[j].Resource
	})
	return out
}

func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ca, _ := json.Marshal(x)
	cb, _ := json.Marshal(y)
	return bytes.Equal(ca, cb)
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func str(m map[string]any, path ...string) string {
	s, _ := get(m, path...).(string)
	return s
}

func objs(m map[string]any, path ...string) []map[string]any {
	arr, _ := get(m, path...).([]any)
	var out []map[string]any
	for _, v := range arr {
		if o, ok := v.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}
