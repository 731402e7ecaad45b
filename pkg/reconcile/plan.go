package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// Policy is what the reconciler asks of the policy engine (*policy.Policy
// implements it).
type Policy interface {
	DecideConnection(in policy.ConnectionInput) (policy.Decision, error)
	DecideLinks(in policy.LinkInput) ([]policy.LinkDecision, error)
	GovernsTarget(t core.Target) bool
	Subscriptions() []string
	Zones() []core.Zone
	ZoneGroup() policy.ZoneGroupRule
	Verification() policy.VerifySettings
	Mode() policy.Mode
	RemoveOwnLinksOnVNetDelete() bool
	LinkEndpointVNets() bool
	LinkPeeredVNets() bool
	// PublicNetworkAccessFor is the public access mode of a governed target
	// and the rule (selection) that decided it.
	PublicNetworkAccessFor(t core.Target) (policy.PublicAccessMode, string)
}

// Kind is what an Action does.
type Kind string

// Action kinds. Approve, Reject, CreateLink, UpdateLink, RemoveLink and
// AddZoneGroup are changes (ARM writes); LeavePending, DNSFinding, Guard
// and Unreachable (public.go) are observations; ScheduleVerify and Enqueue are follow-ups (queue sends).
const (
	KindApprove        Kind = "approve"
	KindReject         Kind = "reject"
	KindLeavePending   Kind = "leave-pending"
	KindCreateLink     Kind = "create-link"
	KindUpdateLink     Kind = "update-link"
	KindRemoveLink     Kind = "remove-link"
	KindAddZoneGroup   Kind = "add-zone-group"
	KindScheduleVerify Kind = "schedule-verify"
	KindEnqueue        Kind = "enqueue"
	// KindDNSFinding reports a DNS problem the autopilot does not fix by
	// itself: a private DNS zone an endpoint needs (per core.DNSTable) that
	// the policy does not manage, or records in a zone no client resolves
	// through (a workspace's records in the legacy zone). An observation:
	// no write.
	KindDNSFinding Kind = "dns-finding"
)

// IsChange reports whether the kind is an ARM write.
func (k Kind) IsChange() bool {
	switch k {
	case KindApprove, KindReject, KindCreateLink, KindUpdateLink, KindRemoveLink, KindAddZoneGroup, KindDisablePublicAccess:
		return true
	}
	return false
}

// Built-in rule names, used when a behaviour of the policy's settings (not a
// named rule) caused an action.
const (
	RuleLinkEndpointVNets = "linkEndpointVNets"
	RuleLinkPeeredVNets   = "linkPeeredVNets"
	RuleZoneGroup         = "zoneGroup"
	RuleRemoveOwnLinks    = "removeOwnLinksOnVNetDelete"
	RuleVerify            = "verification"
	// RuleDNSTable marks findings from the private DNS table (core.DNSTable).
	RuleDNSTable = "dnsTable"
)

// Action is one step of a plan. Build it with the constructor of its kind
// (changes.go): a literal Action carries no change and apply refuses it.
type Action struct {
	Kind Kind `json:"kind"`
	// Resource is the resource acted on: the connection (approve, reject,
	// leave-pending), the VNet (create-link, update-link), the link
	// (remove-link), the endpoint (add-zone-group) or the job's subject
	// (schedule-verify, enqueue).
	Resource string `json:"resource"`
	// Target is the protected target concerned, when there is one.
	Target string `json:"target,omitempty"`
	// Zone is the private DNS zone of a link action.
	Zone        string `json:"zone,omitempty"`
	Rule        string `json:"rule,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Description string `json:"description,omitempty"`
	// Revoke marks the rejection of an already approved connection.
	Revoke bool `json:"revoke,omitempty"`
	// Before and After describe the state change ("Pending" -> "Approved",
	// "unlinked" -> "linked").
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`

	// change is what apply writes or sends, set only by the constructors
	// (changes.go); read it with Connection, Link, OldLink, ZoneGroup and
	// Job. In JSON it is the "connection", "link", "oldLink", "zoneGroup"
	// or "job" object.
	change payload
}

// Plan is what one job decided to do.
type Plan struct {
	JobID     string       `json:"jobId"`
	Subject   jobs.Subject `json:"subject"`
	SubjectID string       `json:"subjectId"`
	Mode      policy.Mode  `json:"mode"`
	Actions   []Action     `json:"actions,omitempty"`
	// Notes are observations that lead to no action (target not governed,
	// endpoint unreadable, link not owned), for logs and dry runs.
	Notes []string `json:"notes,omitempty"`
}

// Changes returns the actions that write to ARM.
func (p Plan) Changes() []Action { return p.filter(func(k Kind) bool { return k.IsChange() }) }

// FollowUps returns the verification and reconcile jobs the plan sends.
func (p Plan) FollowUps() []Action {
	return p.filter(func(k Kind) bool { return k == KindScheduleVerify || k == KindEnqueue })
}

// Observations returns the actions that record a decision or a finding
// without a write (connections left pending, DNS findings).
func (p Plan) Observations() []Action {
	return p.filter(func(k Kind) bool { return k == KindLeavePending || k == KindDNSFinding || k == KindPublicAccessOpen })
}

// Empty reports whether the plan changes nothing in Azure. A plan computed
// on a converged state is empty.
func (p Plan) Empty() bool { return len(p.Changes()) == 0 }

func (p Plan) filter(keep func(Kind) bool) []Action {
	var out []Action
	for _, a := range p.Actions {
		if keep(a.Kind) {
			out = append(out, a)
		}
	}
	return out
}

// JobInfo is what the plan needs to know about the job.
type JobInfo struct {
	ID            string       `json:"id"`
	Subject       jobs.Subject `json:"subject"`
	SubjectID     string       `json:"subjectId"`
	CorrelationID string       `json:"correlationId,omitempty"`
	// Trigger is what kind of change made the job (jobs.Job.EffectiveTrigger).
	Trigger jobs.Trigger    `json:"trigger,omitempty"`
	Reason  string          `json:"reason,omitempty"`
	Deleted bool            `json:"deleted,omitempty"`
	Actor   *core.Principal `json:"actor,omitempty"`
	// PrivateVerified: the job comes from a verification that found the
	// target's private access working (jobs.Job.PrivateVerified).
	PrivateVerified bool `json:"privateVerified,omitempty"`
}

// EndpointState is a gathered endpoint: Endpoint nil when it could not be
// read (Problem says why: forbidden, not found).
type EndpointState struct {
	Endpoint *core.Endpoint `json:"endpoint,omitempty"`
	Problem  string         `json:"problem,omitempty"`
}

// VNetState is a gathered VNet: VNet nil when it could not be read; Gone
// when ARM said it does not exist.
type VNetState struct {
	VNet    *core.VNet `json:"vnet,omitempty"`
	Gone    bool       `json:"gone,omitempty"`
	Problem string     `json:"problem,omitempty"`
}

// State is the world as gathered for one job. Maps are keyed by core.IDKey.
type State struct {
	Job JobInfo `json:"job"`
	// Now is the job's clock reading (verification jobs are scheduled from it).
	Now time.Time `json:"now"`
	// SubjectGone is true when the job's subject does not exist; GoneErr
	// is ARM's answer that said so.
	SubjectGone bool  `json:"subjectGone,omitempty"`
	GoneErr     error `json:"-"`
	// Targets are the protected targets whose connections are decided.
	Targets []core.Target `json:"targets,omitempty"`
	// OnlyEndpoint restricts connection decisions to the connections of one
	// endpoint (endpoint jobs).
	OnlyEndpoint string                   `json:"onlyEndpoint,omitempty"`
	Endpoints    map[string]EndpointState `json:"endpoints,omitempty"`
	VNets        map[string]VNetState     `json:"vnets,omitempty"`
	// Links holds the VNet links of each managed zone that was listed; a zone
	// missing from the map was not listed and no link decision is made in it.
	Links map[string][]core.VNetLink `json:"links,omitempty"`
	// OnlyZone restricts link decisions to one zone (zone jobs).
	OnlyZone string `json:"onlyZone,omitempty"`
	// Candidates are VNets evaluated by the link rules (VNet and zone jobs).
	Candidates []string `json:"candidates,omitempty"`
	// FollowUpTargets get a follow-up reconcile job (VNet peering and zone
	// drift jobs: the endpoints behind them may need links restored).
	FollowUpTargets []string `json:"followUpTargets,omitempty"`
	// FanOutVNets are peers of the job's VNet that get a reconcile job of
	// their own (more than PeerFanOut of them needed reading).
	FanOutVNets []string `json:"fanOutVnets,omitempty"`
	// Notes gathered while reading (unreadable targets and peers).
	Notes []string `json:"notes,omitempty"`
}

// Endpoint returns the gathered endpoint state for id.
func (s State) Endpoint(id string) (EndpointState, bool) {
	e, ok := s.Endpoints[core.IDKey(id)]
	return e, ok
}

// VNet returns the gathered VNet state for id.
func (s State) VNet(id string) (VNetState, bool) {
	v, ok := s.VNets[core.IDKey(id)]
	return v, ok
}

// approvedEndpoint is an endpoint whose connection to a governed target is
// approved, or will be once the plan is applied.
type approvedEndpoint struct {
	endpointID string
	targetID   string
}

// ConnectionDecision is how the reconciler decided one connection: the
// policy input it built from the gathered state, and the policy's answer
// (or why it gave none).
type ConnectionDecision struct {
	TargetID string                 `json:"targetId"`
	Input    policy.ConnectionInput `json:"-"`
	Decision policy.Decision        `json:"decision"`
	Err      error                  `json:"-"`
}

// decideConnections evaluates the connection rules over the state. It is
// pure; gather uses it to know which endpoints need DNS reads, ComputePlan
// to plan, DryRunJob to explain.
func decideConnections(s State, p Policy) (actions []Action, approved []approvedEndpoint, notes []string) {
	actions, approved, notes, _ = decideConnectionsWhy(s, p)
	return actions, approved, notes
}

// connectionInput is the policy input of connection c of target t, from
// what the state holds.
func connectionInput(s State, t core.Target, c core.Connection) policy.ConnectionInput {
	if c.TargetID == "" {
		c.TargetID = t.ID
	}
	in := policy.ConnectionInput{Target: t, Connection: c}
	if es, ok := s.Endpoint(c.PrivateEndpointID); ok && es.Endpoint != nil {
		ep := *es.Endpoint
		in.Endpoint, in.EndpointReadable = &ep, true
		if vs, ok := s.VNet(ep.VNetID); ok && vs.VNet != nil {
			v := *vs.VNet
			in.EndpointVNet = &v
		}
	}
	in.Requester = requesterOf(s.Job, t.ID, c)
	return in
}

func decideConnectionsWhy(s State, p Policy) (actions []Action, approved []approvedEndpoint, notes []string, decided []ConnectionDecision) {
	seen := map[string]bool{}
	revoked := map[string]int{} // planned revocations per target (last private path guard)
	for _, t := range s.Targets {
		if !p.GovernsTarget(t) {
			notes = append(notes, fmt.Sprintf("target %s is not governed by the policy: left alone", t.ID))
			continue
		}
		for _, c := range t.Connections {
			if s.OnlyEndpoint != "" && !core.SameID(c.PrivateEndpointID, s.OnlyEndpoint) {
				continue
			}
			if c.Status != core.StatusPending && c.Status != core.StatusApproved {
				continue // Rejected and Disconnected are final for the autopilot
			}
			if c.TargetID == "" {
				c.TargetID = t.ID
			}
			in := connectionInput(s, t, c)
			d, err := p.DecideConnection(in)
			decided = append(decided, ConnectionDecision{TargetID: t.ID, Input: in, Decision: d, Err: err})
			if err != nil {
				if c.Status == core.StatusPending {
					actions = append(actions, leavePendingAction(c, t.ID, "", "policy evaluation failed: "+err.Error()))
				} else {
					notes = append(notes, fmt.Sprintf("connection %s: policy evaluation failed: %v", c.ID, err))
					approved = appendApproved(approved, seen, c.PrivateEndpointID, t.ID)
				}
				continue
			}
			switch {
			case c.Status == core.StatusPending && d.Action == policy.ActionApprove:
				actions = append(actions, approveAction(c, t.ID, d))
				approved = appendApproved(approved, seen, c.PrivateEndpointID, t.ID)
			case c.Status == core.StatusPending && d.Action == policy.ActionReject:
				actions = append(actions, rejectAction(c, t.ID, d))
			case c.Status == core.StatusPending:
				actions = append(actions, leavePendingAction(c, t.ID, d.Rule, d.Reason))
			case d.Revoke && d.Action == policy.ActionReject: // Approved, explicitly revoked
				if g, guarded := guardRevoke(t, c, d.Rule, revoked); guarded {
					actions = append(actions, g)
					approved = appendApproved(approved, seen, c.PrivateEndpointID, t.ID)
					continue
				}
				actions = append(actions, rejectAction(c, t.ID, d))
			default: // Approved stays approved
				approved = appendApproved(approved, seen, c.PrivateEndpointID, t.ID)
			}
		}
	}
	return actions, approved, notes, decided
}

// requesterOf returns the job's actor as the requester of connection c on
// target targetID only when the job's event created or changed that very
// request: the write of c's own endpoint (an endpoint job), or the write of
// the target's connection proxy named like c (a target job); and only while
// c is pending. A sweep, a follow-up or any other write (a zone group, the
// approver's connection write) supplies no requester.
func requesterOf(job JobInfo, targetID string, c core.Connection) *core.Principal {
	a := job.Actor
	if a == nil || c.Status != core.StatusPending {
		return nil
	}
	switch src := a.Source; {
	case src.Kind == core.RequesterFromEndpointWrite && job.Subject == jobs.SubjectEndpoint &&
		core.SameID(job.SubjectID, c.PrivateEndpointID) && core.SameID(src.ResourceID, c.PrivateEndpointID):
		return a
	case src.Kind == core.RequesterFromConnectionProxyWrite && job.Subject == jobs.SubjectTarget &&
		core.SameID(core.ParentOf(src.ResourceID), targetID) && strings.EqualFold(core.NameOf(src.ResourceID), c.Name):
		return a
	}
	return nil
}

func appendApproved(list []approvedEndpoint, seen map[string]bool, endpointID, targetID string) []approvedEndpoint {
	if endpointID == "" || seen[core.IDKey(endpointID)] {
		return list
	}
	seen[core.IDKey(endpointID)] = true
	return append(list, approvedEndpoint{endpointID: endpointID, targetID: targetID})
}

// FollowUpWindow is the window in which follow-up reconcile jobs of a
// target (sent by peering and zone jobs) collapse into one, run when the
// window closes.
const FollowUpWindow = 30 * time.Second

// PeerFanOut is how many peers of a VNet one job reads and links itself;
// beyond it (a hub after a landing-zone rollout) each peer that needs a look
// gets its own reconcile job.
const PeerFanOut = 8

// ComputePlan decides what to do about the gathered state. It does no I/O
// and reads no clock: the same state and policy always give the same plan.
// (It is not named Plan because the type is.)
func ComputePlan(s State, p Policy) Plan {
	pl, _ := computePlan(s, p)
	return pl
}

func computePlan(s State, p Policy) (Plan, []ConnectionDecision) {
	pl := Plan{JobID: s.Job.ID, Subject: s.Job.Subject, SubjectID: s.Job.SubjectID, Mode: p.Mode()}
	pl.Notes = append(pl.Notes, s.Notes...)
	if s.SubjectGone && s.Job.Subject != jobs.SubjectVNet {
		pl.Notes = append(pl.Notes, fmt.Sprintf("%s %s does not exist: nothing to do", s.Job.Subject, s.Job.SubjectID))
		(&planner{s: s, p: p, plan: &pl}).unreachable()
		return pl, nil
	}
	b := &planner{s: s, p: p, plan: &pl, planned: map[string]bool{}}

	conns, approved, notes, decided := decideConnectionsWhy(s, p)
	pl.Actions = append(pl.Actions, conns...)
	pl.Notes = append(pl.Notes, notes...)

	// DNS of approved endpoints: zone groups, then the endpoints' VNets,
	// then VNets peered with them (so a VNet that is both gets the stronger
	// reason).
	for _, ae := range approved {
		b.dnsFindings(ae)
		b.zoneGroup(ae)
	}
	for _, ae := range approved {
		es, _ := s.Endpoint(ae.endpointID)
		if es.Endpoint == nil || es.Endpoint.VNetID == "" {
			continue
		}
		b.links(es.Endpoint.VNetID, linkWhy{forced: p.LinkEndpointVNets(), rule: RuleLinkEndpointVNets,
			reason: "VNet of approved endpoint " + core.NameOf(ae.endpointID), governed: true,
			endpointID: ae.endpointID, targetID: ae.targetID, zones: neededManaged(s, p, ae)})
	}
	if p.LinkPeeredVNets() {
		for _, ae := range approved {
			es, _ := s.Endpoint(ae.endpointID)
			if es.Endpoint == nil {
				continue
			}
			vs, _ := s.VNet(es.Endpoint.VNetID)
			if vs.VNet == nil {
				continue
			}
			for _, peer := range activePeers(*vs.VNet) {
				b.links(peer, linkWhy{forced: true, rule: RuleLinkPeeredVNets,
					reason: "peered with " + vs.VNet.Name + ", the VNet of approved endpoint " + core.NameOf(ae.endpointID),
					peers:  []core.VNet{*vs.VNet}, endpointID: ae.endpointID, targetID: ae.targetID,
					zones: neededManaged(s, p, ae)})
			}
		}
	}
	// VNets evaluated by the link rules alone (VNet and zone jobs).
	for _, id := range s.Candidates {
		vs, _ := s.VNet(id)
		var peers []core.VNet
		if vs.VNet != nil {
			for _, pid := range activePeers(*vs.VNet) {
				if ps, ok := s.VNet(pid); ok && ps.VNet != nil {
					peers = append(peers, *ps.VNet)
				}
			}
		}
		b.links(id, linkWhy{peers: peers})
	}
	// A deleted VNet: remove the links the autopilot owns, only those.
	if s.Job.Subject == jobs.SubjectVNet && s.SubjectGone {
		b.removeOwnLinks(s.Job.SubjectID)
	}
	// Follow-up reconcile jobs, one per target and FollowUpWindow: the id
	// names the window, so the follow-ups of every job in one window collapse
	// in the queue (duplicate detection), and the job runs when the window
	// has closed, so its reads see every change made by then.
	window := s.Now.UTC().Truncate(FollowUpWindow)
	for _, tid := range s.FollowUpTargets {
		j := jobs.Job{Version: jobs.Version, ID: jobs.NewID(jobs.KindReconcile, jobs.SubjectTarget, tid, "followup:"+window.Format(time.RFC3339)),
			Kind: jobs.KindReconcile, Subject: jobs.SubjectTarget, TargetID: tid, Attempt: 1,
			CorrelationID: s.Job.CorrelationID, Trigger: jobs.TriggerFollowUp, Reason: fmt.Sprintf("follow-up of %s job %s", s.Job.Subject, s.Job.ID),
			NotBefore: window.Add(FollowUpWindow), Created: s.Now}
		pl.Actions = append(pl.Actions, enqueueAction(j, "endpoints of this target may need their VNet links restored"))
	}
	for _, vid := range s.FanOutVNets {
		j := jobs.Job{Version: jobs.Version, ID: jobs.NewID(jobs.KindReconcile, jobs.SubjectVNet, vid, "fanout:"+window.Format(time.RFC3339)),
			Kind: jobs.KindReconcile, Subject: jobs.SubjectVNet, TargetID: vid, Attempt: 1,
			CorrelationID: s.Job.CorrelationID, Trigger: jobs.TriggerFanOut, Reason: fmt.Sprintf("peer of %s, fanned out by %s job %s", core.NameOf(s.Job.SubjectID), s.Job.Subject, s.Job.ID),
			Created: s.Now}
		pl.Actions = append(pl.Actions, enqueueAction(j, "peer of "+core.NameOf(s.Job.SubjectID)+", which has too many peers to read in one job: reconciled in its own job"))
	}
	b.unreachable()
	b.publicAccess()
	b.scheduleVerify()
	return pl, decided
}

type planner struct {
	s       State
	p       Policy
	plan    *Plan
	planned map[string]bool // vnetKey|zoneKey handled (linked, planned or decided)
	// verify subjects in order of first change
	verify []verifySubject
}

type verifySubject struct {
	subject jobs.Subject
	id      string
}

type linkWhy struct {
	// forced: link without a link rule, in zones only (the managed zones
	// the target's endpoints need, per core.DNSTable). Link rules still
	// link any managed zone they name.
	forced     bool
	zones      []core.Zone
	rule       string
	reason     string
	governed   bool
	peers      []core.VNet
	endpointID string
	targetID   string
}

func (b *planner) zones() []core.Zone {
	var out []core.Zone
	for _, z := range b.p.Zones() {
		if b.s.OnlyZone != "" && !core.SameID(z.ID, b.s.OnlyZone) {
			continue
		}
		out = append(out, z)
	}
	return out
}

func (b *planner) zoneGroup(ae approvedEndpoint) {
	rule := b.p.ZoneGroup()
	if !rule.Enabled {
		return
	}
	es, _ := b.s.Endpoint(ae.endpointID)
	if es.Endpoint == nil {
		why := es.Problem
		if why == "" {
			why = "not read"
		}
		b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("endpoint %s unreadable (%s): no zone group or links", ae.endpointID, why))
		return
	}
	ep := es.Endpoint
	var have []string
	for _, g := range ep.ZoneGroups {
		have = append(have, g.ZoneIDs...)
	}
	// Only the managed zones the endpoint's group id needs (core.DNSTable):
	// a zone that serves none of its names would get no record anyway.
	var missing []string
	for _, z := range neededManaged(b.s, b.p, ae) {
		if !containsID(have, z.ID) {
			missing = append(missing, z.ID)
		}
	}
	if len(missing) == 0 {
		return
	}
	// Keep the zones an existing group already has (an endpoint has one zone
	// group; rewriting it must not drop someone else's zones).
	name := rule.Name
	if name == "" {
		name = "default"
	}
	if len(ep.ZoneGroups) > 0 && ep.ZoneGroups[0].Name != "" {
		name = ep.ZoneGroups[0].Name
	}
	zoneIDs := append(append([]string(nil), have...), missing...)
	spec := core.ZoneGroupSpec{EndpointID: ep.ID, Name: name, ZoneIDs: zoneIDs}
	before := "none"
	if len(ep.ZoneGroups) > 0 {
		before = "zones: " + strings.Join(zoneNames(have), ",")
	}
	b.plan.Actions = append(b.plan.Actions, addZoneGroupAction(spec, ae.targetID, RuleZoneGroup,
		"approved endpoint lacks a zone group for "+strings.Join(zoneNames(missing), ", "), before))
	b.addVerify(jobs.SubjectEndpoint, ep.ID)
}

func (b *planner) links(vnetID string, why linkWhy) {
	vs, gathered := b.s.VNet(vnetID)
	if !gathered && why.forced && linkedIn(b.s, why.zones, vnetID, false) {
		return // linked in every zone it needs, so not read: nothing to do
	}
	if vs.VNet == nil {
		problem := vs.Problem
		if vs.Gone {
			problem = "not found"
		}
		if problem == "" {
			problem = "not read"
		}
		if why.forced || why.rule != "" {
			b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("VNet %s unreadable (%s): not linked", vnetID, problem))
		}
		return
	}
	v := *vs.VNet
	var decisions []policy.LinkDecision
	in := policy.LinkInput{VNet: v, PeeredVNets: why.peers, HasGovernedEndpoint: why.governed}
	if why.forced {
		in.NeedZones = zoneNamesOf(why.zones)
	}
	decisions, err := b.p.DecideLinks(in)
	if err != nil {
		b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("VNet %s: link rules failed: %v", v.ID, err))
		decisions = nil
	}
	for _, z := range b.zones() {
		key := core.IDKey(v.ID) + "|" + core.IDKey(z.ID)
		if b.planned[key] {
			continue
		}
		links, listed := b.s.Links[core.IDKey(z.ID)]
		var d *policy.LinkDecision
		for i := range decisions {
			if core.SameID(decisions[i].ZoneID, z.ID) {
				d = &decisions[i]
				break
			}
		}
		rule, reason := why.rule, why.reason
		forced := why.forced && containsZone(why.zones, z.ID)
		spec := core.LinkSpec{ZoneID: z.ID, VNetID: v.ID, Name: LinkName(v.ID)}
		switch {
		case d != nil && d.Link:
			if !forced {
				rule, reason = d.Rule, d.Reason
			}
			spec.RegistrationEnabled, spec.ResolutionPolicy = d.RegistrationEnabled, d.ResolutionPolicy
		case forced:
		default:
			continue // neither forced nor wanted by a rule
		}
		b.planned[key] = true
		if !listed {
			b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("links of zone %s not listed: VNet %s not evaluated", z.Name, v.Name))
			continue
		}
		if l, ok := findLink(links, v.ID); ok {
			// Linked already (any owner counts). Only a link the autopilot
			// owns is brought in line with the rule's settings.
			if l.Managed() && d != nil && d.Link && !forced && linkDiffers(l, spec) {
				b.plan.Actions = append(b.plan.Actions, updateLinkAction(spec, l, why.targetID, rule, reason))
				b.addVerifyFor(why, v.ID)
			}
			continue
		}
		b.plan.Actions = append(b.plan.Actions, createLinkAction(spec, why.targetID, rule, reason))
		b.addVerifyFor(why, v.ID)
	}
}

func (b *planner) removeOwnLinks(vnetID string) {
	if !b.p.RemoveOwnLinksOnVNetDelete() {
		b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("VNet %s is gone; policy keeps its links (removeOwnLinksOnVNetDelete off)", vnetID))
		return
	}
	for _, z := range b.zones() {
		for _, l := range b.s.Links[core.IDKey(z.ID)] {
			if !core.SameID(l.VNetID, vnetID) {
				continue
			}
			if !l.Managed() {
				b.plan.Notes = append(b.plan.Notes, fmt.Sprintf("link %s of deleted VNet is not owned by the autopilot: left alone", l.ID))
				continue
			}
			b.plan.Actions = append(b.plan.Actions, removeLinkAction(l, z.ID, RuleRemoveOwnLinks, "VNet "+core.NameOf(vnetID)+" was deleted"))
		}
	}
}

func (b *planner) addVerifyFor(why linkWhy, vnetID string) {
	switch {
	case why.endpointID != "":
		b.addVerify(jobs.SubjectEndpoint, why.endpointID)
	default:
		b.addVerify(jobs.SubjectVNet, vnetID)
	}
}

func (b *planner) addVerify(subject jobs.Subject, id string) {
	for _, v := range b.verify {
		if v.subject == subject && core.SameID(v.id, id) {
			return
		}
	}
	b.verify = append(b.verify, verifySubject{subject, id})
}

// scheduleVerify adds one verification job per changed subject: the target
// of an approval or rejection, the endpoint whose DNS changed, or the VNet
// linked by a link rule alone.
//
// Like the follow-up jobs, a verification job's id names its subject and a
// window, not the reconcile job: two jobs that change one subject in the
// same window (the approval and the rejection of two endpoints of a target)
// schedule the same job, which the queue's duplicate detection keeps once.
// It runs the policy's delay after the window has closed, so it checks every
// change made in the window. The window is FollowUpWindow, or the delay when
// that is shorter (a policy that asks for a check after 1s gets it within
// 2s).
func (b *planner) scheduleVerify() {
	var subjects []verifySubject
	for _, a := range b.plan.Actions {
		if (a.Kind == KindApprove || a.Kind == KindReject || a.Kind == KindDisablePublicAccess) && a.Target != "" {
			subjects = append(subjects, verifySubject{jobs.SubjectTarget, a.Target})
		}
	}
	subjects = append(subjects, b.verify...)
	for _, a := range b.plan.Actions {
		if a.Kind == KindRemoveLink {
			subjects = append(subjects, verifySubject{jobs.SubjectVNet, b.s.Job.SubjectID})
		}
	}
	delay := b.p.Verification().Delay
	why := fmt.Sprintf("changes made; verify after %s", delay)
	if b.plan.Empty() {
		why = fmt.Sprintf("verify private access after %s, before public network access is disabled", delay)
	}
	size := min(FollowUpWindow, max(delay, 0))
	window := b.s.Now.UTC().Truncate(size)
	seen := map[string]bool{}
	for _, v := range subjects {
		k := string(v.subject) + "|" + core.IDKey(v.id)
		if seen[k] {
			continue
		}
		seen[k] = true
		j := jobs.Job{Version: jobs.Version, ID: jobs.NewID(jobs.KindVerify, v.subject, v.id, "verify:"+window.Format(time.RFC3339Nano)),
			Kind: jobs.KindVerify, Subject: v.subject, TargetID: v.id, Attempt: 1, CorrelationID: b.s.Job.CorrelationID,
			Trigger: jobs.TriggerVerify, Reason: "verify after reconcile job " + b.s.Job.ID, NotBefore: window.Add(size + delay), Created: b.s.Now}
		b.plan.Actions = append(b.plan.Actions, scheduleVerifyAction(j, why))
	}
}

// LinkName is the deterministic name of the link the autopilot creates
// between a VNet and a zone: "autopilot-{vnet name}-{8 hex of the VNet id}",
// at most 80 characters. The same VNet always gets the same name, so a
// create raced by another job collides instead of duplicating.
func LinkName(vnetID string) string {
	sum := sha256.Sum256([]byte(core.IDKey(vnetID)))
	name := core.NameOf(vnetID)
	if len(name) > 60 {
		name = name[:60]
	}
	return "autopilot-" + name + "-" + hex.EncodeToString(sum[:])[:8]
}

func activePeers(v core.VNet) []string {
	var out []string
	for _, p := range v.Peerings {
		if strings.EqualFold(p.State, "Disconnected") || p.RemoteVNetID == "" {
			continue
		}
		out = append(out, p.RemoteVNetID)
	}
	return out
}

func findLink(links []core.VNetLink, vnetID string) (core.VNetLink, bool) {
	for _, l := range links {
		if core.SameID(l.VNetID, vnetID) {
			return l, true
		}
	}
	return core.VNetLink{}, false
}

func linkDiffers(l core.VNetLink, spec core.LinkSpec) bool {
	return l.RegistrationEnabled != spec.RegistrationEnabled || normPolicy(l.ResolutionPolicy) != normPolicy(spec.ResolutionPolicy)
}

func normPolicy(s string) string {
	if s == "" {
		return "default"
	}
	return strings.ToLower(s)
}

func linkState(reg bool, pol string) string {
	return fmt.Sprintf("registration=%t resolution=%s", reg, normPolicy(pol))
}

func containsID(list []string, id string) bool {
	for _, x := range list {
		if core.SameID(x, id) {
			return true
		}
	}
	return false
}

func zoneNames(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, core.NameOf(id))
	}
	sort.Strings(out)
	return out
}

func linkInput(v core.VNet, peers []core.VNet) policy.LinkInput {
	return policy.LinkInput{VNet: v, PeeredVNets: peers}
}
