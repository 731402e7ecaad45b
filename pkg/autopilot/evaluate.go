package autopilot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

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
	Rules            []policy.RuleOutcome  `json:"rules"`
	Links            []policy.LinkDecision `json:"links,omitempty"`
}

// EvaluateResult is the dry run of one connection: the Explanation, and the
// plan the reconciler would apply to its target now.
type EvaluateResult struct {
	Explanation
	// Plan is what reconciling the connection's target would do now; it is
	// not applied. Reads counts the ARM reads the dry run made for it.
	Plan      reconcile.Plan `json:"plan"`
	PlanReads int            `json:"planReads"`
}

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
	exp, err := Explain(ctx, s.cfg.ARM, s.cfg.Policy, connectionID)
	ex := EvaluateResult{Explanation: exp}
	if err != nil {
		return ex, err
	}
	job := jobs.New(jobs.KindReconcile, jobs.SubjectTarget, exp.Target, "evaluate")
	job.Reason = "dry run through the API"
	job.Created = s.now()
	plan, reads, err := s.rec.Plan(ctx, job)
	if err != nil {
		return ex, fmt.Errorf("plan %s: %w", exp.Target, err)
	}
	ex.Plan, ex.PlanReads = plan, reads
	s.c.evaluations.Add(1)
	return ex, nil
}

// unreadableNote says why a resource could not be read, e.g.
// "unreadable: get endpoint: HTTP 403 AuthorizationFailed".
func unreadableNote(err error) string {
	var e *core.Error
	if errors.As(err, &e) && e.StatusCode != 0 {
		return "unreadable: " + e.Op + ": " + briefARM(err)
	}
	return "unreadable: " + err.Error()
}

// unreadable reports whether a read failed because the caller may not see
// the resource (cross-tenant 403) or it does not exist.
func unreadable(err error) bool {
	if core.IsNotFound(err) {
		return true
	}
	var ce *core.Error
	return errors.As(err, &ce) && (ce.StatusCode == http.StatusForbidden || ce.StatusCode == http.StatusUnauthorized)
}

// Explain reads a connection, its target, endpoint and VNet through r (any
// core.Reader: Azure or the sandbox) and evaluates the policy on them. An
// endpoint or VNet that cannot be read (403, 404) is reported unreadable, as
// the reconciler would see it; other read failures are errors, since a guess
// would mislead. Errors wrap ErrInvalid for an id that is not a connection
// id and ErrNotFound when the target or connection does not exist.
func Explain(ctx context.Context, r core.Reader, p *policy.Policy, connectionID string) (Explanation, error) {
	var ex Explanation
	connectionID = strings.TrimSpace(connectionID)
	targetID := core.ParentOf(connectionID)
	if !strings.HasPrefix(connectionID, "/subscriptions/") || targetID == "" ||
		!strings.Contains(strings.ToLower(connectionID), "/privateendpointconnections/") {
		return ex, fmt.Errorf("%w: %q is not a private endpoint connection id (.../workspaces/NAME/privateEndpointConnections/NAME)", ErrInvalid, connectionID)
	}
	t, err := r.GetTarget(ctx, targetID)
	if err != nil {
		if core.IsNotFound(err) {
			return ex, fmt.Errorf("%w: target %s of the connection does not exist (ARM answered %s)", ErrNotFound, targetID, briefARM(err))
		}
		return ex, fmt.Errorf("read target %s: %w", targetID, err)
	}
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
		return ex, fmt.Errorf("%w: connection %s is not on %s (%s)", ErrNotFound, core.NameOf(connectionID), t.ID, have)
	}
	if ex.Connection.TargetID == "" {
		ex.Connection.TargetID = t.ID
	}
	in := policy.ConnectionInput{Target: t, Connection: ex.Connection}
	ex.Endpoint = ex.Connection.PrivateEndpointID
	if ex.Endpoint == "" {
		ex.EndpointNote = "the connection names no private endpoint"
	} else if ep, err := r.GetEndpoint(ctx, ex.Endpoint); err != nil {
		if !unreadable(err) {
			return ex, fmt.Errorf("read endpoint %s: %w", ex.Endpoint, err)
		}
		ex.EndpointNote = unreadableNote(err)
	} else {
		in.Endpoint, in.EndpointReadable, ex.EndpointReadable = &ep, true, true
		ex.VNet = ep.VNetID
		if ep.VNetID != "" {
			v, err := r.GetVNet(ctx, ep.VNetID)
			switch {
			case err == nil:
				in.EndpointVNet, ex.VNetPrefixes = &v, v.AddressPrefixes
			case unreadable(err):
				ex.VNetNote = unreadableNote(err)
			default:
				return ex, fmt.Errorf("read vnet %s: %w", ep.VNetID, err)
			}
		}
	}
	ex.Rules = p.Explain(in)
	if ex.Decision, err = p.DecideConnection(in); err != nil {
		ex.DecisionError = err.Error()
	}
	if in.EndpointVNet != nil && ex.Decision.Action == policy.ActionApprove {
		// the zones the target's kind needs (private DNS table)
		need := []string{}
		for _, z := range core.ZonesForKind(in.Target.Kind) {
			need = append(need, z.Zone)
		}
		ex.Links, _ = p.DecideLinks(policy.LinkInput{VNet: *in.EndpointVNet, HasGovernedEndpoint: true, NeedZones: need})
		if p.LinkEndpointVNets() {
			// As the reconciler plans it: the VNet of an approved endpoint
			// is linked to the zones its target needs because of
			// linkEndpointVNets, whatever link rule also matches it (the
			// rule only sets the link's settings); other zones a link rule
			// lists stay credited to that rule.
			for i := range ex.Links {
				if !ex.Links[i].Link || !needsZone(need, ex.Links[i].ZoneID) {
					continue
				}
				ex.Links[i].Rule = reconcile.RuleLinkEndpointVNets
				ex.Links[i].Reason = "VNet of approved endpoint " + core.NameOf(ex.Endpoint)
			}
		}
	}
	return ex, nil
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
