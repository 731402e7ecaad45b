package azure

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"

	"github.com/plautopilot/autopilot/internal/sandbox"
)

// A workspace's host names are its FHIR services' and its DICOM services'
// (DicomServicesClient list by workspace); the connections-only read has
// none, and a sandbox scenario with a DICOM service loads without a
// "not modelled" warning.
func TestWorkspaceHostNamesIncludeDICOM(t *testing.T) {
	sb, err := sandbox.Load("../../testdata/scenarios/workspace-and-legacy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range sb.Warnings() {
		if strings.Contains(w, "dicomservices") {
			t.Errorf("sandbox warning: %s", w)
		}
	}
	o := DefaultClientOptions()
	o.Transport = sb.Transport()
	o.Retry.RetryDelay = time.Millisecond
	c, err := New(sb.Credential(), o, Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	want := []string{"contoso-health-patients.fhir.azurehealthcareapis.com", "contoso-health-images.dicom.azurehealthcareapis.com"}
	tg, err := c.GetTarget(ctx, gWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tg.FQDNs, want) {
		t.Errorf("GetTarget host names %v, want %v", tg.FQDNs, want)
	}
	if got, err := c.TargetFQDNs(ctx, gWorkspace); err != nil || !slices.Equal(got, want) {
		t.Errorf("TargetFQDNs = %v, %v; want %v", got, err, want)
	}
	conns, err := c.GetTargetConnections(ctx, gWorkspace)
	if err != nil || len(conns.FQDNs) != 0 {
		t.Errorf("GetTargetConnections host names %v, %v; want none (one read)", conns.FQDNs, err)
	}
	ts, err := c.ListTargets(ctx, strings.TrimPrefix(gA, "/subscriptions/"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range ts {
		if strings.EqualFold(x.ID, gWorkspace) {
			found = true
			if !slices.Equal(x.FQDNs, want) {
				t.Errorf("ListTargets host names %v, want %v", x.FQDNs, want)
			}
		}
	}
	if !found {
		t.Errorf("ListTargets lacks the workspace")
	}
}

func TestDICOMFQDN(t *testing.T) {
	name, id := "contoso-health/images", gWorkspace+"/dicomservices/images"
	for _, tc := range []struct {
		name, id, domain, want string
	}{
		{name, id, "azurehealthcareapis.com", "contoso-health-images.dicom.azurehealthcareapis.com"},
		{"", id, "azurehealthcareapis.com", "contoso-health-images.dicom.azurehealthcareapis.com"},
		{"", "", "azurehealthcareapis.com", ""},
	} {
		d := dicomService(tc.name, tc.id)
		if got := dicomFQDN("Contoso-Health", d, tc.domain); got != tc.want {
			t.Errorf("dicomFQDN(%q, %q) = %q, want %q", tc.name, tc.id, got, tc.want)
		}
	}
	if got := dicomFQDN("", dicomService(name, id), "azurehealthcareapis.com"); got != "" {
		t.Errorf("no workspace: %q, want none", got)
	}
}

func dicomService(name, id string) *armhealthcareapis.DicomService {
	d := &armhealthcareapis.DicomService{}
	if name != "" {
		d.Name = &name
	}
	if id != "" {
		d.ID = &id
	}
	return d
}
