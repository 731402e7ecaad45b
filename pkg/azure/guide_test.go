package azure

import (
	"context"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// The private link guide's situation (testdata/scenarios/guide.yaml), driven
// through the adapter: what the autopilot reads and the writes that fix it.
const (
	gA         = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
	gB         = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
	gWorkspace = gA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	gHub       = gA + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	gZone      = gA + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	// gFhirZone serves contoso-health-patients.fhir.azurehealthcareapis.com (private DNS table).
	gFhirZone = gA + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com"
	gSpoke    = gB + "/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	gPEApp    = gB + "/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
)

func TestGuideScenario(t *testing.T) {
	sb, err := sandbox.Load("../../testdata/scenarios/guide.yaml")
	if err != nil {
		t.Fatalf("load guide scenario: %v", err)
	}
	o := DefaultClientOptions()
	o.Transport = sb.Transport()
	o.Retry.RetryDelay = time.Millisecond
	c, err := New(sb.Credential(), o, Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	targets, err := c.ListTargets(ctx, "00000000-0000-0000-0000-0000000000aa")
	if err != nil {
		t.Fatal(err)
	}
	var ws core.Target
	for _, tg := range targets {
		if core.SameID(tg.ID, gWorkspace) {
			ws = tg
		}
	}
	if len(targets) != 2 || ws.Kind != core.TargetWorkspace || len(ws.Connections) != 2 {
		t.Fatalf("targets %+v: want the workspace with two connections and the legacy service", targets)
	}
	if len(ws.FQDNs) != 1 || ws.FQDNs[0] != "contoso-health-patients.fhir.azurehealthcareapis.com" {
		t.Errorf("workspace FQDNs %v", ws.FQDNs)
	}

	pe, err := c.GetEndpoint(ctx, gPEApp)
	if err != nil {
		t.Fatal(err)
	}
	if !core.SameID(pe.VNetID, gSpoke) || len(pe.PrivateIPs) != 1 || pe.PrivateIPs[0] != "10.1.2.4" || len(pe.ZoneGroups) != 0 {
		t.Fatalf("pe-app-fhir %+v: want spoke vnet, IP 10.1.2.4, no zone group", pe)
	}
	spoke, err := c.GetVNet(ctx, pe.VNetID)
	if err != nil {
		t.Fatal(err)
	}
	if len(spoke.Peerings) != 1 || !core.SameID(spoke.Peerings[0].RemoteVNetID, gHub) {
		t.Errorf("spoke peerings %+v, want one to the hub", spoke.Peerings)
	}
	if _, ok := linkIn(t, c, gZone, gSpoke); ok {
		t.Fatal("spoke already linked in the guide scenario")
	}
	if hub, ok := linkIn(t, c, gZone, gHub); !ok || hub.Managed() {
		t.Fatalf("hub link %+v: want an existing unmanaged link", hub)
	}

	// the fixes
	var conn core.Connection
	for _, cn := range ws.Connections {
		if core.SameID(cn.PrivateEndpointID, gPEApp) {
			conn = cn
		}
	}
	if res, err := c.SetConnectionStatus(ctx, conn, core.StatusApproved, "allowed: app team subscription"); err != nil || !res.Changed {
		t.Fatalf("approve: %+v, %v", res, err)
	}
	if res, err := c.EnsureVNetLink(ctx, core.LinkSpec{ZoneID: gFhirZone, VNetID: gSpoke}); err != nil || !res.Changed {
		t.Fatalf("link spoke: %+v, %v", res, err)
	}
	if res, err := c.EnsureZoneGroup(ctx, core.ZoneGroupSpec{EndpointID: gPEApp, ZoneIDs: []string{gFhirZone}}); err != nil || !res.Changed {
		t.Fatalf("zone group: %+v, %v", res, err)
	}

	// the end state the guide asks for
	if got := manualStatus(t, c, gPEApp); got != core.StatusApproved {
		t.Errorf("pe-app-fhir manual connection %s, want Approved", got)
	}
	if l, ok := linkIn(t, c, gFhirZone, gSpoke); !ok || !l.Managed() {
		t.Errorf("spoke link %+v: want a managed link", l)
	}
	records := func(zone string) map[string][]string {
		recs, err := c.ListARecords(ctx, zone)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string][]string{}
		for _, r := range recs {
			found[r.Name] = r.IPs
		}
		return found
	}
	if ips := records(gFhirZone)["contoso-health-patients"]; len(ips) != 1 || ips[0] != "10.1.2.4" {
		t.Errorf("A records %v: want contoso-health-patients -> 10.1.2.4 in privatelink.fhir...", records(gFhirZone))
	}
	found := records(gZone)
	if ips := found["fhirserverxxx"]; len(ips) != 1 || ips[0] != "10.0.1.4" {
		t.Errorf("A records %v: want the legacy record fhirserverxxx -> 10.0.1.4 kept", found)
	}
}
