package sandbox

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	hc "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	nw "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	dns "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	"github.com/google/go-cmp/cmp"
)

const (
	sub1   = "00000000-0000-0000-0000-000000000001"
	ws1    = "/subscriptions/" + sub1 + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/ws1"
	pe1    = "/subscriptions/" + sub1 + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe1"
	vnet1  = "/subscriptions/" + sub1 + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet1"
	zone1  = "/subscriptions/" + sub1 + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	zoneNm = "privatelink.azurehealthcareapis.com"
	// the zone of workspace FHIR names (ws1-fhir1.fhir.azurehealthcareapis.com)
	fhirZone   = "/subscriptions/" + sub1 + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com"
	fhirZoneNm = "privatelink.fhir.azurehealthcareapis.com"
	conn1      = "pe1.0c0ffee1"
)

var minimal = filepath.Join("..", "..", "testdata", "scenarios", "minimal.json")

type clients struct {
	wsConns *hc.WorkspacePrivateEndpointConnectionsClient
	ws      *hc.WorkspacesClient
	fhir    *hc.FhirServicesClient
	pes     *nw.PrivateEndpointsClient
	zgs     *nw.PrivateDNSZoneGroupsClient
	vnets   *nw.VirtualNetworksClient
	nics    *nw.InterfacesClient
	zones   *dns.PrivateZonesClient
	links   *dns.VirtualNetworkLinksClient
	records *dns.RecordSetsClient
}

func newClients(t testing.TB, sb *Sandbox, sub string) clients {
	t.Helper()
	opts := sb.ClientOptions()
	hcf, err := hc.NewClientFactory(sub, sb.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	nwf, err := nw.NewClientFactory(sub, sb.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	dnsf, err := dns.NewClientFactory(sub, sb.Credential(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return clients{
		wsConns: hcf.NewWorkspacePrivateEndpointConnectionsClient(),
		ws:      hcf.NewWorkspacesClient(),
		fhir:    hcf.NewFhirServicesClient(),
		pes:     nwf.NewPrivateEndpointsClient(),
		zgs:     nwf.NewPrivateDNSZoneGroupsClient(),
		vnets:   nwf.NewVirtualNetworksClient(),
		nics:    nwf.NewInterfacesClient(),
		zones:   dnsf.NewPrivateZonesClient(),
		links:   dnsf.NewVirtualNetworkLinksClient(),
		records: dnsf.NewRecordSetsClient(),
	}
}

func loadMinimal(t *testing.T, opts ...Option) (*Sandbox, clients) {
	t.Helper()
	sb, err := Load(minimal, opts...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return sb, newClients(t, sb, sub1)
}

func approve(t *testing.T, c clients, status hc.PrivateEndpointServiceConnectionStatus, desc string) error {
	t.Helper()
	ctx := context.Background()
	got, err := c.wsConns.Get(ctx, "rg-health", "ws1", conn1, nil)
	if err != nil {
		return err
	}
	got.Properties.PrivateLinkServiceConnectionState.Status = to.Ptr(status)
	got.Properties.PrivateLinkServiceConnectionState.Description = to.Ptr(desc)
	p, err := c.wsConns.BeginCreateOrUpdate(ctx, "rg-health", "ws1", conn1, got.PrivateEndpointConnectionDescription, nil)
	if err != nil {
		return err
	}
	_, err = p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Millisecond})
	return err
}

func manualState(t *testing.T, c clients) (status, desc string) {
	t.Helper()
	pe, err := c.pes.Get(context.Background(), "rg-net", "pe1", nil)
	if err != nil {
		t.Fatalf("get endpoint: %v", err)
	}
	st := pe.Properties.ManualPrivateLinkServiceConnections[0].Properties.PrivateLinkServiceConnectionState
	return *st.Status, *st.Description
}

func TestReadThroughSDKClients(t *testing.T) {
	sb, c := loadMinimal(t)
	ctx := context.Background()

	ws, err := c.ws.Get(ctx, "rg-health", "ws1", nil)
	if err != nil {
		t.Fatalf("get workspace: %v", err)
	}
	if got := len(ws.Properties.PrivateEndpointConnections); got != 1 {
		t.Fatalf("workspace embeds %d connections, want 1", got)
	}
	if got, want := *ws.Properties.PrivateEndpointConnections[0].Properties.PrivateLinkServiceConnectionState.Status, hc.PrivateEndpointServiceConnectionStatusPending; got != want {
		t.Errorf("connection status = %s, want %s", got, want)
	}

	var names []string
	pager := c.fhir.NewListByWorkspacePager("rg-health", "ws1", nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list fhir services: %v", err)
		}
		for _, f := range page.Value {
			names = append(names, *f.Name)
		}
	}
	if diff := cmp.Diff(names, []string{"ws1/fhir1"}); diff != "" {
		t.Errorf("fhir services (-got +want):\n%s", diff)
	}

	pe, err := c.pes.Get(ctx, "rg-net", "pe1", &nw.PrivateEndpointsClientGetOptions{Expand: to.Ptr("networkInterfaces")})
	if err != nil {
		t.Fatalf("get endpoint: %v", err)
	}
	nic := pe.Properties.NetworkInterfaces[0]
	if nic.Properties == nil || *nic.Properties.IPConfigurations[0].Properties.PrivateIPAddress != "10.0.1.4" {
		t.Errorf("expanded NIC = %+v, want its private IP 10.0.1.4", nic)
	}

	vn, err := c.vnets.Get(ctx, "rg-net", "vnet1", nil)
	if err != nil {
		t.Fatalf("get vnet: %v", err)
	}
	if got := *vn.Properties.AddressSpace.AddressPrefixes[0]; got != "10.0.0.0/16" {
		t.Errorf("vnet prefix = %s", got)
	}
	zone, err := c.zones.Get(ctx, "rg-dns", zoneNm, nil)
	if err != nil {
		t.Fatalf("get zone: %v", err)
	}
	if *zone.Name != zoneNm {
		t.Errorf("zone name = %s", *zone.Name)
	}
	st := sb.Stats()
	if st.Reads != 5 || st.Writes != 0 || st.ByOperation["LIST Microsoft.HealthcareApis/workspaces/fhirservices"] != 1 {
		t.Errorf("stats = %+v, want 5 reads incl. one fhir service list", st)
	}
}

func TestApproveUpdatesBothSides(t *testing.T) {
	_, c := loadMinimal(t)
	if err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusApproved, "approved by autopilot: team patients"); err != nil {
		t.Fatalf("approve: %v", err)
	}
	got, err := c.wsConns.Get(context.Background(), "rg-health", "ws1", conn1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := *got.Properties.PrivateLinkServiceConnectionState.Status; s != hc.PrivateEndpointServiceConnectionStatusApproved {
		t.Errorf("target side status = %s, want Approved", s)
	}
	status, desc := manualState(t, c)
	if diff := cmp.Diff([]string{status, desc}, []string{"Approved", "approved by autopilot: team patients"}); diff != "" {
		t.Errorf("endpoint side (-got +want):\n%s", diff)
	}
}

func TestRejectedConnectionCannotBeApproved(t *testing.T) {
	_, c := loadMinimal(t)
	if err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusRejected, "unknown subscription"); err != nil {
		t.Fatalf("reject: %v", err)
	}
	err := approve(t, c, hc.PrivateEndpointServiceConnectionStatusApproved, "changed my mind")
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		t.Fatalf("approving a rejected connection: err = %v, want a 400", err)
	}
	if status, _ := manualState(t, c); status != "Rejected" {
		t.Errorf("endpoint side = %s, want Rejected", status)
	}
}
