package loadtest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// Spec sizes a generated landing zone.
type Spec struct {
	// Workspaces is the number of governed Health Data Services workspaces
	// (each in the platform subscription, at most 100 connections each).
	Workspaces int `json:"workspaces"`
	// Spokes is the number of spoke VNets peered to the hub, each in its own
	// landing-zone subscription (subscription vending: one spoke per
	// subscription), all of them allowed by the policy.
	Spokes int `json:"spokes"`
	// Requests is the number of endpoint requests from allowed (landing
	// zone) subscriptions: each must end Approved. They are spread round
	// robin over the spokes (so every spoke hosts at least one endpoint when
	// Requests >= Spokes) and over the workspaces.
	Requests int `json:"requests"`
	// UnknownRequests come from subscriptions the policy does not know: each
	// must end Rejected. Each has its own VNet (not peered, never linked).
	UnknownRequests int `json:"unknownRequests"`
	// DuplicateRate is the share of events delivered twice (half as Event
	// Grid redeliveries with the same event id, half as a second write event
	// for the same resource with a new id).
	DuplicateRate float64 `json:"duplicateRate"`
	// Reorder shuffles the whole event stream (otherwise IaC order: spokes
	// and peerings first, then endpoints).
	Reorder bool `json:"reorder"`
	// DropRate is the share of events lost for good; only the sweep
	// recovers what they would have triggered.
	DropRate float64 `json:"dropRate"`
	Seed     uint64  `json:"seed"`
}

// FullSpec is the full size: 1,000 approvals and 500 spoke links
// (plus 100 rejections).
func FullSpec() Spec {
	return Spec{Workspaces: 20, Spokes: 500, Requests: 1000, UnknownRequests: 100, DuplicateRate: 0.10, Reorder: true, DropRate: 0.05, Seed: 1}
}

// ZoneName is the private DNS zone of the generated landing zone: the one
// the workspaces' FHIR names ({ws}-fhir.fhir.azurehealthcareapis.com)
// resolve through, per the private DNS table. The workspace and dicom zones
// are not generated: each approved endpoint gets a DNS finding for them (an
// observation, no write).
var ZoneName = func() string {
	for _, z := range core.ZonesForKind(core.TargetWorkspace) {
		if z.Service == core.DNSServiceFHIR {
			return z.Zone
		}
	}
	panic("loadtest: the private DNS table has no workspace FHIR zone")
}()

// Fixed names of the generated landing zone.
const (
	PlatformSubscription     = "00000000-0000-4000-8000-0000000000aa" // FHIR workspaces (governed)
	ConnectivitySubscription = "00000000-0000-4000-8000-0000000000cc" // hub VNet and private DNS zone
	HubVNetName              = "hub-vnet"
	HubLinkName              = "hub-vnet-link" // the unmanaged link that must never be touched
	RuleApprove              = "allow-landing-zones"
	RuleReject               = "reject-unknown-subscriptions"
	RuleLinkHubPeers         = "peered-with-hub"
	tenantID                 = "00000000-0000-4000-8000-0000000000ff"
)

// Load is a generated landing zone: the starting sandbox state, the event
// stream, the policy and what the policy says the end state must be.
type Load struct {
	Spec     Spec
	Scenario *sandbox.Scenario
	// Events are Event Grid deliveries (each a JSON array holding one event),
	// in delivery order, after duplication, reordering and drops.
	Events [][]byte
	// Policy is the policy file (YAML) consistent with the scenario.
	Policy   string
	Expected Expected
	// EventCounts: generated (before duplicates and drops), duplicated,
	// dropped.
	Generated, Duplicated, Dropped int
}

// Expected is the end state the policy asks for, computed from the
// generator's own knowledge (not by asking the reconciler or the policy
// engine).
type Expected struct {
	// Connections maps a connection id (IDKey) to its wanted decision.
	Connections map[string]ExpectedConnection `json:"connections"`
	// LinkedVNets must each carry exactly one link to the zone (created by
	// the autopilot unless listed in UnmanagedLinks).
	LinkedVNets []string `json:"linkedVnets"`
	// UnlinkedVNets must carry no link to the zone.
	UnlinkedVNets []string `json:"unlinkedVnets"`
	// UnmanagedLinks are links the autopilot does not own, with their JSON
	// as generated: they must be unchanged at the end.
	UnmanagedLinks map[string]json.RawMessage `json:"unmanagedLinks"`
	// ZoneGroupEndpoints must end with a zone group covering ZoneID.
	ZoneGroupEndpoints []string `json:"zoneGroupEndpoints"`
	ZoneID             string   `json:"zoneId"`
	// AllowedSubscriptions are the subscriptions a rule approves.
	AllowedSubscriptions []string `json:"allowedSubscriptions"`
}

// ExpectedConnection is the wanted end of one pending connection.
type ExpectedConnection struct {
	ID         string                `json:"id"`
	EndpointID string                `json:"endpointId"`
	Status     core.ConnectionStatus `json:"status"`
	Rule       string                `json:"rule"`
}

// Writes is the minimum number of ARM writes the expected end state needs,
// per subscription: one per decided connection (target subscription), one
// per link (zone subscription), one per zone group (endpoint subscription).
func (e Expected) Writes() map[string]int {
	w := map[string]int{}
	for _, c := range e.Connections {
		w[strings.ToLower(core.SubscriptionOf(c.ID))]++
	}
	for range e.LinkedVNets {
		w[strings.ToLower(core.SubscriptionOf(e.ZoneID))]++
	}
	w[strings.ToLower(core.SubscriptionOf(e.ZoneID))] -= len(e.UnmanagedLinks)
	for _, ep := range e.ZoneGroupEndpoints {
		w[strings.ToLower(core.SubscriptionOf(ep))]++
	}
	return w
}

// Changes is the total number of changes: decisions, links and zone groups.
func (e Expected) Changes() int {
	n := 0
	for _, v := range e.Writes() {
		n += v
	}
	return n
}

func spokeSub(i int) string   { return fmt.Sprintf("00000000-0000-4000-8001-%012x", i+1) }
func unknownSub(i int) string { return fmt.Sprintf("00000000-0000-4000-8002-%012x", i+1) }

func rid(sub, rg, provider string) string {
	return "/subscriptions/" + sub + "/resourceGroups/" + rg + "/providers/" + provider
}

// Validate checks a Spec and names the offending field.
func (s Spec) Validate() error {
	switch {
	case s.Workspaces < 1:
		return fmt.Errorf("spec: workspaces is %d (want at least 1)", s.Workspaces)
	case s.Spokes < 1:
		return fmt.Errorf("spec: spokes is %d (want at least 1)", s.Spokes)
	case s.Requests < 0 || s.UnknownRequests < 0:
		return fmt.Errorf("spec: requests %d and unknown requests %d must not be negative", s.Requests, s.UnknownRequests)
	case (s.Requests+s.UnknownRequests+s.Workspaces-1)/s.Workspaces > 100:
		return fmt.Errorf("spec: %d requests over %d workspaces exceed ARM's 100 connections per workspace", s.Requests+s.UnknownRequests, s.Workspaces)
	case s.DuplicateRate < 0 || s.DuplicateRate > 1 || s.DropRate < 0 || s.DropRate >= 1:
		return fmt.Errorf("spec: duplicate rate %v must be in [0,1] and drop rate %v in [0,1)", s.DuplicateRate, s.DropRate)
	}
	return nil
}

// Generate builds the landing zone of s.
func Generate(s Spec) (*Load, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	g := &gen{rng: rand.New(rand.NewPCG(s.Seed, 0x10ad)), t0: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)}
	ld := &Load{Spec: s}
	exp := Expected{Connections: map[string]ExpectedConnection{}, UnmanagedLinks: map[string]json.RawMessage{}}

	hubID := rid(ConnectivitySubscription, "rg-hub-network", "Microsoft.Network/virtualNetworks/"+HubVNetName)
	zoneID := rid(ConnectivitySubscription, "rg-dns", "Microsoft.Network/privateDnsZones/"+ZoneName)
	exp.ZoneID = zoneID

	// workspaces, filled with connections below
	type ws struct {
		id, name string
		conns    []map[string]any
	}
	wss := make([]*ws, s.Workspaces)
	for i := range wss {
		name := fmt.Sprintf("health-ws%03d", i+1)
		wss[i] = &ws{id: rid(PlatformSubscription, "rg-health", "Microsoft.HealthcareApis/workspaces/"+name), name: name}
	}

	// spokes
	hubPeerings := []map[string]any{}
	spokeVNets := make([]string, s.Spokes)
	for i := 0; i < s.Spokes; i++ {
		sub := spokeSub(i)
		name := fmt.Sprintf("spoke%03d-vnet", i+1)
		id := rid(sub, "rg-network", "Microsoft.Network/virtualNetworks/"+name)
		spokeVNets[i] = id
		prefix := fmt.Sprintf("10.%d.%d.0/24", 1+i/256, i%256)
		peerName := name + "-to-hub"
		g.add(vnetBody(id, name, prefix, []map[string]any{peering(id+"/virtualNetworkPeerings/"+peerName, peerName, hubID, "10.0.0.0/16")}))
		hp := "hub-to-" + name
		hubPeerings = append(hubPeerings, peering(hubID+"/virtualNetworkPeerings/"+hp, hp, id, prefix))
		exp.LinkedVNets = append(exp.LinkedVNets, id)
		exp.AllowedSubscriptions = append(exp.AllowedSubscriptions, sub)
		g.event(id, "Microsoft.Network/virtualNetworks/write", sub, 0)
		g.event(id+"/virtualNetworkPeerings/"+peerName, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write", sub, 0)
		g.event(hubID+"/virtualNetworkPeerings/"+hp, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write", ConnectivitySubscription, 0)
	}
	g.add(vnetBody(hubID, HubVNetName, "10.0.0.0/16", hubPeerings))
	exp.LinkedVNets = append(exp.LinkedVNets, hubID)

	// zone and the hub's unmanaged link
	g.add(map[string]any{"id": zoneID, "name": ZoneName, "type": core.TypePrivateDNSZone, "location": "global",
		"etag": "zone-etag-1", "properties": map[string]any{"provisioningState": "Succeeded", "maxNumberOfVirtualNetworkLinks": 1000}})
	hubLinkID := zoneID + "/virtualNetworkLinks/" + HubLinkName
	hubLink := map[string]any{"id": hubLinkID, "name": HubLinkName, "type": core.TypeVirtualNetworkLink, "location": "global",
		"etag": `"hub-link-etag-1"`, "tags": map[string]any{"owner": "platform"},
		"properties": map[string]any{"provisioningState": "Succeeded", "virtualNetwork": map[string]any{"id": hubID},
			"registrationEnabled": false, "resolutionPolicy": "Default", "virtualNetworkLinkState": "Completed"}}
	g.add(hubLink)
	hb, _ := json.Marshal(hubLink)
	exp.UnmanagedLinks[core.IDKey(hubLinkID)] = hb

	// requests
	total := s.Requests + s.UnknownRequests
	for k := 0; k < total; k++ {
		allowed := k < s.Requests
		w := wss[k%len(wss)]
		var sub, vnetID, subnetID, name string
		if allowed {
			i := k % s.Spokes
			sub, vnetID = spokeSub(i), spokeVNets[i]
			name = fmt.Sprintf("pe-%s-%04d", core.NameOf(vnetID), k+1)
		} else {
			u := k - s.Requests
			sub = unknownSub(u)
			vname := fmt.Sprintf("other%03d-vnet", u+1)
			vnetID = rid(sub, "rg-other", "Microsoft.Network/virtualNetworks/"+vname)
			g.add(vnetBody(vnetID, vname, "192.168.0.0/24", nil))
			exp.UnlinkedVNets = append(exp.UnlinkedVNets, vnetID)
			name = fmt.Sprintf("pe-other-%04d", u+1)
		}
		subnetID = vnetID + "/subnets/snet-endpoints"
		rg := "rg-network"
		if !allowed {
			rg = "rg-other"
		}
		epID := rid(sub, rg, "Microsoft.Network/privateEndpoints/"+name)
		connName := fmt.Sprintf("%s.%08x-0000-4000-8000-%012x", name, g.rng.Uint32(), k+1)
		connID := w.id + "/privateEndpointConnections/" + connName
		ip := fmt.Sprintf("10.%d.%d.%d", 1+(k%s.Spokes)/256, (k%s.Spokes)%256, 4+k/s.Spokes)
		if !allowed {
			ip = "192.168.0.4"
		}
		fqdn := w.name + "-fhir.fhir.azurehealthcareapis.com"
		g.add(map[string]any{"id": epID, "name": name, "type": core.TypePrivateEndpoint, "location": "westeurope",
			"properties": map[string]any{
				"provisioningState":             "Succeeded",
				"subnet":                        map[string]any{"id": subnetID},
				"privateLinkServiceConnections": []any{},
				"manualPrivateLinkServiceConnections": []any{map[string]any{
					"id": epID + "/manualPrivateLinkServiceConnections/" + name, "name": name,
					"type": "Microsoft.Network/privateEndpoints/manualPrivateLinkServiceConnections",
					"properties": map[string]any{"provisioningState": "Succeeded", "privateLinkServiceId": w.id,
						"groupIds": []any{"healthcareworkspace"}, "requestMessage": "load test request",
						"privateLinkServiceConnectionState": map[string]any{"status": "Pending", "description": "Awaiting approval", "actionsRequired": "None"}},
				}},
				"customDnsConfigs": []any{map[string]any{"fqdn": fqdn, "ipAddresses": []any{ip}}},
			}})
		w.conns = append(w.conns, map[string]any{"id": connID, "name": connName, "type": core.TypeWorkspace + "/privateEndpointConnections",
			"properties": map[string]any{"privateEndpoint": map[string]any{"id": epID},
				"privateLinkServiceConnectionState": map[string]any{"status": "Pending", "description": "load test request", "actionsRequired": "None"},
				"provisioningState":                 "Succeeded"}})
		ec := ExpectedConnection{ID: connID, EndpointID: epID, Status: core.StatusRejected, Rule: RuleReject}
		if allowed {
			ec.Status, ec.Rule = core.StatusApproved, RuleApprove
			exp.ZoneGroupEndpoints = append(exp.ZoneGroupEndpoints, epID)
		}
		exp.Connections[core.IDKey(connID)] = ec
		g.event(epID, "Microsoft.Network/privateEndpoints/write", sub, 1)
		g.event(w.id+"/privateEndpointConnectionProxies/"+connName, "Microsoft.HealthcareApis/workspaces/privateEndpointConnectionProxies/write", sub, 1)
	}
	for _, w := range wss {
		conns := make([]any, len(w.conns))
		for i, c := range w.conns {
			conns[i] = c
		}
		g.add(map[string]any{"id": w.id, "name": w.name, "type": core.TypeWorkspace, "location": "westeurope",
			"properties": map[string]any{"provisioningState": "Succeeded", "publicNetworkAccess": "Enabled", "privateEndpointConnections": conns}})
		fid := w.id + "/fhirservices/fhir"
		g.add(map[string]any{"id": fid, "name": w.name + "/fhir", "type": core.TypeFHIRService, "location": "westeurope", "kind": "fhir-R4",
			"properties": map[string]any{"provisioningState": "Succeeded", "publicNetworkAccess": "Enabled"}})
	}

	sc := &sandbox.Scenario{}
	for _, r := range g.resources {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("generate: marshal %v: %w", r["id"], err)
		}
		sc.Resources = append(sc.Resources, b)
	}
	ld.Scenario = sc
	ld.Events, ld.Generated, ld.Duplicated, ld.Dropped = g.stream(s)
	ld.Policy = policyYAML(exp.AllowedSubscriptions, zoneID)
	sort.Strings(exp.LinkedVNets)
	ld.Expected = exp
	return ld, nil
}

type genEvent struct {
	resourceID, op, sub string
	phase               int // 0: network rollout, 1: endpoint requests
	seq                 int
}

type gen struct {
	rng       *rand.Rand
	t0        time.Time
	resources []map[string]any
	evs       []genEvent
}

func (g *gen) add(r map[string]any) { g.resources = append(g.resources, r) }

func (g *gen) event(id, op, sub string, phase int) {
	g.evs = append(g.evs, genEvent{resourceID: id, op: op, sub: sub, phase: phase, seq: len(g.evs)})
}

// stream renders the events with duplicates, reordering and drops.
func (g *gen) stream(s Spec) (out [][]byte, generated, duplicated, dropped int) {
	type delivery struct {
		ev genEvent
		id string
	}
	var ds []delivery
	for i, e := range g.evs {
		id := fmt.Sprintf("%08x-0000-4000-9000-%012x", g.rng.Uint32(), i+1)
		ds = append(ds, delivery{e, id})
	}
	generated = len(ds)
	n := len(ds)
	for i := 0; i < n; i++ {
		if g.rng.Float64() >= s.DuplicateRate {
			continue
		}
		d := ds[i]
		if duplicated%2 == 1 { // a second write event for the same resource
			d.id = fmt.Sprintf("%08x-0000-4000-9001-%012x", g.rng.Uint32(), i+1)
		}
		ds = append(ds, d) // redeliveries come later
		duplicated++
	}
	if s.Reorder {
		g.rng.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	} else {
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].ev.phase < ds[j].ev.phase })
	}
	for i, d := range ds {
		if g.rng.Float64() < s.DropRate {
			dropped++
			continue
		}
		out = append(out, eventJSON(d.ev, d.id, g.t0.Add(time.Duration(i)*10*time.Millisecond)))
	}
	return out, generated, duplicated, dropped
}

func eventJSON(e genEvent, id string, at time.Time) []byte {
	ev := []map[string]any{{
		"subject":   e.resourceID,
		"eventType": "Microsoft.Resources.ResourceWriteSuccess",
		"eventTime": at.Format(time.RFC3339Nano),
		"id":        id,
		"data": map[string]any{
			"authorization":    map[string]any{"scope": e.resourceID, "action": e.op},
			"claims":           map[string]any{"appid": "iac-pipeline", "http://schemas.microsoft.com/identity/claims/objectidentifier": "11111111-2222-4333-8444-555555555501", "http://schemas.microsoft.com/identity/claims/tenantid": tenantID},
			"correlationId":    "corr-" + id,
			"resourceProvider": strings.SplitN(e.op, "/", 2)[0],
			"resourceUri":      e.resourceID,
			"operationName":    e.op,
			"status":           "Succeeded",
			"subscriptionId":   core.SubscriptionOf(e.resourceID),
			"tenantId":         tenantID,
		},
		"dataVersion":     "2",
		"metadataVersion": "1",
		"topic":           "/subscriptions/" + core.SubscriptionOf(e.resourceID),
	}}
	b, _ := json.Marshal(ev) // maps of strings always marshal
	return b
}

func vnetBody(id, name, prefix string, peerings []map[string]any) map[string]any {
	ps := make([]any, len(peerings))
	for i, p := range peerings {
		ps[i] = p
	}
	sub := prefix
	return map[string]any{"id": id, "name": name, "type": core.TypeVirtualNetwork, "location": "westeurope",
		"properties": map[string]any{"provisioningState": "Succeeded",
			"addressSpace": map[string]any{"addressPrefixes": []any{prefix}},
			"subnets": []any{map[string]any{"id": id + "/subnets/snet-endpoints", "name": "snet-endpoints",
				"type": "Microsoft.Network/virtualNetworks/subnets", "properties": map[string]any{"addressPrefix": sub, "provisioningState": "Succeeded"}}},
			"virtualNetworkPeerings": ps}}
}

func peering(id, name, remote, remotePrefix string) map[string]any {
	return map[string]any{"id": id, "name": name, "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
		"properties": map[string]any{"provisioningState": "Succeeded", "peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
			"allowVirtualNetworkAccess": true, "remoteVirtualNetwork": map[string]any{"id": remote},
			"remoteAddressSpace": map[string]any{"addressPrefixes": []any{remotePrefix}}}}
}

func policyYAML(allowed []string, zoneID string) string {
	var list strings.Builder
	for i, s := range allowed {
		if i > 0 {
			list.WriteString(", ")
		}
		fmt.Fprintf(&list, "%q", strings.ToLower(s))
	}
	return fmt.Sprintf(`apiVersion: autopilot.plautopilot.io/v1
mode: enforce
targets:
  subscriptions: [%s]
  allOfType: [workspaces]
zones:
  - %s
connectionRules:
  - name: %s
    when: 'endpoint.subscriptionId in [%s]'
    decision: approve
    description: Approved for an onboarded landing-zone subscription.
  - name: %s
    when: '!(endpoint.subscriptionId in [%s])'
    decision: reject
    description: Subscription not onboarded for FHIR private access.
defaultDecision: pending
linkRules:
  - name: %s
    when: '"%s" in vnet.peeredVnetNames'
    zones: [%s]
linkEndpointVNets: true
linkPeeredVNets: true
removeOwnLinksOnVNetDelete: true
zoneGroups:
  enabled: true
  name: default
verification:
  delay: 5m
`, PlatformSubscription, zoneID, RuleApprove, list.String(), RuleReject, list.String(), RuleLinkHubPeers, HubVNetName, ZoneName)
}
