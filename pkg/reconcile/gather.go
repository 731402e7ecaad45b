package reconcile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// memo is a per-job read-through cache over core.Reader: each resource is
// read at most once per job, and every call that reached ARM is counted.
type memo struct {
	r     core.Reader
	mu    sync.Mutex // reads may run concurrently (prefetch)
	reads int
	cache map[string]memoEntry
}

type memoEntry struct {
	v   any
	err error
}

func newMemo(r core.Reader) *memo { return &memo{r: r, cache: map[string]memoEntry{}} }

func cached[T any](m *memo, op, id string, read func() (T, error)) (T, error) {
	k := op + "|" + core.IDKey(id)
	m.mu.Lock()
	if e, ok := m.cache[k]; ok {
		m.mu.Unlock()
		v, _ := e.v.(T)
		return v, e.err
	}
	m.reads++
	m.mu.Unlock()
	v, err := read()
	m.mu.Lock()
	m.cache[k] = memoEntry{v: v, err: err}
	m.mu.Unlock()
	return v, err
}

// ConnectionReader is an optional extension of core.Reader (implemented by
// *azure.Client): reads of targets with their connections but without the
// FHIR host names, which cost a read per workspace and which only
// verification needs. The reconciler and the sweep use it when the Reader
// has it, GetTarget and ListTargets otherwise.
type ConnectionReader interface {
	// GetTargetConnections is GetTarget without host names (one read).
	GetTargetConnections(ctx context.Context, id string) (core.Target, error)
	// ListTargetConnections is ListTargets without host names (no read per
	// workspace).
	ListTargetConnections(ctx context.Context, subscriptionID string) ([]core.Target, error)
}

func (m *memo) target(ctx context.Context, id string) (core.Target, error) {
	return cached(m, "target", id, func() (core.Target, error) {
		if cr, ok := m.r.(ConnectionReader); ok {
			return cr.GetTargetConnections(ctx, id)
		}
		return m.r.GetTarget(ctx, id)
	})
}

func (m *memo) targets(ctx context.Context, sub string) ([]core.Target, error) {
	return cached(m, "targets", sub, func() ([]core.Target, error) {
		if cr, ok := m.r.(ConnectionReader); ok {
			return cr.ListTargetConnections(ctx, sub)
		}
		return m.r.ListTargets(ctx, sub)
	})
}

func (m *memo) endpoint(ctx context.Context, id string) (core.Endpoint, error) {
	return cached(m, "endpoint", id, func() (core.Endpoint, error) { return m.r.GetEndpoint(ctx, id) })
}

func (m *memo) vnet(ctx context.Context, id string) (core.VNet, error) {
	return cached(m, "vnet", id, func() (core.VNet, error) { return m.r.GetVNet(ctx, id) })
}

func (m *memo) vnets(ctx context.Context, sub string) ([]core.VNet, error) {
	return cached(m, "vnets", sub, func() ([]core.VNet, error) { return m.r.ListVNets(ctx, sub) })
}

func (m *memo) links(ctx context.Context, zoneID string) ([]core.VNetLink, error) {
	return cached(m, "links", zoneID, func() ([]core.VNetLink, error) { return m.r.ListVNetLinks(ctx, zoneID) })
}

// unreadable reports whether a read error means "cannot see it" (forbidden
// or not found) rather than "try again".
func unreadable(err error) (bool, string) {
	if err == nil {
		return false, ""
	}
	switch core.ClassOf(err) {
	case core.NotFound:
		return true, "not found"
	case core.Fatal:
		return true, "unreadable: " + err.Error()
	}
	return false, ""
}

// gatherer collects the State for one job.
type gatherer struct {
	m        *memo
	p        Policy
	s        State
	now      time.Time
	parallel func(fs ...func())
	// onlyConnection restricts a target job to one connection (dry runs).
	onlyConnection string
}

// PrefetchConcurrency bounds the concurrent reads of one job's prefetch.
const PrefetchConcurrency = 8

// runParallel runs fs concurrently and waits for all: the default of
// Config.Parallel.
func runParallel(fs ...func()) {
	var wg sync.WaitGroup
	for _, f := range fs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f()
		}()
	}
	wg.Wait()
}

// prefetch reads the resources with the given ids through read, at most
// PrefetchConcurrency at a time, into the memo; errors stay in the memo for
// the sequential pass to judge, exactly as if it had read them itself. A
// target with dozens of connections is then gathered in the time of a few
// reads rather than one read after another.
func (g *gatherer) prefetch(ctx context.Context, ids []string, read func(context.Context, string)) {
	if len(ids) < 2 {
		return
	}
	// each reader takes the next id when it is free, so a read that waits
	// (a throttle's Retry-After, a retried fault) holds back no other
	n := min(PrefetchConcurrency, len(ids))
	var next atomic.Int64
	fs := make([]func(), n)
	for i := range n {
		fs[i] = func() {
			for j := next.Add(1) - 1; j < int64(len(ids)); j = next.Add(1) - 1 {
				read(ctx, ids[j])
			}
		}
	}
	g.parallel(fs...)
}

func gather(ctx context.Context, r core.Reader, p Policy, job jobs.Job, now time.Time, parallel func(fs ...func())) (State, int, error) {
	return gatherOnly(ctx, r, p, job, now, parallel, "")
}

// gatherOnly is gather; for a target job with onlyConnection set, it reads
// and decides only that connection of the target (its endpoint's
// connections), as an endpoint job does.
func gatherOnly(ctx context.Context, r core.Reader, p Policy, job jobs.Job, now time.Time, parallel func(fs ...func()), onlyConnection string) (State, int, error) {
	if parallel == nil {
		parallel = runParallel
	}
	g := &gatherer{m: newMemo(r), p: p, now: now, parallel: parallel, onlyConnection: onlyConnection}
	g.s = State{
		Job: JobInfo{ID: job.ID, Subject: job.Subject, SubjectID: job.TargetID, CorrelationID: job.CorrelationID,
			Trigger: job.EffectiveTrigger(), Reason: job.Reason, Deleted: job.Deleted, Actor: job.Actor, PrivateVerified: job.PrivateVerified},
		Now:       now,
		Endpoints: map[string]EndpointState{},
		VNets:     map[string]VNetState{},
		Links:     map[string][]core.VNetLink{},
	}
	var err error
	switch job.Subject {
	case jobs.SubjectTarget:
		err = g.target(ctx, job.TargetID)
	case jobs.SubjectEndpoint:
		err = g.endpoint(ctx, job.TargetID)
	case jobs.SubjectVNet:
		err = g.vnet(ctx, job)
	case jobs.SubjectZone:
		err = g.zone(ctx, job.TargetID)
	default:
		err = &core.Error{Class: core.Fatal, Op: "reconcile", ResourceID: job.TargetID,
			Err: fmt.Errorf("unknown job subject %q", job.Subject)}
	}
	return g.s, g.m.reads, err
}

func (g *gatherer) note(format string, a ...any) {
	g.s.Notes = append(g.s.Notes, fmt.Sprintf(format, a...))
}

func (g *gatherer) target(ctx context.Context, id string) error {
	t, err := g.m.target(ctx, id)
	if core.IsNotFound(err) {
		g.s.SubjectGone, g.s.GoneErr = true, err
		return nil
	}
	if err != nil {
		return fmt.Errorf("gather target: %w", err)
	}
	g.s.Targets = []core.Target{t}
	if g.onlyConnection != "" {
		g.s.OnlyEndpoint = ""
		for _, c := range t.Connections {
			if core.SameID(c.ID, g.onlyConnection) {
				g.s.OnlyEndpoint = c.PrivateEndpointID
			}
		}
		if g.s.OnlyEndpoint == "" {
			return nil // no such connection, or it names no endpoint: nothing to read
		}
	}
	return g.connections(ctx)
}

func (g *gatherer) endpoint(ctx context.Context, id string) error {
	ep, err := g.m.endpoint(ctx, id)
	if core.IsNotFound(err) {
		g.s.SubjectGone = true
		g.s.OnlyEndpoint = id
		g.goneEndpointTargets(ctx)
		return nil
	}
	if err != nil {
		return fmt.Errorf("gather endpoint: %w", err)
	}
	g.s.OnlyEndpoint = id
	g.s.Endpoints[core.IDKey(id)] = EndpointState{Endpoint: &ep}
	seen := map[string]bool{}
	for _, c := range ep.Connections {
		if c.TargetID == "" || seen[core.IDKey(c.TargetID)] {
			continue
		}
		seen[core.IDKey(c.TargetID)] = true
		if !isTargetID(c.TargetID) {
			continue // a connection to some other kind of service
		}
		t, err := g.m.target(ctx, c.TargetID)
		if bad, why := unreadable(err); bad {
			g.note("target %s of endpoint %s: %s", c.TargetID, ep.Name, why)
			continue
		}
		if err != nil {
			return fmt.Errorf("gather endpoint target: %w", err)
		}
		g.s.Targets = append(g.s.Targets, t)
	}
	return g.connections(ctx)
}

// isTargetID reports whether id names a workspace or legacy FHIR service.
func isTargetID(id string) bool {
	l := strings.ToLower(id)
	return strings.Contains(l, "/providers/microsoft.healthcareapis/workspaces/") ||
		strings.Contains(l, "/providers/microsoft.healthcareapis/services/")
}

// connections reads what deciding the governed targets' Pending and
// Approved connections needs (endpoints and their VNets), then what the DNS
// flow of the endpoints that end up approved needs (peers, zone links).
func (g *gatherer) connections(ctx context.Context) error {
	// Prefetch the endpoints, then their VNets, concurrently; the pass below
	// finds them in the memo.
	var eps []string
	for _, t := range g.s.Targets {
		if !g.p.GovernsTarget(t) {
			continue
		}
		for _, c := range t.Connections {
			if c.PrivateEndpointID == "" || (g.s.OnlyEndpoint != "" && !core.SameID(c.PrivateEndpointID, g.s.OnlyEndpoint)) {
				continue
			}
			if c.Status == core.StatusPending || c.Status == core.StatusApproved {
				if _, done := g.s.Endpoint(c.PrivateEndpointID); !done {
					eps = append(eps, c.PrivateEndpointID)
				}
			}
		}
	}
	g.prefetch(ctx, eps, func(ctx context.Context, id string) { _, _ = g.m.endpoint(ctx, id) })
	var vns []string
	seen := map[string]bool{}
	for _, id := range eps {
		if ep, err := g.m.endpoint(ctx, id); err == nil && ep.VNetID != "" && !seen[core.IDKey(ep.VNetID)] {
			seen[core.IDKey(ep.VNetID)] = true
			vns = append(vns, ep.VNetID)
		}
	}
	g.prefetch(ctx, vns, func(ctx context.Context, id string) { _, _ = g.m.vnet(ctx, id) })
	for _, t := range g.s.Targets {
		if !g.p.GovernsTarget(t) {
			continue
		}
		for _, c := range t.Connections {
			if g.s.OnlyEndpoint != "" && !core.SameID(c.PrivateEndpointID, g.s.OnlyEndpoint) {
				continue
			}
			if c.Status != core.StatusPending && c.Status != core.StatusApproved {
				continue
			}
			if err := g.readEndpoint(ctx, c.PrivateEndpointID); err != nil {
				return err
			}
		}
	}
	_, approved, _ := decideConnections(g.s, g.p)
	if len(approved) == 0 {
		return nil
	}
	// The zones' links first: a peer already linked in every managed zone
	// its endpoint's target needs (core.DNSTable) needs nothing (peers are linked, never updated, by the DNS flow), so
	// it is not read.
	if err := g.listLinks(ctx, ""); err != nil {
		return err
	}
	if g.p.LinkPeeredVNets() {
		for _, ae := range approved {
			es, _ := g.s.Endpoint(ae.endpointID)
			if es.Endpoint == nil {
				continue
			}
			vs, _ := g.s.VNet(es.Endpoint.VNetID)
			if vs.VNet == nil {
				continue
			}
			need := neededManaged(g.s, g.p, ae)
			for _, peer := range activePeers(*vs.VNet) {
				if linkedIn(g.s, need, peer, false) {
					continue
				}
				if err := g.readVNet(ctx, peer); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// linkedEverywhere reports whether vnetID has a link in every managed zone
// (all of them listed in s). With unmanagedOnly, only links the autopilot
// does not own count: those it never updates, so no link rule can ask for
// a change.
func linkedEverywhere(s State, p Policy, vnetID string, unmanagedOnly bool) bool {
	return linkedIn(s, p.Zones(), vnetID, unmanagedOnly)
}

func (g *gatherer) readEndpoint(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if _, ok := g.s.Endpoint(id); ok {
		if es, _ := g.s.Endpoint(id); es.Endpoint != nil && es.Endpoint.VNetID != "" {
			return g.readVNet(ctx, es.Endpoint.VNetID)
		}
		return nil
	}
	ep, err := g.m.endpoint(ctx, id)
	if bad, why := unreadable(err); bad {
		g.s.Endpoints[core.IDKey(id)] = EndpointState{Problem: why}
		return nil
	}
	if err != nil {
		return fmt.Errorf("gather: read endpoint of connection: %w", err)
	}
	g.s.Endpoints[core.IDKey(id)] = EndpointState{Endpoint: &ep}
	if ep.VNetID != "" {
		return g.readVNet(ctx, ep.VNetID)
	}
	return nil
}

func (g *gatherer) readVNet(ctx context.Context, id string) error {
	if _, ok := g.s.VNet(id); ok {
		return nil
	}
	v, err := g.m.vnet(ctx, id)
	if bad, why := unreadable(err); bad {
		g.s.VNets[core.IDKey(id)] = VNetState{Gone: core.IsNotFound(err), Problem: why}
		return nil
	}
	if err != nil {
		return fmt.Errorf("gather: read vnet: %w", err)
	}
	g.s.VNets[core.IDKey(id)] = VNetState{VNet: &v}
	return nil
}

// listLinks lists the VNet links of every managed zone (or of only one).
func (g *gatherer) listLinks(ctx context.Context, only string) error {
	for _, z := range g.p.Zones() {
		if only != "" && !core.SameID(z.ID, only) {
			continue
		}
		links, err := g.m.links(ctx, z.ID)
		if err != nil {
			return fmt.Errorf("gather links of zone %s: %w", z.Name, err)
		}
		g.s.Links[core.IDKey(z.ID)] = links
	}
	return nil
}

func (g *gatherer) vnet(ctx context.Context, job jobs.Job) error {
	id := job.TargetID
	v, err := g.m.vnet(ctx, id)
	if core.IsNotFound(err) {
		g.s.SubjectGone = true
		g.s.VNets[core.IDKey(id)] = VNetState{Gone: true, Problem: "not found"}
		if g.p.RemoveOwnLinksOnVNetDelete() {
			return g.listLinks(ctx, "")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("gather vnet: %w", err)
	}
	if job.Deleted {
		g.note("VNet %s was reported deleted but exists: treated as live (events arrive out of order)", v.Name)
	}
	g.s.VNets[core.IDKey(id)] = VNetState{VNet: &v}
	g.s.Candidates = append(g.s.Candidates, v.ID)
	if err := g.listLinks(ctx, ""); err != nil {
		return err
	}
	// The remote side of every peering is a candidate too: a new peering may
	// make it match a link rule. A peer linked in every managed zone is not
	// read: a new peering cannot make it need a link, and bringing an owned
	// link's settings in line with a changed rule is left to the peer's own
	// VNet jobs (a hub with hundreds of linked spokes would otherwise read
	// every spoke on each of its peering events).
	var unread []string
	for _, peer := range activePeers(v) {
		if linkedEverywhere(g.s, g.p, peer, false) {
			g.s.Candidates = append(g.s.Candidates, peer)
			continue
		}
		unread = append(unread, peer)
	}
	// A hub with many peers to look at: each of them gets a reconcile job of
	// its own instead, so their reads and writes run in parallel across
	// workers and this job stays short (well inside the message lock and the
	// function timeout) however many spokes the hub has.
	if len(unread) > PeerFanOut {
		g.s.FanOutVNets = unread
	} else {
		for _, peer := range unread {
			g.s.Candidates = append(g.s.Candidates, peer)
			if err := g.readVNet(ctx, peer); err != nil {
				return err
			}
		}
	}
	// A peering written next to an endpoint's VNet must get the peer linked
	// (LinkPeeredVNets). Which VNets host governed endpoints is known only
	// from the targets' connections, so a peering job asks the governed
	// targets with approved connections to reconcile again (idempotent,
	// reads only when converged). Only when some VNet of the peering is not
	// linked in every managed zone (otherwise no link can be missing), and
	// only targets with an approved endpoint in the subscription of such a
	// VNet or of one of its peers (a private endpoint is always in its
	// VNet's subscription).
	if g.p.LinkPeeredVNets() && len(v.Peerings) > 0 && job.EffectiveTrigger() == jobs.TriggerPeering {
		subs := map[string]bool{}
		near := func(vn core.VNet) {
			subs[strings.ToLower(core.SubscriptionOf(vn.ID))] = true
			for _, p := range activePeers(vn) {
				subs[strings.ToLower(core.SubscriptionOf(p))] = true
			}
		}
		if !linkedEverywhere(g.s, g.p, v.ID, false) {
			near(v)
		}
		for _, peer := range activePeers(v) {
			if linkedEverywhere(g.s, g.p, peer, false) {
				continue
			}
			subs[strings.ToLower(core.SubscriptionOf(peer))] = true
			subs[strings.ToLower(core.SubscriptionOf(v.ID))] = true
			if ps, ok := g.s.VNet(peer); ok && ps.VNet != nil {
				near(*ps.VNet)
			}
		}
		if len(subs) == 0 {
			return nil
		}
		return g.followUpTargets(ctx, subs)
	}
	return nil
}

// followUpTargets lists the governed targets with approved connections in
// every governed subscription; with subs, only those with an approved
// endpoint in one of these subscriptions (lower case).
func (g *gatherer) followUpTargets(ctx context.Context, subs map[string]bool) error {
	for _, sub := range g.p.Subscriptions() {
		ts, err := g.m.targets(ctx, sub)
		if bad, why := unreadable(err); bad {
			g.note("targets of subscription %s: %s", sub, why)
			continue
		}
		if err != nil {
			return fmt.Errorf("gather targets of subscription %s: %w", sub, err)
		}
		for _, t := range ts {
			if !g.p.GovernsTarget(t) {
				continue
			}
			for _, c := range t.Connections {
				if c.Status == core.StatusApproved && (subs == nil || subs[strings.ToLower(core.SubscriptionOf(c.PrivateEndpointID))]) {
					g.s.FollowUpTargets = append(g.s.FollowUpTargets, t.ID)
					break
				}
			}
		}
	}
	return nil
}

func (g *gatherer) zone(ctx context.Context, zoneID string) error {
	managed := false
	for _, z := range g.p.Zones() {
		if core.SameID(z.ID, zoneID) {
			managed = true
		}
	}
	if !managed {
		g.note("zone %s is not managed by the policy: nothing to do", zoneID)
		return nil
	}
	g.s.OnlyZone = zoneID
	if err := g.listLinks(ctx, zoneID); err != nil {
		return err
	}
	for _, sub := range g.p.Subscriptions() {
		vs, err := g.m.vnets(ctx, sub)
		if bad, why := unreadable(err); bad {
			g.note("VNets of subscription %s: %s", sub, why)
			continue
		}
		if err != nil {
			return fmt.Errorf("gather vnets of subscription %s: %w", sub, err)
		}
		for i := range vs {
			v := vs[i]
			g.s.VNets[core.IDKey(v.ID)] = VNetState{VNet: &v}
			g.s.Candidates = append(g.s.Candidates, v.ID)
		}
	}
	return g.followUpTargets(ctx, nil)
}
