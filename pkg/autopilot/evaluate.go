package autopilot

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
)

// Explanation is how the policy decides one connection, and why: what was
// read (target, endpoint, VNet, or why they could not be read) and every
// connection rule's outcome. `handler policy explain` prints it.
type Explanation struct {
	Policy       string          `json:"policy"`
	PolicyDigest string          `json:"policyDigest"`
	Mode         policy.Mode     `json:"mode"`
	Connection   core.Connection `json:"connection"`
	Target       string          `json:"target"`
	TargetKind   core.TargetKind `json:"targetKind"`
	Governed     bool            `json:"governed"`
	Endpoint     string          `json:"endpoint,omitempty"`
	// EndpointReadable is false when the endpoint could not be read
	// (cross-tenant 403, deleted); EndpointNote says why.
	EndpointReadable bool                  `json:"endpointReadable"`
	EndpointNote     string                `json:"endpointNote,omitempty"`
	VNet             string                `json:"vnet,omitempty"`
	VNetPrefixes     []string              `json:"vnetAddressPrefixes,omitempty"`
	VNetNote         string                `json:"vnetNote,omitempty"`
	Decision         policy.Decision       `json:"decision"`
	DecisionError    string                `json:"decisionError,omitempty"`
	Rules            []policy.RuleResult   `json:"rules"`
	Links            []policy.LinkDecision `json:"links,omitempty"`
}

// EvaluateResult is the dry run of one connection: the Explanation, and the
// plan the reconciler would apply to its target now, both from one gather
// and one decision of the reconciler (reconcile.DryRunJob).
type EvaluateResult struct {
	Explanation
	// Plan is what reconciling the connection's target would do now; it is
	// not applied. Reads counts the ARM reads the dry run made.
	Plan      reconcile.Plan `json:"plan"`
	PlanReads int            `json:"planReads"`
	// AfterVerification is, when the policy's publicNetworkAccess is audit
	// or disableAfterVerification, the plan of the same state once a
	// verification of the target has passed: where disable-public-access
	// (or the audit report) appears, and only there.
	AfterVerification *PlanAfterVerification `json:"afterVerification,omitempty"`
}

// PlanAfterVerification is the plan of a target as the reconcile job a
// passing verification sends would make it (reads nothing more).
type PlanAfterVerification struct {
	// When says which plan this is: "after a passing verification".
	When string         `json:"when"`
	Plan reconcile.Plan `json:"plan"`
}

// AfterVerificationLabel labels EvaluateResult.AfterVerification.
const AfterVerificationLabel = "after a passing verification"

// Evaluate explains how the policy decides the connection and returns the
// plan the reconciler would apply to its target. It writes nothing and
// sends no job. Errors wrap ErrInvalid for an id that is not a connection
// id, ErrNotGoverned for a connection to a target the policy does not
// govern, and ErrNotFound when the target or connection does not exist.
func (s *Service) Evaluate(ctx context.Context, connectionID string) (EvaluateResult, error) {
	if id := strings.TrimSpace(connectionID); strings.HasPrefix(id, "/subscriptions/") &&
		strings.Contains(strings.ToLower(id), "/privateendpointconnections/") && core.ParentOf(id) != "" {
		// judged from the id, before any ARM read
		if err := s.checkGoverned(ctx, jobs.SubjectTarget, core.ParentOf(id)); err != nil {
			return EvaluateResult{}, err
		}
	}
	exp, dr, err := explain(ctx, s.cfg.ARM, s.cfg.Policy, connectionID, s.now(), false)
	ex := EvaluateResult{Explanation: exp}
	if err != nil {
		return ex, err
	}
	ex.Plan, ex.PlanReads = dr.Plan, dr.Reads
	if m := s.cfg.Policy.PublicNetworkAccess(); m == policy.PublicAccessAudit || m == policy.PublicAccessDisableAfterVerification {
		ex.AfterVerification = &PlanAfterVerification{When: AfterVerificationLabel, Plan: dr.Replan(s.cfg.Policy)}
	}
	s.c.evaluations.Add(1)
	return ex, nil
}

// Explain reads a connection's target, with the endpoints and VNets of its
// connections, through r (any core.Reader: Azure or the sandbox) exactly as
// a reconcile of the target does, and explains the reconciler's decision of
// the connection: what was read (or why it could not be), every connection
// rule's outcome, the decision, and the VNet links an approval brings. An
// endpoint or VNet that cannot be read (403, 404) is reported unreadable, as
// the reconciler sees it; other read failures are errors, since a guess
// would mislead. Errors wrap ErrInvalid for an id that is not a connection
// id and ErrNotFound when the target or connection does not exist.
func Explain(ctx context.Context, r core.Reader, p *policy.Policy, connectionID string) (Explanation, error) {
	ex, _, err := explain(ctx, r, p, connectionID, time.Now(), true)
	return ex, err
}

// explain is Explain, returning the dry run it explains: of the
// connection's target (the plan /api/evaluate shows), or with only, of the
// connection alone (reconcile.DryRunConnection: another connection's
// endpoint that cannot be read now does not stop the explanation).
func explain(ctx context.Context, r core.Reader, p *policy.Policy, connectionID string, now time.Time, only bool) (Explanation, reconcile.DryRun, error) {
	var ex Explanation
	connectionID = strings.TrimSpace(connectionID)
	targetID := core.ParentOf(connectionID)
	if !strings.HasPrefix(connectionID, "/subscriptions/") || targetID == "" ||
		!strings.Contains(strings.ToLower(connectionID), "/privateendpointconnections/") {
		return ex, reconcile.DryRun{}, fmt.Errorf("%w: %q is not a private endpoint connection id (.../workspaces/NAME/privateEndpointConnections/NAME)", ErrInvalid, connectionID)
	}
	job := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, targetID, "explain:"+connectionID)
	job.Trigger, job.Reason, job.Created = jobs.TriggerRequest, "dry run: explain "+core.NameOf(connectionID), now
	run := reconcile.DryRunJob
	if only {
		run = func(ctx context.Context, r core.Reader, p reconcile.Policy, job jobs.Job, now time.Time) (reconcile.DryRun, error) {
			return reconcile.DryRunConnection(ctx, r, p, job, connectionID, now)
		}
	}
	dr, err := run(ctx, r, p, job, now)
	if err != nil {
		return ex, dr, fmt.Errorf("read %s and its connections' endpoints: %w", targetID, err)
	}
	if dr.State.SubjectGone || len(dr.State.Targets) == 0 {
		why := "not found"
		if dr.State.GoneErr != nil {
			why = briefARM(dr.State.GoneErr)
		}
		return ex, dr, fmt.Errorf("%w: target %s of the connection does not exist (ARM answered %s)", ErrNotFound, targetID, why)
	}
	t := dr.State.Targets[0]
	ex = Explanation{Policy: p.Source(), PolicyDigest: p.Digest(), Mode: p.Mode(),
		Target: t.ID, TargetKind: t.Kind, Governed: p.GovernsTarget(t)}
	found := false
	for _, c := range t.Connections {
		if core.SameID(c.ID, connectionID) || (c.ID == "" && strings.EqualFold(c.Name, core.NameOf(connectionID))) {
			ex.Connection, found = c, true
			break
		}
	}
	if !found {
		names := make([]string, 0, len(t.Connections))
		for _, c := range t.Connections {
			names = append(names, c.Name)
		}
		have := "it has none"
		if len(names) > 0 {
			have = "it has " + strings.Join(names, ", ")
		}
		return ex, dr, fmt.Errorf("%w: connection %s is not on %s (%s)", ErrNotFound, core.NameOf(connectionID), t.ID, have)
	}
	if ex.Connection.TargetID == "" {
		ex.Connection.TargetID = t.ID
	}
	ex.Endpoint = ex.Connection.PrivateEndpointID
	cd, decided := dr.Decision(ex.Connection.ID)
	ex.Rules = []policy.RuleResult{} // no rule evaluated unless the reconciler decided the connection
	switch {
	case !ex.Governed:
		ex.EndpointNote = "not read: the target is not governed by the policy"
		ex.DecisionError = "the target is not governed by the policy: the autopilot leaves its connections alone"
		return ex, dr, nil
	case !decided:
		ex.EndpointNote = "not read: the connection is " + string(ex.Connection.Status)
		ex.DecisionError = fmt.Sprintf("the connection is %s: the autopilot decides only Pending and Approved connections", ex.Connection.Status)
		return ex, dr, nil
	}
	in := cd.Input
	switch es, _ := dr.State.Endpoint(ex.Endpoint); {
	case ex.Endpoint == "":
		ex.EndpointNote = "the connection names no private endpoint"
	case es.Endpoint == nil:
		ex.EndpointNote = es.Problem
	default:
		ex.EndpointReadable = true
		ex.VNet = es.Endpoint.VNetID
		if vs, ok := dr.State.VNet(ex.VNet); ok && vs.VNet != nil {
			ex.VNetPrefixes = vs.VNet.AddressPrefixes
		} else if ok {
			ex.VNetNote = vs.Problem
		}
	}
	ex.Rules = p.Explain(in)
	ex.Decision = cd.Decision
	if cd.Err != nil {
		ex.DecisionError = cd.Err.Error()
	}
	if in.EndpointVNet != nil && ex.Decision.Action == policy.ActionApprove {
		ex.Links = endpointLinks(p, in, ex.Endpoint)
	}
	return ex, dr, nil
}

// endpointLinks are the links the approval of an endpoint brings to its
// VNet, credited as the reconciler plans them: the zones the target's kind
// needs (private DNS table) are linked because of linkEndpointVNets,
// whatever link rule also matches the VNet (the rule only sets the link's
// settings); other zones a link rule lists stay credited to that rule.
func endpointLinks(p *policy.Policy, in policy.ConnectionInput, endpointID string) []policy.LinkDecision {
	need := []string{}
	for _, z := range core.ZonesForKind(in.Target.Kind) {
		need = append(need, z.Zone)
	}
	links, _ := p.DecideLinks(policy.LinkInput{VNet: *in.EndpointVNet, HasGovernedEndpoint: true, NeedZones: need})
	if !p.LinkEndpointVNets() {
		return links
	}
	for i := range links {
		if !links[i].Link || !needsZone(need, links[i].ZoneID) {
			continue
		}
		links[i].Rule = reconcile.RuleLinkEndpointVNets
		links[i].Reason = "VNet of approved endpoint " + core.NameOf(endpointID)
	}
	return links
}

// needsZone reports whether the zone (an ID or a name) is one of the needed
// zone names.
func needsZone(need []string, zone string) bool {
	name := core.ZoneNameOfID(zone)
	for _, n := range need {
		if n == name {
			return true
		}
	}
	return false
}
