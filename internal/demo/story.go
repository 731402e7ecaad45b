package demo

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// The zones of the private DNS table the story checks (core.DNSTable).
var (
	// zoneName is the legacy Azure API for FHIR zone (fhirserverxxx).
	zoneName = zoneOf(core.TargetService, core.DNSServiceLegacyFHIR)
	// fhirZone serves the workspace FHIR names.
	fhirZone = zoneOf(core.TargetWorkspace, core.DNSServiceFHIR)
)

func zoneOf(kind core.TargetKind, svc core.DNSService) string {
	for _, z := range core.ZonesForKind(kind) {
		if z.Service == svc {
			return z.Zone
		}
	}
	panic("demo: the private DNS table lacks " + string(svc))
}

// workspaceZones are the zones a workspace endpoint's zone group names.
func workspaceZones() []string { return core.ZoneNamesFor(core.ZonesForKind(core.TargetWorkspace)) }

// The guide scenario's resources the story acts on
// (testdata/scenarios/guide.yaml).
const (
	subHub      = "/subscriptions/00000000-0000-0000-0000-0000000000aa"
	subApp      = "/subscriptions/00000000-0000-0000-0000-0000000000bb"
	workspaceID = subHub + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	hubVNet     = subHub + "/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	appVNet     = subApp + "/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	newVNet     = subApp + "/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-new-vnet"
	appEndpoint = subApp + "/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-app-fhir"
	legacyFQDN  = "fhirserverxxx.azurehealthcareapis.com"
	// wsFQDN is the workspace FHIR service's host name; it resolves through
	// privatelink.fhir.azurehealthcareapis.com (private DNS table).
	wsFQDN = "contoso-health-patients.fhir.azurehealthcareapis.com"
	// appIP is pe-app-fhir's private address.
	appIP = "10.1.2.4"

	opEndpointWrite   = "Microsoft.Network/privateEndpoints/write"
	opConnectionWrite = "Microsoft.HealthcareApis/workspaces/privateEndpointConnections/write"
	opPeeringWrite    = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write"
	opEndpointDelete  = "Microsoft.Network/privateEndpoints/delete"
)

// storyStart is the simulated time the story starts at.
var storyStart = time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)

// peerNewVNet creates spoke-new-vnet (10.2.0.0/16) peered with peerID, both
// sides Connected, as a network admin would: the new VNet with its peering
// nameOnNew, and the peering nameOnPeer on the other side.
func (w *world) peerNewVNet(peerID, nameOnNew, nameOnPeer string) error {
	peering := func(id, remote, prefix string) map[string]any {
		return map[string]any{
			"id": id, "name": core.NameOf(id), "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
			"properties": map[string]any{
				"provisioningState": "Succeeded", "peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
				"allowVirtualNetworkAccess": true, "allowForwardedTraffic": true,
				"remoteVirtualNetwork": map[string]string{"id": remote},
				"remoteAddressSpace":   map[string]any{"addressPrefixes": []string{prefix}},
			},
		}
	}
	vnet := map[string]any{
		"id": newVNet, "name": "spoke-new-vnet", "type": core.TypeVirtualNetwork, "location": "westeurope",
		"tags": map[string]string{"team": "claims", "env": "prod"},
		"properties": map[string]any{
			"provisioningState": "Succeeded",
			"addressSpace":      map[string]any{"addressPrefixes": []string{"10.2.0.0/16"}},
			"subnets": []any{map[string]any{
				"id": newVNet + "/subnets/snet-app", "name": "snet-app", "type": "Microsoft.Network/virtualNetworks/subnets",
				"properties": map[string]any{"addressPrefix": "10.2.1.0/24", "provisioningState": "Succeeded"},
			}},
			"virtualNetworkPeerings": []any{peering(newVNet+"/virtualNetworkPeerings/"+nameOnNew, peerID, "10.0.0.0/16")},
		},
	}
	for _, r := range []map[string]any{vnet, peering(peerID+"/virtualNetworkPeerings/"+nameOnPeer, newVNet, "10.2.0.0/16")} {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := w.sb.Put(b); err != nil {
			return fmt.Errorf("demo: peer spoke-new-vnet with %s: %w", core.NameOf(peerID), err)
		}
	}
	return nil
}
