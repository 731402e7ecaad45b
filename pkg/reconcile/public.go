package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/outcome"
)

// The last private path of a target whose public network access is
// Disabled. The guide: "if all private endpoints are deleted while public
// access is disabled, no request will make it to your FHIR server". The
// autopilot never cuts that path itself (KindGuard), and says at once when
// someone else did (KindUnreachable). It never re-enables public access.
const (
	// KindGuard records a revocation the plan withheld: the connection is
	// the last approved one of a target whose public access is Disabled.
	// Rule names the rule that asked for the revocation. An observation: no
	// write.
	KindGuard Kind = "guard-last-private-path"
	// KindUnreachable reports a governed target whose public access is
	// Disabled and that has no approved private endpoint connection left:
	// nothing can reach it. An observation: no write.
	KindUnreachable Kind = "target-unreachable"
	// RuleLastPrivatePath is the built-in rule of KindUnreachable.
	RuleLastPrivatePath = "lastPrivatePath"
)

// IsObservation reports whether the kind is recorded without any write or
// queue send.
func (k Kind) IsObservation() bool {
	switch k {
	case KindLeavePending, KindDNSFinding, KindGuard, KindUnreachable, KindPublicAccessOpen:
		return true
	}
	return false
}

// publicDisabled reports whether the target's public network access is
// Disabled (an unknown setting counts as enabled: nothing to guard).
func publicDisabled(t core.Target) bool {
	return strings.EqualFold(t.PublicNetworkAccess, "Disabled")
}

// approvedCount counts the target's approved connections (every endpoint's,
// whatever the job restricts its decisions to).
func approvedCount(t core.Target) int {
	n := 0
	for _, c := range t.Connections {
		if c.Status == core.StatusApproved {
			n++
		}
	}
	return n
}

// guardRevoke decides whether the revocation of the approved connection c
// must be withheld. revoked counts the revocations already planned per
// target (core.IDKey); it is incremented when the revocation may go ahead.
func guardRevoke(t core.Target, c core.Connection, rule string, revoked map[string]int) (Action, bool) {
	k := core.IDKey(t.ID)
	if !publicDisabled(t) || approvedCount(t)-revoked[k] > 1 {
		revoked[k]++
		return Action{}, false
	}
	if rule == "" {
		rule = "(default)"
	}
	return guardAction(c, t.ID, rule, fmt.Sprintf("rule %q would revoke %s, the last approved private endpoint connection of %s, whose public network access is Disabled: "+
		"nothing could reach it any more, so the connection stays approved. Approve another endpoint first, or enable public access, then revoke by hand",
		rule, c.Name, t.Name)), true
}

// unreachable reports the governed targets of the state whose public access
// is Disabled and that keep no approved connection once the plan's own
// approvals and revocations are counted.
func (b *planner) unreachable() {
	for _, t := range b.s.Targets {
		if !b.p.GovernsTarget(t) || !publicDisabled(t) {
			continue
		}
		n := approvedCount(t)
		for _, a := range b.plan.Actions {
			if !core.SameID(a.Target, t.ID) {
				continue
			}
			switch {
			case a.Kind == KindApprove:
				n++
			case a.Kind == KindReject && a.Revoke:
				n--
			}
		}
		if n > 0 {
			continue
		}
		b.plan.Actions = append(b.plan.Actions, unreachableAction(t))
	}
}

// UnreachableReason says what a target without any path means and what to
// do about it.
func UnreachableReason(t core.Target) string {
	names := "the FHIR service"
	if len(t.FQDNs) > 0 {
		names = strings.Join(t.FQDNs, ", ")
	}
	return fmt.Sprintf("%s has public network access Disabled and no approved private endpoint connection: no request reaches %s. "+
		"To restore access, create a private endpoint to %s and approve its connection, or enable public network access on it "+
		"(the autopilot never re-enables public access by itself)", t.Name, names, t.Name)
}

// goneEndpointTargets finds, after a private endpoint was deleted, the
// governed targets of the policy's subscriptions left with public access
// Disabled and no approved connection (Azure removes the deleted endpoint's
// connection from its target), so that the plan reports them at once.
func (g *gatherer) goneEndpointTargets(ctx context.Context) {
	for _, sub := range g.p.Subscriptions() {
		ts, err := g.m.targets(ctx, sub)
		if err != nil {
			g.note("targets of subscription %s not read after the endpoint was deleted: %s", sub, briefError(err))
			continue
		}
		for _, t := range ts {
			if g.p.GovernsTarget(t) && publicDisabled(t) && approvedCount(t) == 0 {
				g.s.Targets = append(g.s.Targets, t)
			}
		}
	}
}

func briefError(err error) string {
	if bad, why := unreadable(err); bad {
		return why
	}
	return err.Error()
}

// guardAtApply reads the target of a revocation once more just before it is
// written: two jobs that each planned one revocation of a target with two
// approved connections would otherwise cut both. The revocation is skipped
// when the fresh read shows the connection is the target's last approved
// one and public access is Disabled. Unreadable targets do not block it
// (the write itself will then fail or find the connection gone).
func (r *Reconciler) guardAtApply(ctx context.Context, a Action) (ActionResult, bool) {
	conn, ok := a.Connection()
	if a.Kind != KindReject || !a.Revoke || !ok || a.Target == "" {
		return ActionResult{}, false
	}
	t, err := r.readTarget(ctx, a.Target)
	if err != nil || !publicDisabled(t) || approvedCount(t) > 1 {
		return ActionResult{}, false
	}
	for _, c := range t.Connections {
		if core.SameID(c.ID, conn.ID) && c.Status == core.StatusApproved {
			return ActionResult{Action: a, Result: outcome.ResultSkipped,
				Error: "not revoked: read again, " + c.Name + " is the last approved connection of " + t.Name + ", whose public network access is Disabled"}, true
		}
	}
	return ActionResult{}, false
}
