package sandbox_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/internal/sandbox"
)

// A new endpoint to a workspace holding a DICOM service gets the DICOM host
// name in its customDnsConfigs beside the FHIR one, as Azure gives a
// workspace endpoint a name per member service.
func TestNewWorkspaceEndpointNamesItsDICOMService(t *testing.T) {
	sb, err := sandbox.Load("../../testdata/scenarios/workspace-and-legacy.yaml", sandbox.WithoutThrottling())
	if err != nil {
		t.Fatal(err)
	}
	const (
		ws  = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
		sub = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet/subnets/snet-endpoints"
		pe  = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/privateEndpoints/pe-imaging"
	)
	body := `{"id": "` + pe + `", "type": "Microsoft.Network/privateEndpoints", "location": "westeurope",
	  "properties": {"subnet": {"id": "` + sub + `"},
	    "manualPrivateLinkServiceConnections": [{"name": "pe-imaging", "properties": {
	      "privateLinkServiceId": "` + ws + `", "groupIds": ["healthcareworkspace"], "requestMessage": "imaging"}}]}}`
	if err := sb.Put(json.RawMessage(body)); err != nil {
		t.Fatal(err)
	}
	raw, ok := sb.Get(pe)
	if !ok {
		t.Fatal("endpoint not stored")
	}
	var got struct {
		Properties struct {
			CustomDNSConfigs []struct {
				FQDN string `json:"fqdn"`
			} `json:"customDnsConfigs"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range got.Properties.CustomDNSConfigs {
		names = append(names, c.FQDN)
	}
	if strings.Join(names, " ") != "contoso-health-patients.fhir.azurehealthcareapis.com contoso-health-images.dicom.azurehealthcareapis.com" {
		t.Errorf("customDnsConfigs names %v, want the FHIR and the DICOM host names", names)
	}
}
