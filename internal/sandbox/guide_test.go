package sandbox

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	hc "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	dns "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	"github.com/google/go-cmp/cmp"
)

const (
	subA = "00000000-0000-0000-0000-0000000000aa"
	subB = "00000000-0000-0000-0000-0000000000bb"
)

// The guide's story played through the SDK: the spoke is not linked, the
// app team's endpoint is approved, the spoke linked, a zone group added,
// and the zone then answers for the workspace FHIR service.
func TestGuideStoryThroughSDK(t *testing.T) {
	sb, err := Load(guide)
	if err != nil {
		t.Fatal(err)
	}
	a, b := newClients(t, sb, subA), newClients(t, sb, subB)
	ctx := context.Background()

	var linked []string
	pager := a.links.NewListPager("rg-dns", zoneNm, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Value {
			linked = append(linked, *l.Properties.VirtualNetwork.ID)
		}
	}
	if diff := cmp.Diff(linked, []string{"/subscriptions/" + subA + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"}); diff != "" {
		t.Errorf("linked vnets (-got +want):\n%s", diff)
	}

	vn, err := a.vnets.Get(ctx, "rg-hub-network", "hub-vnet", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := vn.Properties.VirtualNetworkPeerings; len(p) != 1 || *p[0].Properties.PeeringState != "Connected" {
		t.Errorf("hub peerings = %+v", p)
	}

	conns := map[string]hc.PrivateEndpointConnectionDescription{}
	cp := a.wsConns.NewListByWorkspacePager("rg-health", "contoso-health", nil)
	for cp.More() {
		page, err := cp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page.Value {
			conns[*c.Name] = *c
		}
	}
	app := conns["pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f"]
	if app.Properties == nil || *app.Properties.PrivateLinkServiceConnectionState.Status != hc.PrivateEndpointServiceConnectionStatusPending || len(conns) != 2 {
		t.Fatalf("workspace connections = %v", conns)
	}
	app.Properties.PrivateLinkServiceConnectionState.Status = to.Ptr(hc.PrivateEndpointServiceConnectionStatusApproved)
	app.Properties.PrivateLinkServiceConnectionState.Description = to.Ptr("approved: team patients")
	p, err := a.wsConns.BeginCreateOrUpdate(ctx, "rg-health", "contoso-health", *app.Name, app, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, fast); err != nil {
		t.Fatal(err)
	}

	spoke := "/subscriptions/" + subB + "/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	lp, err := a.links.BeginCreateOrUpdate(ctx, "rg-dns", fhirZoneNm, "spoke-app-vnet", linkBody(spoke), &dns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lp.PollUntilDone(ctx, fast); err != nil {
		t.Fatal(err)
	}

	zp, err := b.zgs.BeginCreateOrUpdate(ctx, "rg-app-network", "pe-app-fhir", "default",
		zoneGroupBody("/subscriptions/"+subA+"/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/"+fhirZoneNm), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zp.PollUntilDone(ctx, fast); err != nil {
		t.Fatal(err)
	}
	records := func(zone string) []string {
		var names []string
		rp := a.records.NewListByTypePager("rg-dns", zone, dns.RecordTypeA, nil)
		for rp.More() {
			page, err := rp.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Value {
				names = append(names, *r.Name+" "+*r.Properties.ARecords[0].IPv4Address)
			}
		}
		return names
	}
	// the workspace FHIR name in privatelink.fhir..., the legacy zone keeps
	// only the legacy service's record
	if diff := cmp.Diff(records(fhirZoneNm), []string{"contoso-health-patients 10.1.2.4"}); diff != "" {
		t.Errorf("A records of %s (-got +want):\n%s", fhirZoneNm, diff)
	}
	if diff := cmp.Diff(records(zoneNm), []string{"fhirserverxxx 10.0.1.4"}); diff != "" {
		t.Errorf("A records of %s (-got +want):\n%s", zoneNm, diff)
	}
	pe, err := b.pes.Get(ctx, "rg-app-network", "pe-app-fhir", nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := *pe.Properties.ManualPrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState.Status; st != "Approved" {
		t.Errorf("pe-app-fhir manual connection = %s, want Approved", st)
	}
}

func TestLegacyServiceConnections(t *testing.T) {
	sb, err := Load(guide)
	if err != nil {
		t.Fatal(err)
	}
	f, err := hc.NewClientFactory(subA, sb.Credential(), sb.ClientOptions())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var services []string
	sp := f.NewServicesClient().NewListPager(nil)
	for sp.More() {
		page, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Value {
			services = append(services, *s.Name)
		}
	}
	if diff := cmp.Diff(services, []string{"fhirserverxxx"}); diff != "" {
		t.Errorf("services (-got +want):\n%s", diff)
	}
	conns := f.NewPrivateEndpointConnectionsClient()
	page, err := conns.NewListByServicePager("rg-health", "fhirserverxxx", nil).NextPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Value) != 1 || *page.Value[0].Properties.PrivateLinkServiceConnectionState.Status != hc.PrivateEndpointServiceConnectionStatusApproved {
		t.Fatalf("service connections = %+v", page.Value)
	}
	c := *page.Value[0]
	c.Properties.PrivateLinkServiceConnectionState.Status = to.Ptr(hc.PrivateEndpointServiceConnectionStatusRejected)
	c.Properties.PrivateLinkServiceConnectionState.Description = to.Ptr("revoked")
	p, err := conns.BeginCreateOrUpdate(ctx, "rg-health", "fhirserverxxx", *c.Name, hc.PrivateEndpointConnection{Properties: c.Properties}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, fast); err != nil {
		t.Fatal(err)
	}
	pe, _ := sb.Get("/subscriptions/" + subA + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/privateEndpoints/pe-hub-fhirserverxxx")
	var got struct {
		Properties struct {
			PrivateLinkServiceConnections []struct {
				Properties struct {
					PrivateLinkServiceConnectionState struct{ Status, Description string }
				}
			}
		}
	}
	if err := jsonUnmarshal(pe, &got); err != nil {
		t.Fatal(err)
	}
	st := got.Properties.PrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState
	if st.Status != "Rejected" || st.Description != "revoked" {
		t.Errorf("endpoint side = %+v, want Rejected revoked", st)
	}
	lr, err := f.NewPrivateLinkResourcesClient().ListByService(ctx, "rg-health", "fhirserverxxx", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *lr.Value[0].Properties.GroupID != "fhir" {
		t.Errorf("group id = %s", *lr.Value[0].Properties.GroupID)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
