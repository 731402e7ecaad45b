package reconcile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// Typed plan changes. An Action's descriptive fields (Kind, Resource, Rule,
// Reason, ...) are what people and the outcome events read; what apply
// writes or sends is its payload, one type per kind, set only by the
// constructors below (as Azure Service Operator builds its decisions and
// external-dns its typed change lists). A change whose payload is missing
// or incomplete cannot be built, and apply switches on the payload's type,
// never on Kind, so it never dereferences a missing part.

// payload is what apply needs for one kind of action.
type payload interface{ isPayload() }

// connectionWrite sets a connection's status (approve, reject).
type connectionWrite struct {
	conn core.Connection
	to   core.ConnectionStatus
}

// connectionNote names the connection an observation is about
// (leave-pending, guard-last-private-path). Nothing is written.
type connectionNote struct{ conn core.Connection }

// linkWrite creates a VNet link, or updates the autopilot's own (old set).
type linkWrite struct {
	spec core.LinkSpec
	old  *core.VNetLink
}

// linkRemoval deletes a link the autopilot owns.
type linkRemoval struct{ link core.VNetLink }

// zoneGroupWrite creates or extends an endpoint's DNS zone group.
type zoneGroupWrite struct{ spec core.ZoneGroupSpec }

// publicAccessWrite disables a target's public network access.
type publicAccessWrite struct{ targetID string }

// jobSend sends a follow-up job (schedule-verify, enqueue).
type jobSend struct{ job jobs.Job }

func (connectionWrite) isPayload()   {}
func (connectionNote) isPayload()    {}
func (linkWrite) isPayload()         {}
func (linkRemoval) isPayload()       {}
func (zoneGroupWrite) isPayload()    {}
func (publicAccessWrite) isPayload() {}
func (jobSend) isPayload()           {}

// approveAction approves a pending connection of target targetID as decided.
func approveAction(c core.Connection, targetID string, d policy.Decision) Action {
	return Action{Kind: KindApprove, Resource: c.ID, Target: targetID, Rule: d.Rule, Reason: d.Reason, Description: d.Description,
		Before: string(c.Status), After: string(core.StatusApproved), change: connectionWrite{conn: c, to: core.StatusApproved}}
}

// rejectAction rejects a connection as decided: a pending one, or an
// approved one the decision revokes.
func rejectAction(c core.Connection, targetID string, d policy.Decision) Action {
	return Action{Kind: KindReject, Resource: c.ID, Target: targetID, Rule: d.Rule, Reason: d.Reason, Description: d.Description,
		Revoke: c.Status == core.StatusApproved, Before: string(c.Status), After: string(core.StatusRejected),
		change: connectionWrite{conn: c, to: core.StatusRejected}}
}

// leavePendingAction records a connection left pending and why.
func leavePendingAction(c core.Connection, targetID, rule, reason string) Action {
	return Action{Kind: KindLeavePending, Resource: c.ID, Target: targetID, Rule: rule, Reason: reason,
		Before: string(c.Status), After: string(c.Status), change: connectionNote{conn: c}}
}

// guardAction records a revocation withheld by the last private path guard.
func guardAction(c core.Connection, targetID, rule, reason string) Action {
	return Action{Kind: KindGuard, Resource: c.ID, Target: targetID, Rule: rule, Reason: reason,
		Before: string(c.Status), After: string(c.Status), change: connectionNote{conn: c}}
}

// createLinkAction links spec's VNet to its zone.
func createLinkAction(spec core.LinkSpec, targetID, rule, reason string) Action {
	spec.Update = false
	return Action{Kind: KindCreateLink, Resource: spec.VNetID, Target: targetID, Zone: spec.ZoneID, Rule: rule, Reason: reason,
		Before: "unlinked", After: "linked", change: linkWrite{spec: spec}}
}

// updateLinkAction brings the autopilot's own link old in line with spec.
func updateLinkAction(spec core.LinkSpec, old core.VNetLink, targetID, rule, reason string) Action {
	spec.Update = true
	return Action{Kind: KindUpdateLink, Resource: spec.VNetID, Target: targetID, Zone: spec.ZoneID, Rule: rule, Reason: reason,
		Before: linkState(old.RegistrationEnabled, old.ResolutionPolicy), After: linkState(spec.RegistrationEnabled, spec.ResolutionPolicy),
		change: linkWrite{spec: spec, old: &old}}
}

// removeLinkAction deletes link l (of zone zoneID) the autopilot owns.
func removeLinkAction(l core.VNetLink, zoneID, rule, reason string) Action {
	return Action{Kind: KindRemoveLink, Resource: l.ID, Zone: zoneID, Rule: rule, Reason: reason,
		Before: "linked", After: "removed", change: linkRemoval{link: l}}
}

// addZoneGroupAction writes an endpoint's zone group.
func addZoneGroupAction(spec core.ZoneGroupSpec, targetID, rule, reason, before string) Action {
	return Action{Kind: KindAddZoneGroup, Resource: spec.EndpointID, Target: targetID, Rule: rule, Reason: reason,
		Before: before, After: "zones: " + strings.Join(zoneNames(spec.ZoneIDs), ","), change: zoneGroupWrite{spec: spec}}
}

// disablePublicAccessAction sets target t's public network access to
// Disabled.
func disablePublicAccessAction(t core.Target, rule, reason string) Action {
	return Action{Kind: KindDisablePublicAccess, Resource: t.ID, Target: t.ID, Rule: rule, Reason: reason,
		Before: core.PublicAccessEnabled, After: core.PublicAccessDisabled, change: publicAccessWrite{targetID: t.ID}}
}

// scheduleVerifyAction sends verification job j.
func scheduleVerifyAction(j jobs.Job, reason string) Action {
	return Action{Kind: KindScheduleVerify, Resource: j.TargetID, Rule: RuleVerify, Reason: reason, change: jobSend{job: j}}
}

// enqueueAction sends reconcile job j.
func enqueueAction(j jobs.Job, reason string) Action {
	return Action{Kind: KindEnqueue, Resource: j.TargetID, Target: j.TargetID, Reason: reason, change: jobSend{job: j}}
}

// dnsFindingAction reports a DNS problem of endpoint endpointID.
func dnsFindingAction(endpointID, targetID, zone, reason string) Action {
	return Action{Kind: KindDNSFinding, Resource: endpointID, Target: targetID, Zone: zone, Rule: RuleDNSTable, Reason: reason}
}

// unreachableAction reports target t unreachable.
func unreachableAction(t core.Target) Action {
	return Action{Kind: KindUnreachable, Resource: t.ID, Target: t.ID, Rule: RuleLastPrivatePath,
		Reason: UnreachableReason(t), Before: "public access Disabled", After: "no approved private endpoint"}
}

// publicAccessOpenAction reports target t's public network access Enabled.
func publicAccessOpenAction(t core.Target, rule, reason string) Action {
	return Action{Kind: KindPublicAccessOpen, Resource: t.ID, Target: t.ID, Rule: rule, Reason: reason,
		Before: core.PublicAccessEnabled, After: core.PublicAccessEnabled}
}

// Connection returns the connection an approve, reject, leave-pending or
// guard action is about.
func (a Action) Connection() (core.Connection, bool) {
	switch p := a.change.(type) {
	case connectionWrite:
		return p.conn, true
	case connectionNote:
		return p.conn, true
	}
	return core.Connection{}, false
}

// Link returns the link a create-link or update-link action writes.
func (a Action) Link() (core.LinkSpec, bool) {
	p, ok := a.change.(linkWrite)
	return p.spec, ok
}

// OldLink returns the link an update-link action changes or a remove-link
// action deletes.
func (a Action) OldLink() (core.VNetLink, bool) {
	switch p := a.change.(type) {
	case linkWrite:
		if p.old != nil {
			return *p.old, true
		}
	case linkRemoval:
		return p.link, true
	}
	return core.VNetLink{}, false
}

// ZoneGroup returns the zone group an add-zone-group action writes.
func (a Action) ZoneGroup() (core.ZoneGroupSpec, bool) {
	p, ok := a.change.(zoneGroupWrite)
	return p.spec, ok
}

// Job returns the job a schedule-verify or enqueue action sends.
func (a Action) Job() (jobs.Job, bool) {
	p, ok := a.change.(jobSend)
	return p.job, ok
}

// Equal reports whether a and b are the same action, payload included
// (go-cmp uses it).
func (a Action) Equal(b Action) bool { return reflect.DeepEqual(a, b) }

// changeKey identifies what a change does, whatever the job that planned it
// ("" for changes that always go to ARM: link updates, public access).
func changeKey(a Action) string {
	switch p := a.change.(type) {
	case connectionWrite:
		return string(a.Kind) + "|" + core.IDKey(p.conn.ID)
	case linkWrite:
		if p.old == nil {
			return "link|" + core.IDKey(p.spec.ZoneID) + "|" + core.IDKey(p.spec.VNetID)
		}
	case linkRemoval:
		return "unlink|" + core.IDKey(p.link.ID)
	case zoneGroupWrite:
		zs := make([]string, 0, len(p.spec.ZoneIDs))
		for _, z := range p.spec.ZoneIDs {
			zs = append(zs, core.IDKey(z))
		}
		sort.Strings(zs)
		return "zonegroup|" + core.IDKey(p.spec.EndpointID) + "|" + strings.Join(zs, ",")
	}
	return ""
}

// actionJSON is the JSON shape of an Action (replay --json, /api/evaluate,
// the plan log): the payload as the optional objects it always had.
type actionJSON struct {
	Kind        Kind                `json:"kind"`
	Resource    string              `json:"resource"`
	Target      string              `json:"target,omitempty"`
	Zone        string              `json:"zone,omitempty"`
	Rule        string              `json:"rule,omitempty"`
	Reason      string              `json:"reason,omitempty"`
	Description string              `json:"description,omitempty"`
	Revoke      bool                `json:"revoke,omitempty"`
	Before      string              `json:"before,omitempty"`
	After       string              `json:"after,omitempty"`
	Connection  *core.Connection    `json:"connection,omitempty"`
	Link        *core.LinkSpec      `json:"link,omitempty"`
	OldLink     *core.VNetLink      `json:"oldLink,omitempty"`
	ZoneGroup   *core.ZoneGroupSpec `json:"zoneGroup,omitempty"`
	Job         *jobs.Job           `json:"job,omitempty"`
}

// MarshalJSON writes the action with its payload as "connection", "link",
// "oldLink", "zoneGroup" or "job".
func (a Action) MarshalJSON() ([]byte, error) {
	j := actionJSON{Kind: a.Kind, Resource: a.Resource, Target: a.Target, Zone: a.Zone, Rule: a.Rule, Reason: a.Reason,
		Description: a.Description, Revoke: a.Revoke, Before: a.Before, After: a.After}
	if c, ok := a.Connection(); ok {
		j.Connection = &c
	}
	if l, ok := a.Link(); ok {
		j.Link = &l
	}
	if l, ok := a.OldLink(); ok {
		j.OldLink = &l
	}
	if g, ok := a.ZoneGroup(); ok {
		j.ZoneGroup = &g
	}
	if jb, ok := a.Job(); ok {
		j.Job = &jb
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads an action written by MarshalJSON. A change without
// the payload its kind needs is an error naming the kind and the field.
func (a *Action) UnmarshalJSON(b []byte) error {
	var j actionJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = Action{Kind: j.Kind, Resource: j.Resource, Target: j.Target, Zone: j.Zone, Rule: j.Rule, Reason: j.Reason,
		Description: j.Description, Revoke: j.Revoke, Before: j.Before, After: j.After}
	missing := func(field string) error {
		return fmt.Errorf("reconcile: action %q on %s: field %q is missing", j.Kind, j.Resource, field)
	}
	switch j.Kind {
	case KindApprove, KindReject:
		if j.Connection == nil {
			return missing("connection")
		}
		to := core.StatusApproved
		if j.Kind == KindReject {
			to = core.StatusRejected
		}
		a.change = connectionWrite{conn: *j.Connection, to: to}
	case KindLeavePending, KindGuard:
		if j.Connection != nil {
			a.change = connectionNote{conn: *j.Connection}
		}
	case KindCreateLink, KindUpdateLink:
		if j.Link == nil {
			return missing("link")
		}
		if j.Kind == KindUpdateLink && j.OldLink == nil {
			return missing("oldLink")
		}
		a.change = linkWrite{spec: *j.Link, old: j.OldLink}
		if j.Kind == KindCreateLink {
			a.change = linkWrite{spec: *j.Link}
		}
	case KindRemoveLink:
		if j.OldLink == nil {
			return missing("oldLink")
		}
		a.change = linkRemoval{link: *j.OldLink}
	case KindAddZoneGroup:
		if j.ZoneGroup == nil {
			return missing("zoneGroup")
		}
		a.change = zoneGroupWrite{spec: *j.ZoneGroup}
	case KindDisablePublicAccess:
		if j.Target == "" {
			return missing("target")
		}
		a.change = publicAccessWrite{targetID: j.Target}
	case KindScheduleVerify, KindEnqueue:
		if j.Job == nil {
			return missing("job")
		}
		a.change = jobSend{job: *j.Job}
	}
	return nil
}
