package azure

import (
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"
	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
)

const (
	sub     = "00000000-0000-0000-0000-000000000001"
	wsID    = "/subscriptions/" + sub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/workspaces/ws1"
	svcID   = "/subscriptions/" + sub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/services/legacy1"
	peID    = "/subscriptions/" + sub + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe1"
	vnetID  = "/subscriptions/" + sub + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub"
	zoneID  = "/subscriptions/" + sub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	connRaw = wsID + "/privateEndpointConnections/pe1.conn"
)

// Every translator must accept models where anything may be nil: SDK
// models mark nearly every field optional and ARM omits what it likes.
func TestTranslateToleratesNil(t *testing.T) {
	tests := []struct {
		name string
		run  func()
	}{
		{"workspace zero", func() { workspaceTarget(armhealthcareapis.Workspace{}) }},
		{"workspace nil connections", func() {
			workspaceTarget(armhealthcareapis.Workspace{Properties: &armhealthcareapis.WorkspaceProperties{
				PrivateEndpointConnections: []*armhealthcareapis.PrivateEndpointConnection{nil, {}, {Properties: &armhealthcareapis.PrivateEndpointConnectionProperties{}}},
			}})
		}},
		{"service zero", func() { serviceTarget(armhealthcareapis.ServicesDescription{}, DefaultFHIRDomain) }},
		{"fhir nil", func() {
			fhirFQDN("ws", nil, DefaultFHIRDomain)
			fhirFQDN("ws", &armhealthcareapis.FhirService{}, DefaultFHIRDomain)
		}},
		{"endpoint zero", func() { endpoint(armnetwork.PrivateEndpoint{}) }},
		{"endpoint nil parts", func() {
			endpoint(armnetwork.PrivateEndpoint{Properties: &armnetwork.PrivateEndpointProperties{
				Subnet:                              &armnetwork.Subnet{},
				ManualPrivateLinkServiceConnections: []*armnetwork.PrivateLinkServiceConnection{nil, {}, {Properties: &armnetwork.PrivateLinkServiceConnectionProperties{}}},
				PrivateLinkServiceConnections:       []*armnetwork.PrivateLinkServiceConnection{nil},
				CustomDNSConfigs:                    []*armnetwork.CustomDNSConfigPropertiesFormat{nil, {}, {IPAddresses: []*string{nil}}},
				IPConfigurations:                    []*armnetwork.PrivateEndpointIPConfiguration{nil, {}},
				NetworkInterfaces:                   []*armnetwork.Interface{nil, {}, {Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{nil, {}}}}},
			}})
			unexpandedNICs(armnetwork.PrivateEndpoint{Properties: &armnetwork.PrivateEndpointProperties{NetworkInterfaces: []*armnetwork.Interface{nil, {}}}})
		}},
		{"zone group nil", func() {
			zoneGroup(nil)
			zoneGroup(&armnetwork.PrivateDNSZoneGroup{})
			zoneGroup(&armnetwork.PrivateDNSZoneGroup{Properties: &armnetwork.PrivateDNSZoneGroupPropertiesFormat{
				PrivateDNSZoneConfigs: []*armnetwork.PrivateDNSZoneConfig{nil, {}, {Properties: &armnetwork.PrivateDNSZonePropertiesFormat{RecordSets: []*armnetwork.RecordSet{nil, {}}}}},
			}})
		}},
		{"vnet nil parts", func() {
			vnet(armnetwork.VirtualNetwork{})
			vnet(armnetwork.VirtualNetwork{Properties: &armnetwork.VirtualNetworkPropertiesFormat{
				AddressSpace:           &armnetwork.AddressSpace{AddressPrefixes: []*string{nil}},
				VirtualNetworkPeerings: []*armnetwork.VirtualNetworkPeering{nil, {}, {Properties: &armnetwork.VirtualNetworkPeeringPropertiesFormat{}}},
			}})
		}},
		{"link nil", func() {
			vnetLink(zoneID, nil)
			vnetLink("", &armprivatedns.VirtualNetworkLink{})
			vnetLink(zoneID, &armprivatedns.VirtualNetworkLink{Properties: &armprivatedns.VirtualNetworkLinkProperties{}})
		}},
		{"record nil", func() {
			aRecord(zoneID, "z", nil)
			aRecord(zoneID, "z", &armprivatedns.RecordSet{})
			aRecord(zoneID, "z", &armprivatedns.RecordSet{Properties: &armprivatedns.RecordSetProperties{ARecords: []*armprivatedns.ARecord{nil, {}}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("translation panicked on nil fields: %v", r)
				}
			}()
			tt.run()
		})
	}
}

func TestWorkspaceTarget(t *testing.T) {
	got := workspaceTarget(armhealthcareapis.Workspace{
		ID: to.Ptr(wsID), Name: to.Ptr("ws1"), Location: to.Ptr("westeurope"),
		Tags: map[string]*string{"env": to.Ptr("prod"), "dropped": nil},
		Properties: &armhealthcareapis.WorkspaceProperties{
			PublicNetworkAccess: to.Ptr(armhealthcareapis.PublicNetworkAccessDisabled),
			PrivateEndpointConnections: []*armhealthcareapis.PrivateEndpointConnection{
				nil,
				{
					ID: to.Ptr(connRaw), Name: to.Ptr("pe1.conn"),
					Properties: &armhealthcareapis.PrivateEndpointConnectionProperties{
						PrivateEndpoint: &armhealthcareapis.PrivateEndpoint{ID: to.Ptr(peID)},
						PrivateLinkServiceConnectionState: &armhealthcareapis.PrivateLinkServiceConnectionState{
							Status: to.Ptr(armhealthcareapis.PrivateEndpointServiceConnectionStatusPending), Description: to.Ptr("please"),
						},
					},
				},
			},
		},
	})
	want := core.Target{
		ID: wsID, Kind: core.TargetWorkspace, Name: "ws1", SubscriptionID: sub, ResourceGroup: "rg-fhir",
		Location: "westeurope", Tags: map[string]string{"env": "prod"}, PublicNetworkAccess: "Disabled",
		Connections: []core.Connection{{
			ID: connRaw, Name: "pe1.conn", TargetID: wsID, PrivateEndpointID: peID,
			Status: core.StatusPending, Description: "please",
		}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("workspace target (-got +want):\n%s", diff)
	}
}

func TestFQDNs(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"workspace fhir named workspace/fhir", fhirFQDN("ws1", &armhealthcareapis.FhirService{Name: to.Ptr("ws1/fhir1")}, DefaultFHIRDomain), "ws1-fhir1.fhir.azurehealthcareapis.com"},
		{"workspace fhir name from id", fhirFQDN("ws1", &armhealthcareapis.FhirService{ID: to.Ptr(wsID + "/fhirservices/Fhir2")}, DefaultFHIRDomain), "ws1-fhir2.fhir.azurehealthcareapis.com"},
		{"legacy service", serviceTarget(armhealthcareapis.ServicesDescription{ID: to.Ptr(svcID), Name: to.Ptr("legacy1")}, DefaultFHIRDomain).FQDNs[0], "legacy1.azurehealthcareapis.com"},
		{"sovereign domain", fhirFQDN("ws1", &armhealthcareapis.FhirService{Name: to.Ptr("f")}, "azurehealthcareapis.us"), "ws1-f.fhir.azurehealthcareapis.us"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

func TestEndpoint(t *testing.T) {
	subnetID := vnetID + "/subnets/endpoints"
	pe := armnetwork.PrivateEndpoint{
		ID: to.Ptr(peID), Name: to.Ptr("pe1"), Location: to.Ptr("westeurope"),
		Properties: &armnetwork.PrivateEndpointProperties{
			ProvisioningState: to.Ptr(armnetwork.ProvisioningStateSucceeded),
			Subnet:            &armnetwork.Subnet{ID: to.Ptr(subnetID)},
			ManualPrivateLinkServiceConnections: []*armnetwork.PrivateLinkServiceConnection{{
				Name: to.Ptr("conn"),
				Properties: &armnetwork.PrivateLinkServiceConnectionProperties{
					PrivateLinkServiceID: to.Ptr(wsID), GroupIDs: []*string{to.Ptr("healthcareworkspace"), nil},
					RequestMessage:                    to.Ptr("hi"),
					PrivateLinkServiceConnectionState: &armnetwork.PrivateLinkServiceConnectionState{Status: to.Ptr("pending"), Description: to.Ptr("Awaiting approval")},
				},
			}},
			PrivateLinkServiceConnections: []*armnetwork.PrivateLinkServiceConnection{{
				Name:       to.Ptr("auto"),
				Properties: &armnetwork.PrivateLinkServiceConnectionProperties{PrivateLinkServiceID: to.Ptr(svcID)},
			}},
			CustomDNSConfigs: []*armnetwork.CustomDNSConfigPropertiesFormat{
				{Fqdn: to.Ptr("ws1-fhir1.fhir.azurehealthcareapis.com"), IPAddresses: []*string{to.Ptr("10.1.0.4")}},
			},
			NetworkInterfaces: []*armnetwork.Interface{{
				ID: to.Ptr("/nic"),
				Properties: &armnetwork.InterfacePropertiesFormat{IPConfigurations: []*armnetwork.InterfaceIPConfiguration{
					{Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{PrivateIPAddress: to.Ptr("10.1.0.4")}},
					{Properties: &armnetwork.InterfaceIPConfigurationPropertiesFormat{PrivateIPAddress: to.Ptr("10.1.0.5")}},
				}},
			}},
		},
	}
	got := endpoint(pe)
	want := core.Endpoint{
		ID: peID, Name: "pe1", SubscriptionID: sub, ResourceGroup: "rg-net", Location: "westeurope",
		SubnetID: subnetID, VNetID: vnetID, ProvisioningState: "Succeeded",
		Connections: []core.EndpointConnection{
			{Name: "conn", TargetID: wsID, GroupIDs: []string{"healthcareworkspace"}, RequestMessage: "hi", Status: core.StatusPending, Description: "Awaiting approval", Manual: true},
			{Name: "auto", TargetID: svcID},
		},
		DNS:        []core.DNSRecord{{FQDN: "ws1-fhir1.fhir.azurehealthcareapis.com", IPs: []string{"10.1.0.4"}}},
		PrivateIPs: []string{"10.1.0.4", "10.1.0.5"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("endpoint (-got +want):\n%s", diff)
	}
	if ids := unexpandedNICs(pe); len(ids) != 0 {
		t.Errorf("expanded NIC reported as needing a read: %v", ids)
	}
}

func TestVNetLinkAndRecord(t *testing.T) {
	link, ok := vnetLink(zoneID, &armprivatedns.VirtualNetworkLink{
		ID: to.Ptr(zoneID + "/virtualNetworkLinks/hub"), Name: to.Ptr("hub"), Etag: to.Ptr("e1"),
		Tags: map[string]*string{core.OwnerTagKey: to.Ptr(core.OwnerTagValue)},
		Properties: &armprivatedns.VirtualNetworkLinkProperties{
			VirtualNetwork:          &armprivatedns.SubResource{ID: to.Ptr(vnetID)},
			RegistrationEnabled:     to.Ptr(false),
			ResolutionPolicy:        to.Ptr(armprivatedns.ResolutionPolicyNxDomainRedirect),
			VirtualNetworkLinkState: to.Ptr(armprivatedns.VirtualNetworkLinkStateCompleted),
		},
	})
	wantLink := core.VNetLink{
		ID: zoneID + "/virtualNetworkLinks/hub", Name: "hub", ZoneID: zoneID, VNetID: vnetID,
		ResolutionPolicy: "NxDomainRedirect", State: "Completed", ETag: "e1",
		Tags: map[string]string{core.OwnerTagKey: core.OwnerTagValue},
	}
	if diff := cmp.Diff(link, wantLink); !ok || diff != "" {
		t.Errorf("link ok=%v (-got +want):\n%s", ok, diff)
	}
	if !link.Managed() {
		t.Error("link with the ownership tag not seen as managed")
	}

	rec, ok := aRecord(zoneID, "privatelink.azurehealthcareapis.com", &armprivatedns.RecordSet{
		Name: to.Ptr("ws1-fhir1.fhir"), Type: to.Ptr("Microsoft.Network/privateDnsZones/A"),
		Properties: &armprivatedns.RecordSetProperties{TTL: to.Ptr[int64](10), ARecords: []*armprivatedns.ARecord{{IPv4Address: to.Ptr("10.1.0.4")}}},
	})
	wantRec := core.ARecord{ZoneID: zoneID, Name: "ws1-fhir1.fhir", FQDN: "ws1-fhir1.fhir.privatelink.azurehealthcareapis.com", IPs: []string{"10.1.0.4"}, TTL: 10}
	if diff := cmp.Diff(rec, wantRec); !ok || diff != "" {
		t.Errorf("record ok=%v (-got +want):\n%s", ok, diff)
	}
	if _, ok := aRecord(zoneID, "z", &armprivatedns.RecordSet{Type: to.Ptr("Microsoft.Network/privateDnsZones/CNAME")}); ok {
		t.Error("a CNAME record set was taken for an A record")
	}
}

func TestLinkName(t *testing.T) {
	long := "/subscriptions/" + sub + "/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/" +
		"a-very-long-virtual-network-name-that-goes-on-and-on-and-on-for-64c"
	tests := []struct {
		name, vnet string
	}{
		{"plain", vnetID},
		{"long name", long},
		{"odd characters", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/_vnet(1)_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := LinkName(tt.vnet)
			if !validLinkName.MatchString(got) || len(got) > 80 {
				t.Errorf("LinkName(%s) = %q: not a valid link name", tt.vnet, got)
			}
		})
	}
	if LinkName(vnetID) != LinkName(strings.ToUpper(vnetID)) {
		t.Error("the name depends on the casing of the vnet id")
	}
	other := strings.Replace(vnetID, "rg-net", "rg-other", 1)
	if LinkName(vnetID) == LinkName(other) {
		t.Error("two vnets of the same name in different groups got the same link name")
	}
	if got := LinkName(vnetID); !strings.HasPrefix(got, "hub-") {
		t.Errorf("LinkName = %q, want it to start with the vnet name", got)
	}
}
