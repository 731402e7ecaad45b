package autopilot_test

import (
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files of the estate page")

// The fixed estate: a workspace with an approved connection from a spoke
// (peered with the hub and with a second spoke that is not linked), one
// pending and one rejected; a legacy service auto-approved from the hub.
const (
	fxSubA   = "00000000-0000-0000-0000-0000000000aa"
	fxSubB   = "00000000-0000-0000-0000-0000000000bb"
	fxWS     = "/subscriptions/" + fxSubA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	fxSvc    = "/subscriptions/" + fxSubA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	fxHub    = "/subscriptions/" + fxSubA + "/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	fxSpoke  = "/subscriptions/" + fxSubB + "/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	fxSpoke2 = "/subscriptions/" + fxSubB + "/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/spoke-batch-vnet"
	fxPEApp  = "/subscriptions/" + fxSubB + "/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
	fxPENew  = "/subscriptions/" + fxSubB + "/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-new-team"
	fxPEUnk  = "/subscriptions/00000000-0000-0000-0000-0000000000cc/resourceGroups/rg-other/providers/Microsoft.Network/privateEndpoints/pe-unknown"
	fxPEHub  = "/subscriptions/" + fxSubA + "/resourceGroups/rg-hub/providers/Microsoft.Network/privateEndpoints/pe-hub-fhirserverxxx"
	fxZones  = "/subscriptions/" + fxSubA + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/"
)

var fxPolicy = `apiVersion: autopilot.plautopilot.io/v1
mode: enforce
targets:
  subscriptions: [` + fxSubA + `]
  allOfType: [workspaces, services]
zones:
  - ` + fxZones + `privatelink.azurehealthcareapis.com
  - ` + fxZones + `privatelink.workspace.azurehealthcareapis.com
  - ` + fxZones + `privatelink.fhir.azurehealthcareapis.com
connectionRules:
  - name: allow-app-subscriptions
    when: endpoint.subscriptionId == "` + fxSubB + `"
    decision: approve
    description: Approved by the platform team policy.
  - name: reject-unknown-subscriptions
    when: '!(endpoint.subscriptionId in ["` + fxSubA + `", "` + fxSubB + `"])'
    decision: reject
    description: Subscription not onboarded.
defaultDecision: pending
`

// fakeReader serves a fixed state; it counts nothing and writes nothing.
type fakeReader struct {
	targets   []core.Target
	endpoints map[string]core.Endpoint
	vnets     map[string]core.VNet
	links     map[string][]core.VNetLink // by zone id
}

func notFound(op, id string) error {
	return &core.Error{Class: core.NotFound, Op: op, StatusCode: 404, Code: "NotFound", Err: os.ErrNotExist}
}

func (f *fakeReader) GetTarget(_ context.Context, id string) (core.Target, error) {
	for _, t := range f.targets {
		if core.SameID(t.ID, id) {
			return t, nil
		}
	}
	return core.Target{}, notFound("get target", id)
}
func (f *fakeReader) ListTargets(_ context.Context, sub string) ([]core.Target, error) {
	var out []core.Target
	for _, t := range f.targets {
		if strings.EqualFold(core.SubscriptionOf(t.ID), sub) {
			out = append(out, t)
		}
	}
	return out, nil
}
func (f *fakeReader) GetEndpoint(_ context.Context, id string) (core.Endpoint, error) {
	if e, ok := f.endpoints[id]; ok {
		return e, nil
	}
	return core.Endpoint{}, notFound("get endpoint", id)
}
func (f *fakeReader) GetVNet(_ context.Context, id string) (core.VNet, error) {
	if v, ok := f.vnets[id]; ok {
		return v, nil
	}
	return core.VNet{}, notFound("get vnet", id)
}
func (f *fakeReader) ListVNets(context.Context, string) ([]core.VNet, error) { return nil, nil }
func (f *fakeReader) ListVNetLinks(_ context.Context, zoneID string) ([]core.VNetLink, error) {
	return f.links[zoneID], nil
}
func (f *fakeReader) ListARecords(context.Context, string) ([]core.ARecord, error) { return nil, nil }

func link(zone, vnet, name string, managed bool) core.VNetLink {
	l := core.VNetLink{ID: fxZones + zone + "/virtualNetworkLinks/" + name, Name: name, ZoneID: fxZones + zone, VNetID: vnet, State: "Completed"}
	if managed {
		l.Tags = map[string]string{core.OwnerTagKey: core.OwnerTagValue}
	}
	return l
}

func fixedEstate(t *testing.T) (*fakeReader, *policy.Policy, autopilot.Records, time.Time) {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(fxPolicy))
	if err != nil {
		t.Fatal(err)
	}
	conn := func(target, pe, status, desc string) core.Connection {
		name := core.NameOf(pe) + ".1234"
		return core.Connection{ID: target + "/privateEndpointConnections/" + name, Name: name, TargetID: target,
			PrivateEndpointID: pe, Status: core.ConnectionStatus(status), Description: desc}
	}
	r := &fakeReader{
		targets: []core.Target{
			{ID: fxWS, Kind: core.TargetWorkspace, Name: "contoso-health", SubscriptionID: fxSubA, PublicNetworkAccess: "Disabled",
				FQDNs: []string{"contoso-health-patients.fhir.azurehealthcareapis.com"},
				Connections: []core.Connection{
					conn(fxWS, fxPEApp, "Approved", "Approved by the platform team policy."),
					conn(fxWS, fxPENew, "Pending", "new team"),
					conn(fxWS, fxPEUnk, "Rejected", "Subscription not onboarded."),
				}},
			{ID: fxSvc, Kind: core.TargetService, Name: "fhirserverxxx", SubscriptionID: fxSubA, PublicNetworkAccess: "Disabled",
				FQDNs:       []string{"fhirserverxxx.azurehealthcareapis.com"},
				Connections: []core.Connection{conn(fxSvc, fxPEHub, "Approved", "Auto-Approved")}},
		},
		endpoints: map[string]core.Endpoint{
			fxPEApp: {ID: fxPEApp, Name: "pe-app-fhir", SubscriptionID: fxSubB, VNetID: fxSpoke},
			fxPENew: {ID: fxPENew, Name: "pe-new-team", SubscriptionID: fxSubB, VNetID: fxSpoke2},
			fxPEHub: {ID: fxPEHub, Name: "pe-hub-fhirserverxxx", SubscriptionID: fxSubA, VNetID: fxHub},
		},
		vnets: map[string]core.VNet{
			fxSpoke: {ID: fxSpoke, Name: "spoke-app-vnet", Peerings: []core.Peering{
				{RemoteVNetID: fxHub, State: "Connected"}, {RemoteVNetID: fxSpoke2, State: "Connected"}}},
			fxSpoke2: {ID: fxSpoke2, Name: "spoke-batch-vnet"},
			fxHub:    {ID: fxHub, Name: "hub-vnet", Peerings: []core.Peering{{RemoteVNetID: fxSpoke, State: "Connected"}}},
		},
		links: map[string][]core.VNetLink{
			fxZones + "privatelink.azurehealthcareapis.com": {
				link("privatelink.azurehealthcareapis.com", fxHub, "hub-vnet-link", false),
				link("privatelink.azurehealthcareapis.com", fxSpoke, "autopilot-spoke-app-vnet-1", true)},
			fxZones + "privatelink.workspace.azurehealthcareapis.com": {
				link("privatelink.workspace.azurehealthcareapis.com", fxSpoke, "autopilot-spoke-app-vnet-1", true),
				link("privatelink.workspace.azurehealthcareapis.com", fxHub, "hub-ws", false)},
			fxZones + "privatelink.fhir.azurehealthcareapis.com": {
				link("privatelink.fhir.azurehealthcareapis.com", fxSpoke, "autopilot-spoke-app-vnet-1", true),
				link("privatelink.fhir.azurehealthcareapis.com", fxHub, "hub-fhir", false)},
		},
	}
	at := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	appConnID := r.targets[0].Connections[0].ID
	unkConnID := r.targets[0].Connections[2].ID
	rec := autopilot.Records{
		Outcomes: []outcome.Event{
			outcome.New(outcome.ConnectionApproved, appConnID, outcome.Data{Rule: "allow-app-subscriptions", Reason: `rule "allow-app-subscriptions" matched`,
				Description: "Approved by the platform team policy.", Result: outcome.ResultApplied, Target: fxWS}, at),
			outcome.New(outcome.ConnectionRejected, unkConnID, outcome.Data{Rule: "reject-unknown-subscriptions", Reason: `rule "reject-unknown-subscriptions" matched`,
				Description: "Subscription not onboarded.", Result: outcome.ResultApplied, Target: fxWS}, at),
		},
		Reports: []verify.Report{{
			Subject: verify.Subject{TargetID: fxWS}, StartedAt: at.Add(5 * time.Minute), Status: verify.StatusFail,
			Checks: []verify.CheckResult{
				{Name: "pe-app-fhir: dns contoso-health-patients.fhir.azurehealthcareapis.com from spoke-app-vnet (the endpoint's VNet)", Status: verify.StatusPass},
				{Name: "pe-app-fhir: dns contoso-health-patients.fhir.azurehealthcareapis.com from hub-vnet (peered with spoke-app-vnet)", Status: verify.StatusPass},
				{Name: "pe-app-fhir: dns contoso-health-patients.fhir.azurehealthcareapis.com from spoke-batch-vnet (peered with spoke-app-vnet)", Status: verify.StatusFail,
					Diagnosis: "public answer (trafficmanager.net, cloudapp.azure.com): spoke-batch-vnet is not linked to privatelink.fhir.azurehealthcareapis.com; a client there gets 403"},
			},
		}},
	}
	return r, p, rec, at.Add(10 * time.Minute)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./pkg/autopilot -run Estate -update to write it)", err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the golden file (-want +got; -update rewrites it):\n%s", name, d)
	}
}

func TestEstateFromFixedState(t *testing.T) {
	r, p, rec, now := fixedEstate(t)
	e := autopilot.BuildEstate(context.Background(), r, p, rec, now)

	if e.Health != autopilot.HealthRed || len(e.Targets) != 2 {
		t.Fatalf("estate health %s with %d targets; want red (an unlinked peer) with 2", e.Health, len(e.Targets))
	}
	ws, svc := e.Targets[1], e.Targets[0] // sorted by id: services < workspaces
	if ws.Name != "contoso-health" || svc.Name != "fhirserverxxx" {
		t.Fatalf("targets %s, %s", svc.Name, ws.Name)
	}
	// The workspace needs the workspace, fhir and dicom zones; the policy
	// manages two of them.
	if d := cmp.Diff([]string{"privatelink.fhir.azurehealthcareapis.com", "privatelink.workspace.azurehealthcareapis.com"}, ws.Zones); d != "" {
		t.Errorf("workspace zones (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"privatelink.dicom.azurehealthcareapis.com"}, ws.UnmanagedZones); d != "" {
		t.Errorf("unmanaged zones (-want +got):\n%s", d)
	}
	type connRow struct{ Status, Rule, Source, Requester string }
	var conns []connRow
	for _, c := range ws.Connections {
		conns = append(conns, connRow{c.Status, c.Rule, c.Source, c.RequesterSubscription})
	}
	wantConns := []connRow{
		{"Approved", "allow-app-subscriptions", "recorded", fxSubB},
		{"Pending", "allow-app-subscriptions", "policy", fxSubB}, // not decided yet: what the policy would say
		{"Rejected", "reject-unknown-subscriptions", "recorded", "00000000-0000-0000-0000-0000000000cc"},
	}
	if d := cmp.Diff(wantConns, conns); d != "" {
		t.Errorf("workspace connections (-want +got):\n%s", d)
	}
	if !strings.Contains(ws.Connections[0].Reason, `endpoint.subscriptionId == "`+fxSubB+`"`) {
		t.Errorf("approval reason %q does not say what the rule checks", ws.Connections[0].Reason)
	}
	type vnetRow struct {
		Name, Role string
		Links      string
		Verified   verify.Status
		Health     autopilot.Health
	}
	var vnets []vnetRow
	for _, v := range ws.VNets {
		var ls []string
		for _, l := range v.Links {
			ls = append(ls, l.State)
		}
		row := vnetRow{Name: v.Name, Role: v.Role, Links: strings.Join(ls, ","), Health: v.Health}
		if v.Verification != nil {
			row.Verified = v.Verification.Status
		}
		vnets = append(vnets, row)
	}
	wantVNets := []vnetRow{
		{"spoke-app-vnet", "endpoint", "linked,linked", verify.StatusPass, autopilot.HealthGreen},
		{"hub-vnet", "peer", "linked,linked", verify.StatusPass, autopilot.HealthGreen},
		{"spoke-batch-vnet", "peer", "unlinked,unlinked", verify.StatusFail, autopilot.HealthRed},
	}
	if d := cmp.Diff(wantVNets, vnets); d != "" {
		t.Errorf("workspace VNets (-want +got):\n%s", d)
	}
	if ws.Health != autopilot.HealthRed {
		t.Errorf("workspace health %s, want red", ws.Health)
	}
	// The legacy service: approved outside the autopilot, hub linked by
	// hand, never verified: amber, not green.
	if svc.Health != autopilot.HealthAmber || len(svc.VNets) != 2 || svc.VNets[0].Links[0].Owner != "other" {
		t.Errorf("service: health %s, vnets %+v; want amber (not verified), hub linked by someone else, spoke a peer", svc.Health, svc.VNets)
	}

	js, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "estate.golden.json", append(js, '\n'))
	page, err := autopilot.EstatePage(e)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "estate.golden.html", page)
	golden(t, "estate.golden.svg", []byte(autopilot.EstateSVG(e)))
}

func TestTargetsRoute(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.svc.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := jobs.Drain(ctx, e.svc.Reconcile, jobs.DrainOptions{Clock: e.clock}, e.store.Queue("reconcile")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e.svc.API())
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/api/targets")
	if err != nil {
		t.Fatal(err)
	}
	var est autopilot.Estate
	err = json.NewDecoder(resp.Body).Decode(&est)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /api/targets: %d, %v", resp.StatusCode, err)
	}
	var ws *autopilot.TargetState
	for i := range est.Targets {
		if core.SameID(est.Targets[i].ID, workspace) {
			ws = &est.Targets[i]
		}
	}
	if ws == nil {
		t.Fatalf("targets %+v lack the workspace %s", est.Targets, workspace)
	}
	status := map[string]autopilot.ConnectionState{}
	for _, c := range ws.Connections {
		status[core.NameOf(c.Endpoint)] = c
	}
	if c := status["pe-app-fhir"]; c.Status != "Approved" || c.Rule != "allow-app-subscriptions" || c.Source != "recorded" {
		t.Errorf("pe-app-fhir: %+v; want Approved by allow-app-subscriptions, recorded", c)
	}
	if c := status["pe-unknown"]; c.Status != "Rejected" || c.Rule != "reject-unknown-subscriptions" {
		t.Errorf("pe-unknown: %+v; want Rejected by reject-unknown-subscriptions", c)
	}
	// Every zone the workspace needs is listed, managed or not.
	if got, want := len(ws.Zones)+len(ws.UnmanagedZones), len(core.ZonesForKind(core.TargetWorkspace)); got != want {
		t.Errorf("workspace zones %v + unmanaged %v: %d, want the %d of Microsoft's table", ws.Zones, ws.UnmanagedZones, got, want)
	}
	// The legacy service's endpoint sits in the hub, linked by hand; the
	// spoke peered with it was linked by the autopilot during the sweep.
	var svc *autopilot.TargetState
	for i := range est.Targets {
		if est.Targets[i].Kind == string(core.TargetService) {
			svc = &est.Targets[i]
		}
	}
	if svc == nil || len(svc.Zones) == 0 {
		t.Fatalf("legacy service %+v: want it with its managed zone", svc)
	}
	roles := map[string]string{}
	for _, v := range svc.VNets {
		for _, l := range v.Links {
			roles[v.Name+" "+v.Role] = l.State + " by " + l.Owner
		}
	}
	if d := cmp.Diff(map[string]string{"hub-vnet endpoint": "linked by other", "spoke-app-vnet peer": "linked by autopilot"}, roles); d != "" {
		t.Errorf("legacy service VNets (-want +got):\n%s", d)
	}
	// The approved endpoint's VNet is listed with a link state in every
	// zone the workspace needs that the policy manages.
	var spoke *autopilot.VNetReach
	for i := range ws.VNets {
		if ws.VNets[i].Name == "spoke-app-vnet" {
			spoke = &ws.VNets[i]
		}
	}
	if spoke == nil || spoke.Role != "endpoint" || len(spoke.Links) != len(ws.Zones) {
		t.Fatalf("spoke-app-vnet: %+v; want an endpoint VNet with one link state per zone of %v", spoke, ws.Zones)
	}
	for _, l := range spoke.Links {
		if l.State != autopilot.LinkLinked || l.Owner != "autopilot" {
			t.Errorf("spoke-app-vnet in %s: %+v; want linked by the autopilot after the sweep", l.Zone, l)
		}
	}

	for _, f := range []struct{ query, ctype, want string }{
		{"?format=html", "text/html", "<svg"},
		{"?format=svg", "image/svg+xml", "contoso-health"},
	} {
		resp, err := http.Get(srv.URL + "/api/targets" + f.query)
		if err != nil {
			t.Fatal(err)
		}
		b := new(strings.Builder)
		_, _ = readAll(b, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), f.ctype) || !strings.Contains(b.String(), f.want) || strings.Contains(b.String(), "<script") {
			t.Errorf("GET /api/targets%s: %d %s, want %s with %q and no script", f.query, resp.StatusCode, resp.Header.Get("Content-Type"), f.ctype, f.want)
		}
	}
	// Under the Functions host the page's links keep the caller's key.
	resp, err = http.Get(srv.URL + "/api/targets?format=html&code=k3y")
	if err != nil {
		t.Fatal(err)
	}
	b := new(strings.Builder)
	_, _ = readAll(b, resp)
	if !strings.Contains(b.String(), `href="status?format=html&amp;code=k3y"`) {
		t.Errorf("estate page links do not keep the function key")
	}
	resp, err = http.Get(srv.URL + "/api/targets?format=pdf")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("format=pdf: %d, want 400", resp.StatusCode)
	}
}

func readAll(b *strings.Builder, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	buf := make([]byte, 32<<10)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}
