package sandbox

import (
	"strings"

	azfake "github.com/Azure/azure-sdk-for-go/sdk/azcore/fake"
	hc "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	hcfake "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis/fake"

	"github.com/plautopilot/autopilot/pkg/core"
)

// DICOM services of a workspace (Microsoft.HealthcareApis/workspaces/dicomservices).
// A scenario lists them as resources of that type; the ARM routes GET and
// list them per workspace (DicomServicesClient), and a workspace's host
// names - the customDnsConfigs of a new endpoint to it, hence its A
// records in privatelink.dicom... through the zone group - include
// {workspace}-{dicom}.dicom.azurehealthcareapis.com beside its FHIR services'.
const tDicom = "microsoft.healthcareapis/workspaces/dicomservices"

func init() { canonicalType[tDicom] = "Microsoft.HealthcareApis/workspaces/dicomservices" }

// dicomFQDNs are the public host names of the DICOM services of a workspace.
func (s *Sandbox) dicomFQDNs(workspaceID string) []string {
	var out []string
	for _, d := range s.children(workspaceID, tDicom) {
		out = append(out, strings.ToLower(core.NameOf(workspaceID)+"-"+core.NameOf(d.id))+"."+publicSuffix(core.TargetWorkspace, core.DNSServiceDICOM))
	}
	return out
}

func dicomServer(s *Sandbox) hcfake.DicomServicesServer {
	return hcfake.DicomServicesServer{
		Get: func(ctx, string, string, string, *hc.DicomServicesClientGetOptions) (azfake.Responder[hc.DicomServicesClientGetResponse], azfake.ErrorResponder) {
			return getR[hc.DicomServicesClientGetResponse](s)
		},
		NewListByWorkspacePager: func(string, string, *hc.DicomServicesClientListByWorkspaceOptions) azfake.PagerResponder[hc.DicomServicesClientListByWorkspaceResponse] {
			return pageR[hc.DicomServicesClientListByWorkspaceResponse](s)
		},
	}
}
