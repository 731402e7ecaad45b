package azure

import (
	"context"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"

	"github.com/plautopilot/autopilot/pkg/core"
)

// DICOM services of a workspace. They sit behind the workspace's private
// endpoint connections (group id healthcareworkspace) like its FHIR
// services, and clients reach them at {workspace}-{dicom}.dicom.azurehealthcareapis.com,
// resolved privately through privatelink.dicom.azurehealthcareapis.com
// (core.DNSTable). Verification covers these host names too, so a
// workspace's host names (Target.FQDNs) list them beside the FHIR ones.

// workspaceDICOMFQDNs lists a workspace's DICOM services (one list read,
// DicomServicesClient.NewListByWorkspacePager) and returns their host names.
func (c *Client) workspaceDICOMFQDNs(ctx context.Context, f *factories, rg, ws string) ([]string, error) {
	var out []string
	pager := f.health.NewDicomServicesClient().NewListByWorkspacePager(rg, ws, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, d := range page.Value {
			out = appendUnique(out, dicomFQDN(ws, d, c.cfg.FHIRDomain))
		}
	}
	return out, nil
}

// dicomFQDN is a DICOM service's host name: {workspace}-{dicom}.dicom.{domain}
// (the label before the domain from the private DNS table).
func dicomFQDN(workspace string, d *armhealthcareapis.DicomService, domain string) string {
	if d == nil || workspace == "" {
		return ""
	}
	name := nameOr(d.Name, str(d.ID))
	if name == "" {
		return ""
	}
	label := "dicom."
	for _, z := range core.ZonesForKind(core.TargetWorkspace) {
		if z.Service == core.DNSServiceDICOM {
			label = strings.TrimSuffix(z.PublicSuffix, core.HealthcareDomain)
		}
	}
	return strings.ToLower(workspace + "-" + name + "." + label + domain)
}
