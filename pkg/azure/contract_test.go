package azure

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// Contract tests: the production adapter, with the real SDK clients, against
// the sandbox subscription (internal/sandbox) loaded from testdata/contract.json.

const (
	s1         = "/subscriptions/00000000-0000-0000-0000-000000000001"
	s2         = "/subscriptions/00000000-0000-0000-0000-000000000002"
	cWorkspace = s1 + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/ws1"
	cService   = s1 + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/legacy1"
	cPEWs      = s1 + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-ws"
	cPELegacy  = s1 + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-legacy"
	cHub       = s1 + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub"
	cOld       = s1 + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/old"
	cSpoke     = s2 + "/resourceGroups/rg-spoke/providers/Microsoft.Network/virtualNetworks/spoke"
	cZone      = s1 + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	// cFhirZone serves the workspace FHIR names (private DNS table).
	cFhirZone = s1 + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com"
)

func newContract(t *testing.T, opts ...sandbox.Option) (*sandbox.Sandbox, *Client) {
	t.Helper()
	sb, c, _ := newContractClock(t, opts...)
	return sb, c
}

// newContractClock is newContract with the adapter's retries sleeping on a
// fake clock (no wall time), which it returns.
func newContractClock(t *testing.T, opts ...sandbox.Option) (*sandbox.Sandbox, *Client, *fakeTime) {
	t.Helper()
	sb, err := sandbox.Load("testdata/contract.json", opts...)
	if err != nil {
		t.Fatalf("load sandbox: %v", err)
	}
	o := DefaultClientOptions() // production retry policy, sandbox wire
	o.Transport = sb.Transport()
	o.Retry.RetryDelay = time.Millisecond
	ft := newFakeTime()
	c, err := New(sb.Credential(), o, Config{LROWait: 5 * time.Second, PollInterval: time.Millisecond, Sleep: ft.Sleep, Now: ft.Now})
	if err != nil {
		t.Fatal(err)
	}
	return sb, c, ft
}

// connectionOf finds the target's connection from an endpoint.
func connectionOf(t *testing.T, c *Client, targetID, endpointID string) core.Connection {
	t.Helper()
	tg, err := c.GetTarget(context.Background(), targetID)
	if err != nil {
		t.Fatalf("GetTarget(%s): %v", targetID, err)
	}
	for _, conn := range tg.Connections {
		if core.SameID(conn.PrivateEndpointID, endpointID) {
			return conn
		}
	}
	t.Fatalf("target %s has no connection from %s: %+v", targetID, endpointID, tg.Connections)
	return core.Connection{}
}

func manualStatus(t *testing.T, c *Client, endpointID string) core.ConnectionStatus {
	t.Helper()
	e, err := c.GetEndpoint(context.Background(), endpointID)
	if err != nil {
		t.Fatalf("GetEndpoint(%s): %v", endpointID, err)
	}
	for _, ec := range e.Connections {
		if ec.Manual {
			return ec.Status
		}
	}
	t.Fatalf("endpoint %s has no manual connection", endpointID)
	return ""
}

func TestContractSetConnectionStatus(t *testing.T) {
	tests := []struct {
		name     string
		target   string
		endpoint string
		want     core.ConnectionStatus
	}{
		{"approve workspace connection", cWorkspace, cPEWs, core.StatusApproved},
		{"reject workspace connection", cWorkspace, cPEWs, core.StatusRejected},
		{"approve legacy service connection", cService, cPELegacy, core.StatusApproved},
		{"reject legacy service connection", cService, cPELegacy, core.StatusRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sb, c := newContract(t)
			ctx := context.Background()
			conn := connectionOf(t, c, tt.target, tt.endpoint)
			if conn.Status != core.StatusPending {
				t.Fatalf("scenario connection is %s, want Pending", conn.Status)
			}
			before := sb.Stats().Writes
			res, err := c.SetConnectionStatus(ctx, conn, tt.want, "decided by policy rule r1")
			if err != nil {
				t.Fatalf("first SetConnectionStatus: %v", err)
			}
			if !res.Changed || res.InProgress {
				t.Errorf("first write: got %+v, want changed and done", res)
			}
			if got := sb.Stats().Writes - before; got != 1 {
				t.Errorf("first write sent %d writes, want 1", got)
			}
			after := connectionOf(t, c, tt.target, tt.endpoint)
			if after.Status != tt.want || after.Description != "decided by policy rule r1" {
				t.Errorf("target connection is %s %q, want %s with the description", after.Status, after.Description, tt.want)
			}
			if got := manualStatus(t, c, tt.endpoint); got != tt.want {
				t.Errorf("endpoint's manual connection is %s, want %s", got, tt.want)
			}

			// the second run converges without a write, even with other words
			before = sb.Stats().Writes
			res, err = c.SetConnectionStatus(ctx, after, tt.want, "different words")
			if err != nil {
				t.Fatalf("second SetConnectionStatus: %v", err)
			}
			if res.Changed {
				t.Errorf("second write reported a change: %+v", res)
			}
			if got := sb.Stats().Writes - before; got != 0 {
				t.Errorf("second write sent %d writes, want 0", got)
			}
			if got := connectionOf(t, c, tt.target, tt.endpoint).Description; got != "decided by policy rule r1" {
				t.Errorf("description rewritten to %q", got)
			}
		})
	}
}

func TestContractRevokeAndRefuse(t *testing.T) {
	sb, c := newContract(t)
	ctx := context.Background()
	conn := connectionOf(t, c, cWorkspace, cPEWs)
	if _, err := c.SetConnectionStatus(ctx, conn, core.StatusApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	res, err := c.SetConnectionStatus(ctx, conn, core.StatusRejected, "revoked: subscription left the allow list")
	if err != nil || !res.Changed {
		t.Fatalf("revoke: got %+v, %v; want a change", res, err)
	}
	// a caller that read the connection now (Status Rejected) gets a refusal
	// without a write
	before := sb.Stats().Writes
	_, err = c.SetConnectionStatus(ctx, connectionOf(t, c, cWorkspace, cPEWs), core.StatusApproved, "again")
	if ce, ok := err.(*core.Error); !ok || ce.Class != core.Fatal || ce.Code != CodeInvalidTransition {
		t.Fatalf("approving a rejected connection: got %v, want fatal %s", err, CodeInvalidTransition)
	}
	if got := sb.Stats().Writes - before; got != 0 {
		t.Errorf("refused approval sent %d writes", got)
	}
	// a caller with a stale reading (Pending) sends its approval unread: ARM
	// refuses it, the adapter reads once and refuses too, nothing changes
	before, reads := sb.Stats().Writes, sb.Stats().Reads
	conn.Status = core.StatusPending
	_, err = c.SetConnectionStatus(ctx, conn, core.StatusApproved, "again")
	if ce, ok := err.(*core.Error); !ok || ce.Class != core.Fatal || ce.Code != CodeInvalidTransition {
		t.Fatalf("stale approval of a rejected connection: got %v, want fatal %s", err, CodeInvalidTransition)
	}
	if got, gotReads := sb.Stats().Writes-before, sb.Stats().Reads-reads; got != 1 || gotReads != 1 {
		t.Errorf("stale approval: %d writes, %d reads; want the refused PUT and one read", got, gotReads)
	}
	if got := connectionOf(t, c, cWorkspace, cPEWs).Status; got != core.StatusRejected {
		t.Errorf("connection is %s after a refused approval, want Rejected", got)
	}
}

func TestContractReadEndpointAndVNets(t *testing.T) {
	_, c := newContract(t)
	ctx := context.Background()
	e, err := c.GetEndpoint(ctx, cPEWs)
	if err != nil {
		t.Fatal(err)
	}
	if !core.SameID(e.VNetID, cHub) || e.SubscriptionID != "00000000-0000-0000-0000-000000000001" || e.ResourceGroup != "rg-net" || e.Location != "westeurope" {
		t.Errorf("endpoint placement: vnet %s sub %s rg %s loc %s", e.VNetID, e.SubscriptionID, e.ResourceGroup, e.Location)
	}
	if diff := cmp.Diff(e.Tags, map[string]string{"team": "patients"}); diff != "" {
		t.Errorf("endpoint tags (-got +want):\n%s", diff)
	}
	subnet := netip.MustParsePrefix("10.0.1.0/24")
	if len(e.PrivateIPs) == 0 {
		t.Fatal("endpoint has no private IPs")
	}
	for _, ip := range e.PrivateIPs {
		if a, err := netip.ParseAddr(ip); err != nil || !subnet.Contains(a) {
			t.Errorf("private IP %q outside the endpoint subnet %s", ip, subnet)
		}
	}
	wantConn := core.EndpointConnection{Name: "pe-ws", TargetID: cWorkspace, GroupIDs: []string{"healthcareworkspace"},
		RequestMessage: "patients app", Status: core.StatusPending, Description: "Awaiting approval", Manual: true}
	if diff := cmp.Diff(e.Connections, []core.EndpointConnection{wantConn}); diff != "" {
		t.Errorf("endpoint connections (-got +want):\n%s", diff)
	}
	foundDNS := false
	for _, d := range e.DNS {
		if d.FQDN == "ws1-fhir1.fhir.azurehealthcareapis.com" && len(d.IPs) > 0 {
			foundDNS = true
		}
	}
	if !foundDNS {
		t.Errorf("endpoint DNS %+v lacks the workspace FHIR host", e.DNS)
	}

	hub, err := c.GetVNet(ctx, e.VNetID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hub.AddressPrefixes, []string{"10.0.0.0/16"}); diff != "" {
		t.Errorf("hub prefixes (-got +want):\n%s", diff)
	}
	if len(hub.Peerings) != 1 || !core.SameID(hub.Peerings[0].RemoteVNetID, cSpoke) || hub.Peerings[0].State != "Connected" {
		t.Errorf("hub peerings %+v, want one connected peering to the spoke", hub.Peerings)
	}
	// the spoke lives in a second subscription
	spoke, err := c.GetVNet(ctx, cSpoke)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(spoke.AddressPrefixes, []string{"10.1.0.0/16", "10.2.0.0/24"}); diff != "" {
		t.Errorf("spoke prefixes (-got +want):\n%s", diff)
	}
	vnets, err := c.ListVNets(ctx, "00000000-0000-0000-0000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if len(vnets) != 2 {
		t.Errorf("ListVNets(sub 1) returned %d vnets, want hub and old", len(vnets))
	}

	tg, err := c.GetTarget(ctx, cWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tg.FQDNs, []string{"ws1-fhir1.fhir.azurehealthcareapis.com"}); diff != "" || tg.Kind != core.TargetWorkspace {
		t.Errorf("workspace kind %s, FQDNs (-got +want):\n%s", tg.Kind, diff)
	}
	targets, err := c.ListTargets(ctx, "00000000-0000-0000-0000-000000000001")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[core.TargetKind]int{}
	for _, x := range targets {
		kinds[x.Kind]++
	}
	if kinds[core.TargetWorkspace] != 1 || kinds[core.TargetService] != 1 {
		t.Errorf("ListTargets kinds %v, want one workspace and one service", kinds)
	}

	_, err = c.GetEndpoint(ctx, s1+"/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/missing")
	if !core.IsNotFound(err) {
		t.Errorf("missing endpoint: got %v, want not found", err)
	}
}

func linkFor(t *testing.T, c *Client, vnetID string) (core.VNetLink, bool) {
	t.Helper()
	return linkIn(t, c, cZone, vnetID)
}

// linkIn finds the zone's link for a VNet.
func linkIn(t *testing.T, c *Client, zoneID, vnetID string) (core.VNetLink, bool) {
	t.Helper()
	links, err := c.ListVNetLinks(context.Background(), zoneID)
	if err != nil {
		t.Fatalf("ListVNetLinks: %v", err)
	}
	for _, l := range links {
		if core.SameID(l.VNetID, vnetID) {
			return l, true
		}
	}
	return core.VNetLink{}, false
}

func TestContractVNetLinks(t *testing.T) {
	sb, c := newContract(t)
	ctx := context.Background()

	hub, ok := linkFor(t, c, cHub)
	if !ok || hub.Managed() || hub.Name != "hub-link" {
		t.Fatalf("hub link %+v (found %v): want the unmanaged hub-link", hub, ok)
	}
	if _, ok := linkFor(t, c, cSpoke); ok {
		t.Fatal("scenario already links the spoke")
	}

	// create, then converge
	w := sb.Stats().Writes
	res, err := c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cSpoke})
	if err != nil || !res.Changed {
		t.Fatalf("create spoke link: got %+v, %v", res, err)
	}
	if got := sb.Stats().Writes - w; got != 1 {
		t.Errorf("create sent %d writes, want 1", got)
	}
	spoke, ok := linkFor(t, c, cSpoke)
	if !ok || !spoke.Managed() || spoke.Name != LinkName(cSpoke) || spoke.RegistrationEnabled || spoke.ETag == "" {
		t.Fatalf("spoke link %+v: want a managed link named %s with an etag", spoke, LinkName(cSpoke))
	}
	w = sb.Stats().Writes
	res, err = c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cSpoke, Update: true})
	if err != nil || res.Changed || sb.Stats().Writes != w {
		t.Errorf("second ensure: got %+v, %v, %d writes; want no change, no write", res, err, sb.Stats().Writes-w)
	}
	// a caller that believes the link missing (stale reading) sends the
	// create unread: ARM's 412 makes it read the link, unchanged
	w, r := sb.Stats().Writes, sb.Stats().Reads
	res, err = c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cSpoke})
	if err != nil || res.Changed {
		t.Errorf("stale create: got %+v, %v; want no change", res, err)
	}
	if gw, gr := sb.Stats().Writes-w, sb.Stats().Reads-r; gw != 1 || gr != 1 {
		t.Errorf("stale create: %d writes, %d reads; want the refused PUT and one read", gw, gr)
	}

	// an unmanaged link for the same VNet counts as done, whatever it says
	w = sb.Stats().Writes
	res, err = c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cHub, ResolutionPolicy: "NxDomainRedirect", Update: true})
	if err != nil || res.Changed || sb.Stats().Writes != w {
		t.Errorf("ensure over unmanaged hub link: got %+v, %v; want no change, no write", res, err)
	}
	// also when the caller believed it missing: ARM's 409 (VNet linked under
	// another name) is looked up, not reported
	res, err = c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cHub})
	if err != nil || res.Changed {
		t.Errorf("stale create over unmanaged hub link: got %+v, %v; want no change", res, err)
	}
	if l, _ := linkFor(t, c, cHub); l.Name != "hub-link" || l.Managed() {
		t.Errorf("hub link %+v touched", l)
	}

	// a managed link that differs is updated in place
	res, err = c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: cZone, VNetID: cSpoke, ResolutionPolicy: "NxDomainRedirect", Update: true})
	if err != nil || !res.Changed {
		t.Fatalf("update spoke link: got %+v, %v", res, err)
	}
	if updated, _ := linkFor(t, c, cSpoke); updated.ResolutionPolicy != "NxDomainRedirect" || updated.Name != spoke.Name {
		t.Errorf("updated link %+v, want NxDomainRedirect under the same name", updated)
	}

	// delete what we own, once
	spoke, _ = linkFor(t, c, cSpoke)
	res, err = c.DeleteVNetLink(ctx, spoke)
	if err != nil || !res.Changed {
		t.Fatalf("delete spoke link: got %+v, %v", res, err)
	}
	if _, ok := linkFor(t, c, cSpoke); ok {
		t.Error("spoke link still listed after delete")
	}
	res, err = c.DeleteVNetLink(ctx, spoke) // stale etag, link gone
	if err != nil || res.Changed {
		t.Errorf("second delete: got %+v, %v; want no change", res, err)
	}

	// never delete what we do not own
	d := sb.Stats().Deletes
	_, err = c.DeleteVNetLink(ctx, hub)
	if ce, ok := err.(*core.Error); !ok || ce.Class != core.Fatal || ce.Code != CodeNotOwned {
		t.Errorf("deleting the unmanaged hub link: got %v, want fatal %s", err, CodeNotOwned)
	}
	if sb.Stats().Deletes != d {
		t.Error("refused delete still sent a DELETE")
	}
	if _, ok := linkFor(t, c, cHub); !ok {
		t.Error("unmanaged hub link disappeared")
	}

	// a managed link known without its etag is re-read and deleted
	old, ok := linkFor(t, c, cOld)
	if !ok || !old.Managed() {
		t.Fatalf("old link %+v: want the managed old-link", old)
	}
	old.ETag = ""
	if res, err := c.DeleteVNetLink(ctx, old); err != nil || !res.Changed {
		t.Errorf("delete old link without etag: got %+v, %v", res, err)
	}
}

func TestContractVNetLinkNameTaken(t *testing.T) {
	sb, c := newContract(t)
	// someone else's link already uses the deterministic name for another VNet
	body := `{"id":"` + cZone + `/virtualNetworkLinks/` + LinkName(cSpoke) + `","name":"` + LinkName(cSpoke) + `",` +
		`"type":"Microsoft.Network/privateDnsZones/virtualNetworkLinks","location":"global",` +
		`"properties":{"registrationEnabled":false,"virtualNetwork":{"id":"` + cOld + `x"}}}`
	if err := sb.Put([]byte(body)); err != nil {
		t.Fatalf("put conflicting link: %v", err)
	}
	_, err := c.EnsureVNetLink(context.Background(), core.LinkSpec{ZoneID: cZone, VNetID: cSpoke})
	if ce, ok := err.(*core.Error); !ok || ce.Class != core.Fatal || ce.Code != CodeLinkNameTaken {
		t.Errorf("got %v, want fatal %s", err, CodeLinkNameTaken)
	}
}

func TestContractZoneGroupAndRecords(t *testing.T) {
	sb, c := newContract(t)
	ctx := context.Background()
	conn := connectionOf(t, c, cWorkspace, cPEWs)
	if _, err := c.SetConnectionStatus(ctx, conn, core.StatusApproved, "ok"); err != nil {
		t.Fatal(err)
	}
	w := sb.Stats().Writes
	res, err := c.EnsureZoneGroup(ctx, core.ZoneGroupSpec{EndpointID: cPEWs, ZoneIDs: []string{cFhirZone}})
	if err != nil || !res.Changed {
		t.Fatalf("ensure zone group: got %+v, %v", res, err)
	}
	if got := sb.Stats().Writes - w; got != 1 {
		t.Errorf("zone group sent %d writes, want 1", got)
	}
	e, err := c.GetEndpoint(ctx, cPEWs)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.ZoneGroups) != 1 || e.ZoneGroups[0].Name != DefaultZoneGroupName || len(e.ZoneGroups[0].ZoneIDs) != 1 || !core.SameID(e.ZoneGroups[0].ZoneIDs[0], cFhirZone) {
		t.Fatalf("zone groups %+v, want one named default for the zone", e.ZoneGroups)
	}

	w = sb.Stats().Writes
	res, err = c.EnsureZoneGroup(ctx, core.ZoneGroupSpec{EndpointID: cPEWs, Name: "other", ZoneIDs: []string{cFhirZone}})
	if err != nil || res.Changed || sb.Stats().Writes != w {
		t.Errorf("second ensure: got %+v, %v, %d writes; want no change, no write", res, err, sb.Stats().Writes-w)
	}

	recs, err := c.ListARecords(ctx, cFhirZone)
	if err != nil {
		t.Fatal(err)
	}
	var got *core.ARecord
	for i := range recs {
		if recs[i].Name == "ws1-fhir1" {
			got = &recs[i]
		}
	}
	if got == nil {
		t.Fatalf("no A record ws1-fhir1 in %+v", recs)
	}
	if got.FQDN != "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com" || !cmp.Equal(got.IPs, e.PrivateIPs[:1]) || got.TTL <= 0 {
		t.Errorf("A record %+v, want the zone FQDN pointing at the endpoint IP %v", *got, e.PrivateIPs)
	}

	if _, err := c.EnsureZoneGroup(ctx, core.ZoneGroupSpec{EndpointID: cPEWs}); core.ClassOf(err) != core.Fatal {
		t.Errorf("zone group without zones: got %v, want fatal", err)
	}
}
