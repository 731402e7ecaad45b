package reconcile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// Fixture IDs: a hub subscription holding the workspace, the DNS zone and a
// hub VNet; an allowed spoke subscription with the endpoint and its VNet; an
// unknown subscription.
const (
	subHub     = "11111111-1111-1111-1111-111111111111"
	subSpoke   = "22222222-2222-2222-2222-222222222222"
	subUnknown = "99999999-9999-9999-9999-999999999999"
)

var (
	wsID      = "/subscriptions/" + subHub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1"
	zoneID    = "/subscriptions/" + subHub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com"
	hubVNet   = "/subscriptions/" + subHub + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub"
	spokeVNet = "/subscriptions/" + subSpoke + "/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/spoke1"
	otherVNet = "/subscriptions/" + subSpoke + "/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/tagged"
	pe1ID     = "/subscriptions/" + subSpoke + "/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe1"
	conn1ID   = wsID + "/privateEndpointConnections/pe1.c1"
	t0        = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
)

// fakePolicy approves connections from endpoints in allowed subscriptions,
// rejects readable ones from elsewhere when rejectUnknown, and leaves the
// rest pending; VNets tagged link=yes match a link rule.
type fakePolicy struct {
	subs          []string
	allowed       map[string]bool
	rejectUnknown bool
	revoke        map[string]bool // connection ids to revoke
	mode          policy.Mode
	zones         []core.Zone
	zoneGroup     bool
	linkEndpoint  bool
	linkPeered    bool
	removeOwn     bool
	delay         time.Duration
	publicAccess  policy.PublicAccessMode
	// publicBy are per-target selections (by core.IDKey): mode and rule.
	publicBy map[string]publicSel
	// inputs seen, for assertions
	mu      sync.Mutex
	decided []policy.ConnectionInput
}

func newFakePolicy() *fakePolicy {
	return &fakePolicy{
		subs:          []string{subHub},
		allowed:       map[string]bool{subSpoke: true},
		rejectUnknown: true,
		mode:          policy.ModeEnforce,
		zones:         []core.Zone{{ID: zoneID, Name: "privatelink.fhir.azurehealthcareapis.com"}},
		zoneGroup:     true, linkEndpoint: true, linkPeered: true, removeOwn: true,
		delay: 5 * time.Minute,
	}
}

func (p *fakePolicy) DecideConnection(in policy.ConnectionInput) (policy.Decision, error) {
	p.mu.Lock()
	p.decided = append(p.decided, in)
	p.mu.Unlock()
	if p.revoke[in.Connection.ID] && in.Connection.Status == core.StatusApproved {
		return policy.Decision{Action: policy.ActionReject, Rule: "revoke-list", Reason: "listed for revocation", Description: "revoked", Revoke: true}, nil
	}
	if !in.EndpointReadable || in.Endpoint == nil {
		return policy.Decision{Action: policy.ActionPending, Reason: "endpoint unreadable: left for a human"}, nil
	}
	if p.allowed[in.Endpoint.SubscriptionID] {
		return policy.Decision{Action: policy.ActionApprove, Rule: "allow-spokes", Reason: "endpoint subscription is allowed", Description: "approved by autopilot rule allow-spokes"}, nil
	}
	if p.rejectUnknown {
		return policy.Decision{Action: policy.ActionReject, Rule: "reject-unknown", Reason: "endpoint subscription is unknown", Description: "rejected: subscription not allowed"}, nil
	}
	return policy.Decision{Action: policy.ActionPending, Reason: "no rule matched"}, nil
}

func (p *fakePolicy) DecideLinks(in policy.LinkInput) ([]policy.LinkDecision, error) {
	var out []policy.LinkDecision
	for _, z := range p.zones {
		d := policy.LinkDecision{ZoneID: z.ID}
		if in.VNet.Tags["link"] == "yes" {
			d.Link, d.Rule, d.Reason = true, "tagged-vnets", "VNet tagged link=yes"
		}
		out = append(out, d)
	}
	return out, nil
}

func (p *fakePolicy) GovernsTarget(t core.Target) bool {
	for _, s := range p.subs {
		if strings.EqualFold(core.SubscriptionOf(t.ID), s) {
			return true
		}
	}
	return false
}
func (p *fakePolicy) Subscriptions() []string { return p.subs }
func (p *fakePolicy) Zones() []core.Zone      { return p.zones }
func (p *fakePolicy) ZoneGroup() policy.ZoneGroupRule {
	return policy.ZoneGroupRule{Enabled: p.zoneGroup, Name: "default"}
}
func (p *fakePolicy) Verification() policy.VerifySettings {
	return policy.VerifySettings{Delay: p.delay, Attempts: 6}
}
func (p *fakePolicy) Mode() policy.Mode                { return p.mode }
func (p *fakePolicy) RemoveOwnLinksOnVNetDelete() bool { return p.removeOwn }
func (p *fakePolicy) LinkEndpointVNets() bool          { return p.linkEndpoint }
func (p *fakePolicy) LinkPeeredVNets() bool            { return p.linkPeered }

type publicSel struct {
	mode policy.PublicAccessMode
	rule string
}

func (p *fakePolicy) PublicNetworkAccessFor(t core.Target) (policy.PublicAccessMode, string) {
	if s, ok := p.publicBy[core.IDKey(t.ID)]; ok {
		return s.mode, s.rule
	}
	if p.publicAccess == "" {
		return policy.PublicAccessLeave, policy.DefaultPublicAccessRule
	}
	return p.publicAccess, policy.DefaultPublicAccessRule
}

// fakeARM is a small state-backed core.ARM that counts calls and can fail
// chosen operations.
type fakeARM struct {
	mu        sync.Mutex
	targets   map[string]core.Target
	endpoints map[string]core.Endpoint
	vnets     map[string]core.VNet
	links     map[string][]core.VNetLink // by zone key
	reads     map[string]int             // op|id -> calls
	readTotal int
	writes    []string // "op id"
	// fail maps an operation name ("GetEndpoint", "SetConnectionStatus",
	// "EnsureVNetLink", ...) to errors returned by its next calls.
	fail map[string][]error
}

func newFakeARM() *fakeARM {
	return &fakeARM{targets: map[string]core.Target{}, endpoints: map[string]core.Endpoint{}, vnets: map[string]core.VNet{},
		links: map[string][]core.VNetLink{}, reads: map[string]int{}, fail: map[string][]error{}}
}

func (f *fakeARM) injected(op string) error {
	if errs := f.fail[op]; len(errs) > 0 {
		f.fail[op] = errs[1:]
		return errs[0]
	}
	return nil
}

func (f *fakeARM) read(op, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[op+"|"+core.IDKey(id)]++
	f.readTotal++
	return f.injected(op)
}

func notFound(op, id string) error {
	return &core.Error{Class: core.NotFound, Op: op, ResourceID: id, StatusCode: 404, Code: "NotFound"}
}

func (f *fakeARM) GetTarget(_ context.Context, id string) (core.Target, error) {
	if err := f.read("GetTarget", id); err != nil {
		return core.Target{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.targets[core.IDKey(id)]
	if !ok {
		return core.Target{}, notFound("get target", id)
	}
	return cloneTarget(t), nil
}

func (f *fakeARM) ListTargets(_ context.Context, sub string) ([]core.Target, error) {
	if err := f.read("ListTargets", sub); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []core.Target
	for _, t := range f.targets {
		if strings.EqualFold(core.SubscriptionOf(t.ID), sub) {
			out = append(out, cloneTarget(t))
		}
	}
	return out, nil
}

func (f *fakeARM) GetEndpoint(_ context.Context, id string) (core.Endpoint, error) {
	if err := f.read("GetEndpoint", id); err != nil {
		return core.Endpoint{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.endpoints[core.IDKey(id)]
	if !ok {
		return core.Endpoint{}, notFound("get endpoint", id)
	}
	e.ZoneGroups = append([]core.ZoneGroup(nil), e.ZoneGroups...)
	e.Connections = append([]core.EndpointConnection(nil), e.Connections...)
	return e, nil
}

func (f *fakeARM) GetVNet(_ context.Context, id string) (core.VNet, error) {
	if err := f.read("GetVNet", id); err != nil {
		return core.VNet{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.vnets[core.IDKey(id)]
	if !ok {
		return core.VNet{}, notFound("get vnet", id)
	}
	return v, nil
}

func (f *fakeARM) ListVNets(_ context.Context, sub string) ([]core.VNet, error) {
	if err := f.read("ListVNets", sub); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []core.VNet
	for _, v := range f.vnets {
		if strings.EqualFold(core.SubscriptionOf(v.ID), sub) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (f *fakeARM) ListVNetLinks(_ context.Context, zone string) ([]core.VNetLink, error) {
	if err := f.read("ListVNetLinks", zone); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]core.VNetLink(nil), f.links[core.IDKey(zone)]...), nil
}

func (f *fakeARM) ListARecords(_ context.Context, zone string) ([]core.ARecord, error) {
	return nil, f.read("ListARecords", zone)
}

func (f *fakeARM) wrote(op, id string) { f.writes = append(f.writes, op+" "+id) }

func (f *fakeARM) SetConnectionStatus(_ context.Context, c core.Connection, st core.ConnectionStatus, desc string) (core.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("SetConnectionStatus"); err != nil {
		return core.WriteResult{}, err
	}
	t, ok := f.targets[core.IDKey(c.TargetID)]
	if !ok {
		return core.WriteResult{}, notFound("set connection status", c.ID)
	}
	for i := range t.Connections {
		if core.SameID(t.Connections[i].ID, c.ID) {
			if t.Connections[i].Status == st {
				return core.WriteResult{}, nil
			}
			t.Connections[i].Status, t.Connections[i].Description = st, desc
			f.targets[core.IDKey(t.ID)] = t
			f.wrote("SetConnectionStatus", c.ID)
			return core.WriteResult{Changed: true}, nil
		}
	}
	return core.WriteResult{}, notFound("set connection status", c.ID)
}

func (f *fakeARM) SetPublicNetworkAccess(_ context.Context, tg core.Target, access string) (core.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("SetPublicNetworkAccess"); err != nil {
		return core.WriteResult{}, err
	}
	t, ok := f.targets[core.IDKey(tg.ID)]
	if !ok {
		return core.WriteResult{}, notFound("set public network access", tg.ID)
	}
	if strings.EqualFold(t.PublicNetworkAccess, access) {
		return core.WriteResult{}, nil
	}
	t.PublicNetworkAccess = access
	f.targets[core.IDKey(t.ID)] = t
	f.wrote("SetPublicNetworkAccess", t.ID)
	return core.WriteResult{Changed: true}, nil
}

func (f *fakeARM) EnsureVNetLink(_ context.Context, s core.LinkSpec) (core.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("EnsureVNetLink"); err != nil {
		return core.WriteResult{}, err
	}
	zk := core.IDKey(s.ZoneID)
	for i, l := range f.links[zk] {
		if core.SameID(l.VNetID, s.VNetID) {
			if !l.Managed() || (l.RegistrationEnabled == s.RegistrationEnabled && l.ResolutionPolicy == s.ResolutionPolicy) {
				return core.WriteResult{}, nil
			}
			f.links[zk][i].RegistrationEnabled, f.links[zk][i].ResolutionPolicy = s.RegistrationEnabled, s.ResolutionPolicy
			f.wrote("EnsureVNetLink", s.VNetID)
			return core.WriteResult{Changed: true}, nil
		}
	}
	f.links[zk] = append(f.links[zk], core.VNetLink{ID: s.ZoneID + "/virtualNetworkLinks/" + s.Name, Name: s.Name, ZoneID: s.ZoneID,
		VNetID: s.VNetID, RegistrationEnabled: s.RegistrationEnabled, ResolutionPolicy: s.ResolutionPolicy, State: "Completed",
		Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue}})
	f.wrote("EnsureVNetLink", s.VNetID)
	return core.WriteResult{Changed: true}, nil
}

func (f *fakeARM) DeleteVNetLink(_ context.Context, l core.VNetLink) (core.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("DeleteVNetLink"); err != nil {
		return core.WriteResult{}, err
	}
	if !l.Managed() {
		return core.WriteResult{}, &core.Error{Class: core.Fatal, Op: "delete vnet link", ResourceID: l.ID, Err: fmt.Errorf("link not owned")}
	}
	zk := core.IDKey(l.ZoneID)
	for i, x := range f.links[zk] {
		if core.SameID(x.ID, l.ID) {
			f.links[zk] = append(f.links[zk][:i:i], f.links[zk][i+1:]...)
			f.wrote("DeleteVNetLink", l.ID)
			return core.WriteResult{Changed: true}, nil
		}
	}
	return core.WriteResult{}, nil
}

func (f *fakeARM) EnsureZoneGroup(_ context.Context, s core.ZoneGroupSpec) (core.WriteResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.injected("EnsureZoneGroup"); err != nil {
		return core.WriteResult{}, err
	}
	e, ok := f.endpoints[core.IDKey(s.EndpointID)]
	if !ok {
		return core.WriteResult{}, notFound("ensure zone group", s.EndpointID)
	}
	e.ZoneGroups = []core.ZoneGroup{{ID: s.EndpointID + "/privateDnsZoneGroups/" + s.Name, Name: s.Name, ZoneIDs: s.ZoneIDs}}
	f.endpoints[core.IDKey(s.EndpointID)] = e
	f.wrote("EnsureZoneGroup", s.EndpointID)
	return core.WriteResult{Changed: true}, nil
}

func cloneTarget(t core.Target) core.Target {
	t.Connections = append([]core.Connection(nil), t.Connections...)
	return t
}

// fakeSender records jobs and collapses duplicate ids like the queues do.
type fakeSender struct {
	mu   sync.Mutex
	sent []jobs.Job
	ids  map[string]bool
	err  error
}

func (s *fakeSender) Send(_ context.Context, j jobs.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.ids == nil {
		s.ids = map[string]bool{}
	}
	if s.ids[j.ID] {
		return nil
	}
	s.ids[j.ID] = true
	s.sent = append(s.sent, j)
	return nil
}

// world builds the guide's starting point: workspace ws1 in the hub
// subscription with a pending connection from pe1 in the spoke subscription,
// spoke1 peered with the hub VNet, an empty private DNS zone.
func world() *fakeARM {
	f := newFakeARM()
	f.targets[core.IDKey(wsID)] = core.Target{ID: wsID, Kind: core.TargetWorkspace, Name: "ws1", SubscriptionID: subHub,
		Connections: []core.Connection{{ID: conn1ID, Name: "pe1.c1", TargetID: wsID, PrivateEndpointID: pe1ID, Status: core.StatusPending}}}
	f.endpoints[core.IDKey(pe1ID)] = core.Endpoint{ID: pe1ID, Name: "pe1", SubscriptionID: subSpoke, VNetID: spokeVNet,
		Connections: []core.EndpointConnection{{Name: "c1", TargetID: wsID, Status: core.StatusPending, Manual: true}}}
	f.vnets[core.IDKey(spokeVNet)] = core.VNet{ID: spokeVNet, Name: "spoke1", SubscriptionID: subSpoke,
		AddressPrefixes: []string{"10.1.0.0/16"}, Peerings: []core.Peering{{Name: "to-hub", RemoteVNetID: hubVNet, State: "Connected"}}}
	f.vnets[core.IDKey(hubVNet)] = core.VNet{ID: hubVNet, Name: "hub", SubscriptionID: subHub,
		AddressPrefixes: []string{"10.0.0.0/16"}, Peerings: []core.Peering{{Name: "to-spoke1", RemoteVNetID: spokeVNet, State: "Connected"}}}
	return f
}

func reconcileJob(subject jobs.Subject, id string) jobs.Job {
	return jobs.Job{Version: jobs.Version, ID: jobs.NewID(jobs.KindReconcile, subject, id, "evt-1"), Kind: jobs.KindReconcile,
		Subject: subject, TargetID: id, Attempt: 1, CorrelationID: "corr-1", Reason: "test"}
}
