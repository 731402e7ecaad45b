package policy

import (
	"fmt"
	"slices"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Policy is a loaded, validated and compiled policy. It is immutable and
// safe for concurrent use. The only way to get one is Load or Parse.
type Policy struct {
	source string
	digest string
	mode   Mode

	targetIDs map[string]core.TargetKind // by core.IDKey
	ids       []string                   // as written
	allTypes  map[core.TargetKind]bool
	subs      []string // lower case, sorted
	subSet    map[string]bool

	zones []core.Zone

	defaultAction      Action
	defaultDescription string
	connRules          []*connRule
	linkRules          []*linkRule

	removeOwnLinks    bool
	linkEndpointVNets bool
	linkPeeredVNets   bool
	zoneGroup         ZoneGroupRule
	verify            VerifySettings
	publicAccess      PublicAccessMode
	publicBy          []*publicAccessSel
}

type connRule struct {
	name            string
	when            string
	action          Action
	description     string
	allowUnreadable bool
	revoke          bool
	line            int
	prg             cel.Program
	// vars are the variables the condition reads (endpoint, requester...).
	vars []string
	// requesterFields are the requester fields it reads (upn, tenantId...).
	requesterFields []string
}

type linkRule struct {
	name         string
	when         string
	zones        []int // indexes into Policy.zones
	registration bool
	resolution   string
	line         int
	prg          cel.Program
}

func (p *Policy) addSubscription(sub string) {
	sub = strings.ToLower(sub)
	if sub == "" || p.subSet[sub] {
		return
	}
	p.subSet[sub] = true
	p.subs = append(p.subs, sub)
	slices.Sort(p.subs)
}

// Source is the file name the policy was loaded from.
func (p *Policy) Source() string { return p.source }

// Digest is the SHA-256 of the policy file, for the audit trail.
func (p *Policy) Digest() string { return p.digest }

// Mode says whether decisions are enforced or only reported.
func (p *Policy) Mode() Mode { return p.mode }

// DefaultDecision is the decision when no connection rule matches (pending
// or reject, never approve).
func (p *Policy) DefaultDecision() Action { return p.defaultAction }

// Subscriptions are the governed subscriptions (lower case, sorted): those
// listed under targets.subscriptions and those of the listed target ids.
func (p *Policy) Subscriptions() []string { return slices.Clone(p.subs) }

// TargetIDs are the individually governed target ids, in file order.
func (p *Policy) TargetIDs() []string { return slices.Clone(p.ids) }

// TargetTypes are the kinds governed wholesale in the governed subscriptions.
func (p *Policy) TargetTypes() []core.TargetKind {
	var kinds []core.TargetKind
	for _, k := range []core.TargetKind{core.TargetWorkspace, core.TargetService} {
		if p.allTypes[k] {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// Governs reports whether the policy governs the workspace or service with
// this id: listed by id, or of a type governed in its subscription.
func (p *Policy) Governs(targetID string) bool {
	if p.listed(targetID) {
		return true
	}
	kind, ok := targetKindOf(targetID)
	if !ok {
		return false
	}
	return p.allTypes[kind] && p.subSet[strings.ToLower(core.SubscriptionOf(targetID))]
}

// listed reports whether id is one of targets.ids; a short list is scanned
// (no allocation on the decision path), a long one looked up.
func (p *Policy) listed(id string) bool {
	if len(p.ids) <= 16 {
		for _, l := range p.ids {
			if core.SameID(l, id) {
				return true
			}
		}
		return false
	}
	_, ok := p.targetIDs[core.IDKey(id)]
	return ok
}

// GovernsTarget is Governs for a target read from ARM.
func (p *Policy) GovernsTarget(t core.Target) bool {
	if p.listed(t.ID) {
		return true
	}
	kind, ok := targetKindOf(t.ID)
	if !ok {
		return false
	}
	if t.Kind != "" && t.Kind != kind {
		return false
	}
	sub := t.SubscriptionID
	if sub == "" {
		sub = core.SubscriptionOf(t.ID)
	}
	return p.allTypes[kind] && p.subSet[strings.ToLower(sub)] && strings.EqualFold(sub, core.SubscriptionOf(t.ID))
}

// Zones are the managed private DNS zones, in file order.
func (p *Policy) Zones() []core.Zone { return slices.Clone(p.zones) }

// ZoneGroup is the zone-group rule (enabled by default when zones are
// managed; name "default").
func (p *Policy) ZoneGroup() ZoneGroupRule { return p.zoneGroup }

// Verification are the verification settings with defaults applied.
func (p *Policy) Verification() VerifySettings { return p.verify }

// RemoveOwnLinksOnVNetDelete says whether the autopilot deletes the links it
// created when their VNet is deleted.
func (p *Policy) RemoveOwnLinksOnVNetDelete() bool { return p.removeOwnLinks }

// LinkEndpointVNets says whether the VNet of an approved endpoint to a
// governed target is linked to the managed zones (default true).
func (p *Policy) LinkEndpointVNets() bool { return p.linkEndpointVNets }

// LinkPeeredVNets says whether the VNets peered with such a VNet are linked
// too (default true).
func (p *Policy) LinkPeeredVNets() bool { return p.linkPeeredVNets }

// Rules lists the connection rules then the link rules, in file order.
func (p *Policy) Rules() []RuleSummary {
	out := make([]RuleSummary, 0, len(p.connRules)+len(p.linkRules))
	for _, r := range p.connRules {
		out = append(out, RuleSummary{
			Kind: KindConnection, Name: r.name, When: r.when, Line: r.line,
			Decision: r.action, Description: r.description,
			AllowUnreadableEndpoint: r.allowUnreadable, Revoke: r.revoke,
		})
	}
	for _, r := range p.linkRules {
		s := RuleSummary{Kind: KindLink, Name: r.name, When: r.when, Line: r.line,
			RegistrationEnabled: r.registration, ResolutionPolicy: r.resolution}
		for _, z := range r.zones {
			s.Zones = append(s.Zones, p.zones[z].Name)
		}
		out = append(out, s)
	}
	return out
}

// DecideConnection decides what to do with a private endpoint connection:
// the first connection rule that matches wins, else the default. It never
// approves on an evaluation error, nor an unreadable endpoint unless the
// rule sets allowUnreadableEndpoint. The error is non-nil (with a pending
// decision) only when the target is not governed by the policy.
func (p *Policy) DecideConnection(in ConnectionInput) (Decision, error) {
	if p == nil {
		return Decision{Action: ActionPending, Reason: "no policy loaded"}, fmt.Errorf("decide connection %s: no policy", in.Connection.ID)
	}
	if !p.GovernsTarget(in.Target) {
		return Decision{Action: ActionPending, Reason: "target not governed by the policy"},
			fmt.Errorf("decide connection %s: target %s is not governed by policy %s", in.Connection.ID, in.Target.ID, p.source)
	}
	d, _ := p.evaluate(&in, false)
	return d, nil
}

// Explain evaluates every connection rule (not only up to the first match)
// and reports each one's outcome; the rule that decides is Selected.
func (p *Policy) Explain(in ConnectionInput) []RuleResult {
	if p == nil {
		return nil
	}
	_, out := p.evaluate(&in, true)
	return out
}

// ExplainDecision is Explain with the decision DecideConnection would give
// (without the governed-target check).
func (p *Policy) ExplainDecision(in ConnectionInput) (Decision, []RuleResult) {
	return p.evaluate(&in, true)
}

func (p *Policy) evaluate(in *ConnectionInput, explain bool) (Decision, []RuleResult) {
	act := newConnActivation(in)
	readable := in.EndpointReadable && in.Endpoint != nil
	var (
		notes    []string
		failed   string // first rule that failed to evaluate
		decided  bool
		d        Decision
		outcomes []RuleResult
	)
	if explain {
		outcomes = make([]RuleResult, 0, len(p.connRules))
	}
	for _, r := range p.connRules {
		o := RuleResult{Rule: r.name, Decision: r.action}
		matched, err := evalBool(r.prg, act)
		switch {
		case err != nil:
			o.Outcome, o.Detail = RuleError, err.Error()
			if !decided {
				notes = append(notes, fmt.Sprintf("rule %q failed: %v", r.name, err))
				if failed == "" {
					failed = r.name
				}
			}
		case !matched:
			o.Outcome = RuleNotMatched
		case r.action == ActionApprove && !readable && !r.allowUnreadable:
			o.Outcome = RuleSkippedUnreadable
			o.Detail = "endpoint could not be read and the rule does not set allowUnreadableEndpoint"
			if !decided {
				notes = append(notes, fmt.Sprintf("rule %q skipped: %s", r.name, o.Detail))
			}
		default:
			o.Outcome = RuleMatched
			if decided {
				break
			}
			decided, o.Selected = true, true
			d = p.ruleDecision(r, in, failed)
			if d.Action != r.action {
				o.Detail = d.Reason
			}
		}
		if explain {
			outcomes = append(outcomes, o)
		} else if decided {
			break
		}
	}
	if !decided {
		d = Decision{
			Action:      p.defaultAction,
			Reason:      "no rule matched; default " + string(p.defaultAction),
			Description: p.defaultDescription,
		}
	}
	if len(notes) > 0 {
		d.Reason += "; " + strings.Join(notes, "; ")
	}
	return d, outcomes
}

func (p *Policy) ruleDecision(r *connRule, in *ConnectionInput, failed string) Decision {
	d := Decision{Action: r.action, Rule: r.name, Reason: fmt.Sprintf("rule %q matched", r.name), Description: r.description}
	switch {
	case r.action == ActionApprove && failed != "":
		// An earlier rule (perhaps a reject rule) could not be evaluated:
		// approving now could approve what it would have rejected.
		d.Action, d.Description = ActionPending, ""
		d.Reason = fmt.Sprintf("rule %q matched but approval is withheld because rule %q failed to evaluate; left pending", r.name, failed)
	case r.action == ActionReject && in.Connection.Status == core.StatusApproved:
		d.Revoke = r.revoke
		if !r.revoke {
			d.Reason += "; the connection is already approved and the rule does not set revoke"
		}
	}
	return d
}

func evalBool(prg cel.Program, act any) (bool, error) {
	if prg == nil {
		return false, fmt.Errorf("rule not compiled")
	}
	out, _, err := prg.Eval(act)
	if err != nil {
		return false, err
	}
	b, ok := out.(types.Bool)
	if !ok {
		return false, fmt.Errorf("condition gave %s, not a bool", out.Type())
	}
	return bool(b), nil
}

func newConnActivation(in *ConnectionInput) *connActivation {
	a := &connActivation{
		endpoint:   &endpointVars{},
		connection: &connectionVars{ID: in.Connection.ID, Name: in.Connection.Name, Status: string(in.Connection.Status), Description: in.Connection.Description},
		target: &targetVars{
			ID: in.Target.ID, Type: targetType(in.Target), Kind: string(in.Target.Kind), Name: in.Target.Name,
			SubscriptionID: lowerOr(in.Target.SubscriptionID, core.SubscriptionOf, in.Target.ID),
			ResourceGroup:  or(in.Target.ResourceGroup, core.ResourceGroupOf, in.Target.ID),
			Location:       in.Target.Location, Tags: in.Target.Tags,
		},
		requester: &requesterVars{},
	}
	if r := in.Requester; r != nil {
		*a.requester = requesterVars{ObjectID: r.ObjectID, AppID: r.AppID, TenantID: r.TenantID, UPN: r.UPN, DisplayName: r.DisplayName, Known: true, Source: r.Source.Kind}
	}
	ev := a.endpoint
	if e := in.Endpoint; e != nil && in.EndpointReadable {
		*ev = endpointVars{
			ID: e.ID, SubscriptionID: lowerOr(e.SubscriptionID, core.SubscriptionOf, e.ID),
			ResourceGroup: or(e.ResourceGroup, core.ResourceGroupOf, e.ID), Name: or(e.Name, core.NameOf, e.ID),
			Location: e.Location, Tags: e.Tags, VNetID: e.VNetID, SubnetID: e.SubnetID,
			GroupIDs: in.Connection.GroupIDs, Readable: true,
		}
		for _, c := range e.Connections {
			if core.SameID(c.TargetID, in.Target.ID) {
				ev.RequestMessage = c.RequestMessage
				if len(c.GroupIDs) > 0 {
					ev.GroupIDs = c.GroupIDs
				}
				break
			}
		}
	} else {
		// Unreadable (cross-tenant, 403): only what the connection tells.
		id := in.Connection.PrivateEndpointID
		*ev = endpointVars{
			ID: id, SubscriptionID: strings.ToLower(core.SubscriptionOf(id)), ResourceGroup: core.ResourceGroupOf(id),
			Name: core.NameOf(id), GroupIDs: in.Connection.GroupIDs,
		}
	}
	if v := in.EndpointVNet; v != nil {
		ev.VNetID = firstNonEmpty(ev.VNetID, v.ID)
		ev.VNetAddressPrefixes = v.AddressPrefixes
		ev.VNetTags = v.Tags
	}
	return a
}

func targetType(t core.Target) string {
	switch t.Kind {
	case core.TargetWorkspace:
		return core.TypeWorkspace
	case core.TargetService:
		return core.TypeService
	}
	if k, ok := targetKindOf(t.ID); ok {
		if k == core.TargetWorkspace {
			return core.TypeWorkspace
		}
		return core.TypeService
	}
	return ""
}

// or returns v, or derive(id) when v is empty (derived lazily: parsing ids
// is most of the cost of building an activation).
func or(v string, derive func(string) string, id string) string {
	if v != "" {
		return v
	}
	return derive(id)
}

// lowerOr is or, lower-cased (subscription ids). It allocates only when v
// has upper-case letters.
func lowerOr(v string, derive func(string) string, id string) string {
	v = or(v, derive, id)
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(v)
		}
	}
	return v
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// DecideLinks says, for each managed zone in file order, whether the VNet
// should be linked to it: by the first link rule that matches and covers the
// zone; else, with default settings, when it holds an approved endpoint to a
// governed target (linkEndpointVNets) or is peered with such a VNet
// (linkPeeredVNets). A rule that fails to evaluate counts as not matching
// and its error is in the reasons.
func (p *Policy) DecideLinks(in LinkInput) ([]LinkDecision, error) {
	if p == nil {
		return nil, fmt.Errorf("decide links for %s: no policy", in.VNet.ID)
	}
	if in.VNet.ID == "" {
		return nil, fmt.Errorf("decide links: vnet without id")
	}
	act := &linkActivation{vnet: newVNetVars(&in)}
	type result struct {
		matched bool
		err     error
	}
	results := make([]result, len(p.linkRules))
	var errNotes []string
	for i, r := range p.linkRules {
		m, err := evalBool(r.prg, act)
		results[i] = result{m, err}
		if err != nil {
			errNotes = append(errNotes, fmt.Sprintf("link rule %q failed: %v", r.name, err))
		}
	}
	out := make([]LinkDecision, 0, len(p.zones))
	for zi, z := range p.zones {
		d := LinkDecision{ZoneID: z.ID}
		for ri, r := range p.linkRules {
			if results[ri].matched && slices.Contains(r.zones, zi) {
				d.Link, d.Rule = true, r.name
				d.Reason = fmt.Sprintf("link rule %q matched", r.name)
				d.RegistrationEnabled, d.ResolutionPolicy = r.registration, r.resolution
				break
			}
		}
		needed := in.NeedZones == nil || slices.ContainsFunc(in.NeedZones, func(n string) bool { return strings.EqualFold(n, z.Name) })
		if !d.Link {
			switch {
			case !needed && (in.HasGovernedEndpoint || in.PeeredWithGovernedEndpointVNet):
				d.Reason = "no link rule matched; the targets reached through this VNet do not need this zone (private DNS table)"
			case in.HasGovernedEndpoint && p.linkEndpointVNets:
				d.Link, d.Reason, d.ResolutionPolicy = true, "vnet holds an approved endpoint to a governed target (linkEndpointVNets)", "Default"
			case in.PeeredWithGovernedEndpointVNet && p.linkPeeredVNets:
				d.Link, d.Reason, d.ResolutionPolicy = true, "vnet is peered with a vnet holding an approved endpoint (linkPeeredVNets)", "Default"
			default:
				d.Reason = "no link rule matched"
			}
		}
		if len(errNotes) > 0 {
			d.Reason += "; " + strings.Join(errNotes, "; ")
		}
		out = append(out, d)
	}
	return out, nil
}

func newVNetVars(in *LinkInput) *vnetVars {
	v := in.VNet
	vv := &vnetVars{
		ID: v.ID, Name: or(v.Name, core.NameOf, v.ID),
		SubscriptionID:      lowerOr(v.SubscriptionID, core.SubscriptionOf, v.ID),
		ResourceGroup:       or(v.ResourceGroup, core.ResourceGroupOf, v.ID),
		Location:            v.Location,
		Tags:                v.Tags,
		AddressPrefixes:     v.AddressPrefixes,
		HasGovernedEndpoint: in.HasGovernedEndpoint,
		PeeredWithGoverned:  in.PeeredWithGovernedEndpointVNet,
	}
	seen := map[string]bool{}
	addPeer := func(id string) {
		if id == "" || seen[core.IDKey(id)] {
			return
		}
		seen[core.IDKey(id)] = true
		vv.PeeredVNetIDs = append(vv.PeeredVNetIDs, id)
		vv.PeeredVNetNames = append(vv.PeeredVNetNames, core.NameOf(id))
	}
	for _, pr := range v.Peerings {
		addPeer(pr.RemoteVNetID)
	}
	for _, pv := range in.PeeredVNets {
		addPeer(pv.ID)
	}
	return vv
}
