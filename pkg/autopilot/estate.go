package autopilot

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// The estate is the state of every governed target at a glance: its
// connections and why they are in their state, the VNets that must reach
// it (the VNets of its approved endpoints and their peers) with their link
// state in each private DNS zone the target needs, the last verification
// of each VNet, and an overall health. It is read from ARM through the
// core.Reader port on each request (the truth, not a cache) and joined
// with what the Service recorded: the decisions (outcome events) and the
// verification reports.

// Health is a traffic light.
type Health string

const (
	// HealthGreen: everything that should be in place is, and verified.
	HealthGreen Health = "green"
	// HealthAmber: nothing is known to be broken, but something waits (a
	// pending connection, a link in progress, no verification yet, a
	// resource that could not be read).
	HealthAmber Health = "amber"
	// HealthRed: something is broken: a VNet that must reach the target is
	// not linked in a zone it needs, or its last verification failed.
	HealthRed Health = "red"
	// HealthNone: not part of the target's reachability (a rejected or
	// disconnected connection: a decision, not a fault).
	HealthNone Health = "none"
)

func worse(a, b Health) Health {
	rank := map[Health]int{HealthNone: 0, HealthGreen: 1, HealthAmber: 2, HealthRed: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Link states of a VNet in one zone.
const (
	LinkLinked     = "linked"
	LinkInProgress = "in-progress"
	LinkUnlinked   = "unlinked"
	LinkUnknown    = "unknown" // the zone's links could not be listed
)

// Estate is what GET /api/targets answers.
type Estate struct {
	Generated    time.Time     `json:"generated"`
	Policy       string        `json:"policy"`
	PolicyDigest string        `json:"policyDigest"`
	Mode         string        `json:"mode"`
	Health       Health        `json:"health"`
	Targets      []TargetState `json:"targets"`
	// Zones are the policy's managed zones, by name.
	Zones []string `json:"zones"`
	// ARMReads counts the reads this answer cost.
	ARMReads int `json:"armReads"`
	// Errors are reads that failed (a subscription that could not be
	// listed): what they hide is missing from Targets.
	Errors []string `json:"errors,omitempty"`
	// keyQuery carries the function key (?code=) into the page's links
	// under the Functions host.
	keyQuery string
}

// KeyQuery is what the page's links append to keep the caller's function
// key ("&code=..." with the key query-escaped), empty without one.
func (e Estate) KeyQuery() template.URL { return template.URL(e.keyQuery) }

// TargetState is one governed workspace or legacy FHIR service.
type TargetState struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"`
	Subscription string   `json:"subscription"`
	FQDNs        []string `json:"fqdns,omitempty"`
	// PublicNetworkAccess as ARM reports it (Enabled, Disabled, "").
	PublicNetworkAccess string `json:"publicNetworkAccess,omitempty"`
	// Unreachable is true when public access is Disabled and no approved
	// private endpoint connection is left: nothing reaches the target (red).
	Unreachable bool   `json:"unreachable,omitempty"`
	Health      Health `json:"health"`
	// HealthReasons say why the health is not green.
	HealthReasons []string `json:"healthReasons,omitempty"`
	// Zones are the private DNS zones the target needs (Microsoft's table
	// for its kind) that the policy manages: the link state of each VNet
	// is shown in these.
	Zones []string `json:"zones"`
	// UnmanagedZones are zones the target needs that the policy does not
	// manage: nobody links them, so names there resolve publicly.
	UnmanagedZones []string          `json:"unmanagedZones,omitempty"`
	Connections    []ConnectionState `json:"connections"`
	VNets          []VNetReach       `json:"vnets"`
}

// ConnectionState is one private endpoint connection of a target.
type ConnectionState struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Endpoint string `json:"endpoint"`
	// RequesterSubscription is the subscription of the private endpoint.
	RequesterSubscription string `json:"requesterSubscription"`
	// VNet is the endpoint's VNet ("" when the endpoint was not read).
	VNet string `json:"vnet,omitempty"`
	// Rule and Reason say why the connection is in its state: the decision
	// the Service recorded, or, when it recorded none, what the policy
	// says now (Source tells which).
	Rule        string    `json:"rule,omitempty"`
	Reason      string    `json:"reason"`
	Description string    `json:"description,omitempty"`
	DecidedAt   time.Time `json:"decidedAt,omitzero"`
	// Source: "recorded" (a decision outcome event of this instance),
	// "policy" (evaluated now, no decision recorded) or "azure" (decided
	// outside the autopilot, e.g. auto-approved).
	Source string `json:"source"`
	Health Health `json:"health"`
}

// VNetReach is a VNet that must reach a target.
type VNetReach struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Role: "endpoint" (holds an approved endpoint of the target) or
	// "peer" (peered with such a VNet).
	Role string `json:"role"`
	// Via are the endpoint VNets a peer is peered with, or the endpoints
	// an endpoint VNet holds (names).
	Via          []string          `json:"via"`
	Links        []ZoneLink        `json:"links"`
	Verification *VerificationNote `json:"verification,omitempty"`
	Health       Health            `json:"health"`
	Note         string            `json:"note,omitempty"`
}

// ZoneLink is a VNet's link state in one zone.
type ZoneLink struct {
	Zone  string `json:"zone"`
	State string `json:"state"`
	// Link is the link's name; Owner "autopilot" or "other" (made by hand or
	// another tool: the autopilot never rewrites it).
	Link  string `json:"link,omitempty"`
	Owner string `json:"owner,omitempty"`
}

// VerificationNote is the last verification concerning one VNet.
type VerificationNote struct {
	Time      time.Time     `json:"time"`
	Status    verify.Status `json:"status"`
	Diagnosis string        `json:"diagnosis,omitempty"`
	Checks    int           `json:"checks"`
}

// Records are what the Service knows besides ARM: its outcome events
// (oldest first) and verification reports (newest first).
type Records struct {
	Outcomes []outcome.Event
	Reports  []verify.Report
}

// countingReader counts the reads made through it.
type countingReader struct {
	core.Reader
	n atomic.Int64
}

func (c *countingReader) GetTarget(ctx context.Context, id string) (core.Target, error) {
	c.n.Add(1)
	return c.Reader.GetTarget(ctx, id)
}
func (c *countingReader) ListTargets(ctx context.Context, sub string) ([]core.Target, error) {
	c.n.Add(1)
	return c.Reader.ListTargets(ctx, sub)
}
func (c *countingReader) GetEndpoint(ctx context.Context, id string) (core.Endpoint, error) {
	c.n.Add(1)
	return c.Reader.GetEndpoint(ctx, id)
}
func (c *countingReader) GetVNet(ctx context.Context, id string) (core.VNet, error) {
	c.n.Add(1)
	return c.Reader.GetVNet(ctx, id)
}
func (c *countingReader) ListVNetLinks(ctx context.Context, zoneID string) ([]core.VNetLink, error) {
	c.n.Add(1)
	return c.Reader.ListVNetLinks(ctx, zoneID)
}

// Estate reads the governed targets and joins them with the Service's
// records. Reads that fail are reported in the answer, never hidden.
func (s *Service) Estate(ctx context.Context) Estate {
	rec := Records{Outcomes: s.mem.Events()}
	var repErr error
	if s.cfg.Reports != nil {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		rec.Reports, repErr = s.cfg.Reports.Latest(rctx, nil, 200)
		cancel()
	}
	e := BuildEstate(ctx, s.cfg.ARM, s.cfg.Policy, rec, s.now())
	if repErr != nil {
		e.Errors = append(e.Errors, "verification reports: "+repErr.Error())
	}
	s.c.armReads.Add(int64(e.ARMReads))
	return e
}

// BuildEstate reads every governed target through r and joins it with rec.
// It writes nothing.
func BuildEstate(ctx context.Context, r core.Reader, p *policy.Policy, rec Records, now time.Time) Estate {
	cr := &countingReader{Reader: r}
	e := Estate{Generated: now, Policy: p.Source(), PolicyDigest: p.Digest(), Mode: string(p.Mode()),
		Health: HealthGreen, Targets: []TargetState{}, Zones: []string{}}
	managed := map[string]core.Zone{} // by zone name
	for _, z := range p.Zones() {
		name := core.ZoneNameOfID(z.ID)
		managed[name] = z
		e.Zones = append(e.Zones, name)
	}

	targets, errs := governedTargets(ctx, cr, p)
	e.Errors = append(e.Errors, errs...)

	// Each managed zone's links are listed once, and only if a target needs it.
	links := map[string][]core.VNetLink{} // by zone name
	linkErr := map[string]string{}
	listed := map[string]bool{}
	zoneLinks := func(name string) ([]core.VNetLink, string) {
		if !listed[name] {
			listed[name] = true
			ls, err := cr.ListVNetLinks(ctx, managed[name].ID)
			if err != nil {
				linkErr[name] = briefErr(err)
				e.Errors = append(e.Errors, fmt.Sprintf("list links of zone %s: %s", name, briefErr(err)))
			}
			links[name] = ls
		}
		return links[name], linkErr[name]
	}
	decisions := latestDecisions(rec.Outcomes)
	vnetCache := map[string]*vnetRead{}
	readVNet := func(id string) *vnetRead {
		k := core.IDKey(id)
		if v, ok := vnetCache[k]; ok {
			return v
		}
		v := &vnetRead{}
		if vn, err := cr.GetVNet(ctx, id); err != nil {
			v.err = briefErr(err)
		} else {
			v.vnet = &vn
		}
		vnetCache[k] = v
		return v
	}

	for _, t := range targets {
		ts := TargetState{ID: t.ID, Name: firstNonEmptyStr(t.Name, core.NameOf(t.ID)), Kind: string(t.Kind),
			Subscription: firstNonEmptyStr(t.SubscriptionID, core.SubscriptionOf(t.ID)), FQDNs: t.FQDNs,
			PublicNetworkAccess: t.PublicNetworkAccess, Health: HealthGreen, Zones: []string{},
			Connections: []ConnectionState{}, VNets: []VNetReach{}}
		for _, z := range core.ZonesForKind(t.Kind) {
			if _, ok := managed[z.Zone]; ok {
				ts.Zones = append(ts.Zones, z.Zone)
			} else {
				ts.UnmanagedZones = append(ts.UnmanagedZones, z.Zone)
			}
		}
		sort.Strings(ts.Zones)
		sort.Strings(ts.UnmanagedZones)
		if len(ts.UnmanagedZones) > 0 {
			ts.flag(HealthAmber, fmt.Sprintf("needs zone %s, which the policy does not manage", strings.Join(ts.UnmanagedZones, ", ")))
		}

		type vnetEntry struct {
			reach *VNetReach
			order int
		}
		reach := map[string]*vnetEntry{}
		var order []string
		addReach := func(id, name, role, via string) *VNetReach {
			k := core.IDKey(id)
			if en, ok := reach[k]; ok {
				if role == "endpoint" && en.reach.Role != "endpoint" {
					en.reach.Role = "endpoint"
				}
				if !slices.Contains(en.reach.Via, via) {
					en.reach.Via = append(en.reach.Via, via)
				}
				return en.reach
			}
			v := &VNetReach{ID: id, Name: name, Role: role, Via: []string{via}}
			reach[k] = &vnetEntry{reach: v, order: len(order)}
			order = append(order, k)
			return v
		}

		conns := slices.Clone(t.Connections)
		sort.SliceStable(conns, func(i, j int) bool { return conns[i].Name < conns[j].Name })
		var peerLater []struct {
			vnet *core.VNet
			via  string
		}
		for _, c := range conns {
			cs := ConnectionState{ID: firstNonEmptyStr(c.ID, t.ID+"/privateEndpointConnections/"+c.Name), Name: c.Name,
				Status: string(c.Status), Endpoint: c.PrivateEndpointID,
				RequesterSubscription: strings.ToLower(core.SubscriptionOf(c.PrivateEndpointID))}
			var ep *core.Endpoint
			var epVNet *core.VNet
			// Read the endpoint when its VNet must reach the target
			// (approved), or to say what the policy would decide about a
			// pending connection this instance has no decision for.
			_, recorded := decisions[core.IDKey(cs.ID)]
			if c.PrivateEndpointID != "" && (c.Status == core.StatusApproved || (c.Status == core.StatusPending && !recorded)) {
				if got, err := cr.GetEndpoint(ctx, c.PrivateEndpointID); err == nil {
					ep = &got
					cs.VNet = got.VNetID
					if got.VNetID != "" {
						if vr := readVNet(got.VNetID); vr.vnet != nil {
							epVNet = vr.vnet
						}
					}
				} else if c.Status == core.StatusApproved {
					ts.flag(HealthAmber, fmt.Sprintf("endpoint %s could not be read (%s): its VNet is not shown", core.NameOf(c.PrivateEndpointID), briefErr(err)))
				}
			}
			explainConnectionState(&cs, c, t, ep, epVNet, p, decisions)
			switch c.Status {
			case core.StatusApproved:
				cs.Health = HealthGreen
			case core.StatusPending:
				cs.Health = HealthAmber
				ts.flag(HealthAmber, fmt.Sprintf("connection %s is pending (%s)", c.Name, cs.Reason))
			default:
				cs.Health = HealthNone
			}
			ts.Connections = append(ts.Connections, cs)
			if c.Status != core.StatusApproved || ep == nil || ep.VNetID == "" {
				continue
			}
			epName := firstNonEmptyStr(ep.Name, core.NameOf(ep.ID))
			vname := core.NameOf(ep.VNetID)
			if epVNet != nil && epVNet.Name != "" {
				vname = epVNet.Name
			}
			vr := addReach(ep.VNetID, vname, "endpoint", epName)
			if epVNet == nil {
				vr.Note = "VNet could not be read: " + readVNet(ep.VNetID).err
				continue
			}
			peerLater = append(peerLater, struct {
				vnet *core.VNet
				via  string
			}{epVNet, vname})
		}
		flagUnreachable(&ts, t)
		// Peers after every endpoint VNet, so a VNet that is both is an
		// endpoint VNet.
		for _, pl := range peerLater {
			for _, pr := range pl.vnet.Peerings {
				if pr.RemoteVNetID == "" || strings.EqualFold(pr.State, "Disconnected") {
					continue
				}
				if en, ok := reach[core.IDKey(pr.RemoteVNetID)]; ok && en.reach.Role == "endpoint" {
					continue
				}
				addReach(pr.RemoteVNetID, core.NameOf(pr.RemoteVNetID), "peer", pl.via)
			}
		}
		for _, k := range order {
			v := reach[k].reach
			v.Links = []ZoneLink{}
			v.Health = HealthGreen
			for _, zn := range ts.Zones {
				ls, lerr := zoneLinks(zn)
				zl := ZoneLink{Zone: zn, State: LinkUnlinked}
				if lerr != "" {
					zl.State = LinkUnknown
				} else if l, ok := findVNetLink(ls, v.ID); ok {
					zl.State, zl.Link, zl.Owner = LinkLinked, l.Name, "other"
					if l.Managed() {
						zl.Owner = "autopilot"
					}
					if l.State != "" && !strings.EqualFold(l.State, "Completed") {
						zl.State = LinkInProgress
					}
				}
				switch zl.State {
				case LinkUnlinked:
					v.Health = worse(v.Health, HealthRed)
					ts.flag(HealthRed, fmt.Sprintf("%s is not linked to %s: from it %s resolves to the public address (403)", v.Name, zn, nameUnder(ts.FQDNs, zn)))
				case LinkInProgress, LinkUnknown:
					v.Health = worse(v.Health, HealthAmber)
					ts.flag(HealthAmber, fmt.Sprintf("link state of %s in %s is %s", v.Name, zn, zl.State))
				}
				v.Links = append(v.Links, zl)
			}
			if v.Note != "" {
				v.Health = worse(v.Health, HealthAmber)
			}
			v.Verification = lastVerification(rec.Reports, t, v.Name)
			switch {
			case v.Verification == nil:
				v.Health = worse(v.Health, HealthAmber)
				ts.flag(HealthAmber, fmt.Sprintf("%s not verified yet", v.Name))
			case v.Verification.Status == verify.StatusPass:
			case v.Verification.Status == verify.StatusFail || v.Verification.Status == verify.StatusError:
				v.Health = worse(v.Health, HealthRed)
				ts.flag(HealthRed, fmt.Sprintf("last verification from %s failed: %s", v.Name, v.Verification.Diagnosis))
			default:
				v.Health = worse(v.Health, HealthAmber)
				ts.flag(HealthAmber, fmt.Sprintf("last verification from %s: %s", v.Name, v.Verification.Status))
			}
			ts.VNets = append(ts.VNets, *v)
		}
		e.Health = worse(e.Health, ts.Health)
		e.Targets = append(e.Targets, ts)
	}
	if len(e.Errors) > 0 {
		e.Health = worse(e.Health, HealthAmber)
	}
	e.ARMReads = int(cr.n.Load())
	return e
}

type vnetRead struct {
	vnet *core.VNet
	err  string
}

func (t *TargetState) flag(h Health, reason string) {
	t.Health = worse(t.Health, h)
	if !slices.Contains(t.HealthReasons, reason) {
		t.HealthReasons = append(t.HealthReasons, reason)
	}
}

// governedTargets lists the targets of the policy's subscriptions it
// governs, and reads those it lists by id elsewhere; sorted by id.
func governedTargets(ctx context.Context, r core.Reader, p *policy.Policy) ([]core.Target, []string) {
	var out []core.Target
	var errs []string
	seen := map[string]bool{}
	for _, sub := range p.Subscriptions() {
		ts, err := r.ListTargets(ctx, sub)
		if err != nil {
			errs = append(errs, fmt.Sprintf("list targets of subscription %s: %s", sub, briefErr(err)))
			continue
		}
		for _, t := range ts {
			if p.GovernsTarget(t) && !seen[core.IDKey(t.ID)] {
				seen[core.IDKey(t.ID)] = true
				out = append(out, t)
			}
		}
	}
	for _, id := range p.TargetIDs() {
		if seen[core.IDKey(id)] {
			continue
		}
		t, err := r.GetTarget(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Sprintf("read governed target %s: %s", id, briefErr(err)))
			continue
		}
		seen[core.IDKey(id)] = true
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return core.IDKey(out[i].ID) < core.IDKey(out[j].ID) })
	return out, errs
}

// latestDecisions indexes the newest decision outcome event per connection.
func latestDecisions(evs []outcome.Event) map[string]outcome.Event {
	out := map[string]outcome.Event{}
	for _, e := range evs {
		switch e.Type {
		case outcome.ConnectionApproved, outcome.ConnectionRejected, outcome.ConnectionLeftPending:
		default:
			continue
		}
		if e.Data.Result == outcome.ResultFailed || e.Data.Result == outcome.ResultSkipped {
			continue // not the connection's state
		}
		k := core.IDKey(e.Subject)
		if old, ok := out[k]; !ok || !e.Time.Before(old.Time) {
			out[k] = e
		}
	}
	return out
}

// explainConnectionState fills in why a connection is in its state.
func explainConnectionState(cs *ConnectionState, c core.Connection, t core.Target, ep *core.Endpoint, vnet *core.VNet,
	p *policy.Policy, decisions map[string]outcome.Event) {
	if d, ok := decisions[core.IDKey(cs.ID)]; ok && decisionMatches(d.Type, c.Status) {
		cs.Source, cs.Rule, cs.DecidedAt, cs.Description = "recorded", d.Data.Rule, d.Time, d.Data.Description
		cs.Reason = explainReason(p, d.Data.Rule, d.Data.Reason)
		return
	}
	if c.Status == core.StatusPending || c.Status == core.StatusApproved {
		in := policy.ConnectionInput{Target: t, Connection: c}
		if in.Connection.TargetID == "" {
			in.Connection.TargetID = t.ID
		}
		if ep != nil {
			in.Endpoint, in.EndpointReadable = ep, true
			in.EndpointVNet = vnet
		}
		d, err := p.DecideConnection(in)
		switch {
		case err != nil:
			cs.Source, cs.Reason = "policy", err.Error()
			return
		case c.Status == core.StatusPending:
			cs.Source, cs.Rule = "policy", d.Rule
			cs.Reason = "not decided by the autopilot yet; the policy says " + string(d.Action) + ": " + explainReason(p, d.Rule, d.Reason)
			return
		case d.Action == policy.ActionApprove:
			cs.Source, cs.Rule = "policy", d.Rule
			cs.Reason = "approved before this instance started; the policy allows it: " + explainReason(p, d.Rule, d.Reason)
			return
		}
	}
	cs.Source = "azure"
	cs.Reason = fmt.Sprintf("%s outside the autopilot", strings.ToLower(string(c.Status)))
	if c.Description != "" {
		cs.Reason += fmt.Sprintf(" (description %q)", c.Description)
	}
}

func decisionMatches(t outcome.Type, s core.ConnectionStatus) bool {
	switch t {
	case outcome.ConnectionApproved:
		return s == core.StatusApproved
	case outcome.ConnectionRejected:
		return s == core.StatusRejected
	case outcome.ConnectionLeftPending:
		return s == core.StatusPending
	}
	return false
}

// explainReason turns the engine's terse `rule "x" matched` into what the
// rule checks: its condition, from the policy.
func explainReason(p *policy.Policy, rule, reason string) string {
	if rule == "" || p == nil {
		return reason
	}
	for _, r := range p.Rules() {
		if r.Kind == policy.KindConnection && r.Name == rule {
			cond := strings.Join(strings.Fields(r.When), " ")
			if strings.HasPrefix(reason, fmt.Sprintf("rule %q matched", rule)) {
				return fmt.Sprintf("rule %q matched: %s%s", rule, cond, strings.TrimPrefix(reason, fmt.Sprintf("rule %q matched", rule)))
			}
			return reason
		}
	}
	return reason
}

func findVNetLink(ls []core.VNetLink, vnetID string) (core.VNetLink, bool) {
	for _, l := range ls {
		if core.SameID(l.VNetID, vnetID) {
			return l, true
		}
	}
	return core.VNetLink{}, false
}

// nameUnder returns the first of the target's host names served by zone,
// or "its names".
func nameUnder(fqdns []string, zone string) string {
	for _, f := range fqdns {
		if z, _, ok := core.ZoneForFQDN(f); ok && z.Zone == zone {
			return f
		}
	}
	return "its names"
}

// lastVerification finds the newest report with a check run from the VNet
// (check names end "from NAME" or "from NAME (...)") about the target.
func lastVerification(reps []verify.Report, t core.Target, vnetName string) *VerificationNote {
	for _, r := range reps {
		if !reportConcerns(r, t) {
			continue
		}
		var note *VerificationNote
		for _, c := range r.Checks {
			if !checkFrom(c.Name, vnetName) && !(c.Name == "arm vnet links" && c.Status != verify.StatusPass && strings.Contains(c.Diagnosis, vnetName)) {
				continue
			}
			if note == nil {
				note = &VerificationNote{Time: r.StartedAt, Status: verify.StatusPass}
			}
			note.Checks++
			if c.Status != verify.StatusPass && c.Status != verify.StatusSkipped && statusRank(c.Status) > statusRank(note.Status) {
				note.Status, note.Diagnosis = c.Status, c.Diagnosis
			}
		}
		if note != nil {
			return note
		}
	}
	return nil
}

func statusRank(s verify.Status) int {
	switch s {
	case verify.StatusPass, verify.StatusSkipped:
		return 0
	case verify.StatusRetry:
		return 1
	case verify.StatusError:
		return 2
	}
	return 3
}

func checkFrom(name, vnet string) bool {
	i := strings.LastIndex(name, " from "+vnet)
	if i < 0 {
		return false
	}
	rest := name[i+len(" from "+vnet):]
	return rest == "" || strings.HasPrefix(rest, " ")
}

// reportConcerns reports whether a verification report is about target t.
func reportConcerns(r verify.Report, t core.Target) bool {
	if r.Subject.TargetID != "" {
		return core.SameID(r.Subject.TargetID, t.ID)
	}
	if r.Subject.ConnectionID != "" {
		return core.SameID(core.ParentOf(r.Subject.ConnectionID), t.ID)
	}
	if r.Subject.EndpointID != "" {
		for _, c := range t.Connections {
			if core.SameID(c.PrivateEndpointID, r.Subject.EndpointID) {
				return true
			}
		}
		return false
	}
	// A VNet's verification: about the target when it checked its names.
	for _, f := range r.Subject.FQDNs {
		for _, tf := range t.FQDNs {
			if strings.EqualFold(f, tf) {
				return true
			}
		}
	}
	return false
}

func briefErr(err error) string {
	var e *core.Error
	if errors.As(err, &e) && e.StatusCode != 0 {
		return briefARM(err)
	}
	return err.Error()
}

func firstNonEmptyStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
