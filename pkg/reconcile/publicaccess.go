package reconcile

import (
	"context"
	"fmt"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// Closing the public door (policy targets.publicNetworkAccess and
// targets.publicNetworkAccessBy). The guide:
// disable public network access once private access works; blocking takes
// up to 5 minutes. The plan disables it only on the reconcile job the
// verification runner sends after a verification found the target's
// private access working (JobInfo.PrivateVerified), never before.
const (
	// KindDisablePublicAccess sets a target's publicNetworkAccess to
	// Disabled (core.PublicAccessWriter). A change.
	KindDisablePublicAccess Kind = "disable-public-access"
	// KindPublicAccessOpen reports a governed target whose public network
	// access is Enabled: in audit mode while its private access is
	// verified, in disableAfterVerification mode until a verification lets
	// the plan close it (drift: someone turned it back on). An observation.
	KindPublicAccessOpen Kind = "public-access-open"
	// RulePublicNetworkAccess is the rule of both kinds when
	// targets.publicNetworkAccess decided; a selection of
	// targets.publicNetworkAccessBy is named by its own name.
	RulePublicNetworkAccess = policy.DefaultPublicAccessRule
)

// publicAccess plans what the policy's public access mode of the target of
// a target job asks for (targets.publicNetworkAccess, or the first matching
// selection of targets.publicNetworkAccessBy, named as the action's rule).
func (b *planner) publicAccess() {
	if b.s.Job.Subject != jobs.SubjectTarget || b.s.SubjectGone {
		return
	}
	for _, t := range b.s.Targets {
		if !core.SameID(t.ID, b.s.Job.SubjectID) || !b.p.GovernsTarget(t) {
			continue
		}
		mode, rule := b.p.PublicNetworkAccessFor(t)
		if mode != policy.PublicAccessAudit && mode != policy.PublicAccessDisableAfterVerification {
			continue
		}
		if !strings.EqualFold(t.PublicNetworkAccess, core.PublicAccessEnabled) {
			if t.PublicNetworkAccess == "" {
				b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("public network access of %s is not reported: left alone", t.Name))
			}
			continue
		}
		changing := false
		for _, a := range b.plan.Actions {
			if (a.Kind == KindApprove || a.Kind == KindReject) && core.SameID(a.Target, t.ID) {
				changing = true
			}
		}
		by := publicRuleText(rule, mode)
		switch {
		case approvedCount(t) == 0:
			b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("public network access of %s stays Enabled: it has no approved private endpoint connection", t.Name))
		case changing:
			b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("public network access of %s stays Enabled while its connections change: the verification after this job decides", t.Name))
		case !b.s.Job.PrivateVerified && mode == policy.PublicAccessDisableAfterVerification:
			b.plan.Actions = append(b.plan.Actions, publicAccessOpenAction(t, rule, fmt.Sprintf("public network access of %s is Enabled; %s: "+
				"a verification of its private access is scheduled and public access is disabled only once it passes", t.Name, by)))
			b.addVerify(jobs.SubjectTarget, t.ID)
		case !b.s.Job.PrivateVerified:
			// audit: reported only once a verification found private access working
		case mode == policy.PublicAccessAudit:
			b.plan.Actions = append(b.plan.Actions, publicAccessOpenAction(t, rule, fmt.Sprintf("public network access of %s is Enabled while its private access is verified; %s: "+
				"left Enabled (set disableAfterVerification to close it)", t.Name, by)))
		default:
			b.plan.Actions = append(b.plan.Actions, disablePublicAccessAction(t, rule, fmt.Sprintf("private access to %s is verified (every VNet that must reach it resolves it privately and /metadata answers through its endpoint); "+
				"%s: disable public network access, then verify after %s that the public path is refused (403)",
				t.Name, by, b.p.Verification().Delay)))
		}
	}
}

// publicRuleText says which part of the policy set a target's public access
// mode, for reasons.
func publicRuleText(rule string, mode policy.PublicAccessMode) string {
	if rule == "" || rule == policy.DefaultPublicAccessRule {
		return fmt.Sprintf("policy publicNetworkAccess is %s", mode)
	}
	return fmt.Sprintf("policy publicNetworkAccessBy selection %q is %s", rule, mode)
}

// disablePublicAccess applies a KindDisablePublicAccess action: it reads the
// target again and sets its public network access to Disabled only when
// the target still has an approved private endpoint connection (it never
// closes the last door).
func (r *Reconciler) disablePublicAccess(ctx context.Context, a Action, p publicAccessWrite) (ActionResult, error) {
	t, err := r.readTarget(ctx, p.targetID)
	switch {
	case err != nil && core.IsNotFound(err):
		return ActionResult{Action: a, Result: outcome.ResultSkipped, Error: err.Error()}, nil
	case err != nil:
		return ActionResult{Action: a, Result: outcome.ResultFailed, Error: err.Error()}, err
	case publicDisabled(t):
		return ActionResult{Action: a, Result: outcome.ResultUnchanged}, nil
	case approvedCount(t) == 0:
		return ActionResult{Action: a, Result: outcome.ResultSkipped,
			Error: "not disabled: read again, " + t.Name + " has no approved private endpoint connection, so public access is its only path"}, nil
	}
	w, ok := r.cfg.Writer.(core.PublicAccessWriter)
	if !ok {
		err := &core.Error{Class: core.Fatal, Op: "disable public network access", ResourceID: t.ID,
			Err: fmt.Errorf("the writer cannot set public network access")}
		return ActionResult{Action: a, Result: outcome.ResultFailed, Error: err.Error()}, err
	}
	wr, err := w.SetPublicNetworkAccess(ctx, t, core.PublicAccessDisabled)
	switch {
	case err != nil && core.IsNotFound(err):
		return ActionResult{Action: a, Result: outcome.ResultSkipped, Error: err.Error()}, nil
	case err != nil:
		return ActionResult{Action: a, Result: outcome.ResultFailed, Error: err.Error()}, err
	case wr.InProgress:
		return ActionResult{Action: a, Result: outcome.ResultInProgress}, nil
	case wr.Changed:
		return ActionResult{Action: a, Result: outcome.ResultApplied}, nil
	}
	return ActionResult{Action: a, Result: outcome.ResultUnchanged}, nil
}
