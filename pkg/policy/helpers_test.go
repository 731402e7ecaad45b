package policy

import (
	"os"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Identities of the guide's sandbox scenario (testdata/scenarios/guide.yaml).
const (
	subHub     = "00000000-0000-0000-0000-0000000000aa"
	subApp     = "00000000-0000-0000-0000-0000000000bb"
	subUnknown = "00000000-0000-0000-0000-0000000000cc"

	workspaceID = "/subscriptions/" + subHub + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	serviceID   = "/subscriptions/" + subHub + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	zoneID      = "/subscriptions/" + subHub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	fhirZoneID  = "/subscriptions/" + subHub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.fhir.azurehealthcareapis.com"
	hubVNetID   = "/subscriptions/" + subHub + "/resourceGroups/rg-hub/providers/Microsoft.Network/virtualNetworks/hub-vnet"
)

func examplePolicy(t testing.TB) *Policy {
	t.Helper()
	p, err := Load("../../examples/policy.yaml")
	if err != nil {
		t.Fatalf("examples/policy.yaml does not load: %v", err)
	}
	return p
}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("policy does not load: %v\n%s", err, src)
	}
	return p
}

func endpointID(sub, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/" + name
}

func vnetID(sub, name string) string {
	return "/subscriptions/" + sub + "/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/" + name
}

func workspace() core.Target {
	return core.Target{
		ID: workspaceID, Kind: core.TargetWorkspace, Name: "contoso-health",
		SubscriptionID: subHub, ResourceGroup: "rg-health", Location: "westeurope",
		Tags: map[string]string{"env": "prod"},
	}
}

// readableInput is a pending connection from an endpoint in sub whose VNet
// has the given address space.
func readableInput(sub string, prefixes ...string) ConnectionInput {
	t := workspace()
	epID := endpointID(sub, "pe-app")
	conn := core.Connection{
		ID: workspaceID + "/privateEndpointConnections/pe-app.1234", Name: "pe-app.1234", TargetID: workspaceID,
		PrivateEndpointID: epID, Status: core.StatusPending, GroupIDs: []string{"healthcareworkspace"},
	}
	vn := core.VNet{ID: vnetID(sub, "app-vnet"), Name: "app-vnet", SubscriptionID: sub, ResourceGroup: "rg-app",
		Location: "westeurope", AddressPrefixes: prefixes, Tags: map[string]string{"team": "app"}}
	ep := core.Endpoint{
		ID: epID, Name: "pe-app", SubscriptionID: sub, ResourceGroup: "rg-app", Location: "westeurope",
		Tags: map[string]string{"costcenter": "42"}, SubnetID: vn.ID + "/subnets/endpoints", VNetID: vn.ID,
		Connections: []core.EndpointConnection{{Name: "pe-app", TargetID: workspaceID, GroupIDs: []string{"healthcareworkspace"},
			RequestMessage: "app team, ticket 4711", Status: core.StatusPending, Manual: true}},
	}
	return ConnectionInput{Target: t, Connection: conn, Endpoint: &ep, EndpointReadable: true, EndpointVNet: &vn,
		Requester: &core.Principal{ObjectID: "11111111-1111-1111-1111-111111111111", TenantID: "22222222-2222-2222-2222-222222222222"}}
}

// unreadableInput is a pending connection from an endpoint that could not be
// read (cross-tenant: 403).
func unreadableInput(sub string) ConnectionInput {
	in := readableInput(sub)
	in.Endpoint, in.EndpointReadable, in.EndpointVNet, in.Requester = nil, false, nil, nil
	return in
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
