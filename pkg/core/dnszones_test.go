package core

import (
	"reflect"
	"testing"
)

// Every row of Microsoft's private endpoint DNS table for the two target
// types (Azure API for FHIR, Health Data Services workspaces).
func TestDNSTableMatchesMicrosoftTable(t *testing.T) {
	want := map[string]struct {
		kind   TargetKind
		zones  []string
		public []string
	}{
		"fhir": {TargetService, []string{"privatelink.azurehealthcareapis.com"}, []string{"azurehealthcareapis.com"}},
		"healthcareworkspace": {TargetWorkspace,
			[]string{"privatelink.workspace.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "privatelink.dicom.azurehealthcareapis.com"},
			[]string{"workspace.azurehealthcareapis.com", "fhir.azurehealthcareapis.com", "dicom.azurehealthcareapis.com"}},
	}
	rows := DNSTable()
	if len(rows) != len(want) {
		t.Fatalf("table has %d rows, want %d", len(rows), len(want))
	}
	for _, row := range rows {
		w, ok := want[row.GroupID]
		if !ok {
			t.Fatalf("unexpected group id %q", row.GroupID)
		}
		var zones, public []string
		for _, z := range row.Zones {
			zones = append(zones, z.Zone)
			public = append(public, z.PublicSuffix)
		}
		if row.Kind != w.kind || !reflect.DeepEqual(zones, w.zones) || !reflect.DeepEqual(public, w.public) {
			t.Errorf("%s: got kind %s zones %v public %v; want %s %v %v", row.GroupID, row.Kind, zones, public, w.kind, w.zones, w.public)
		}
		if got := ZonesForGroupID(row.GroupID); !reflect.DeepEqual(got, row.Zones) {
			t.Errorf("ZonesForGroupID(%s) = %v", row.GroupID, got)
		}
		if got := ZonesForKind(row.Kind); !reflect.DeepEqual(got, row.Zones) {
			t.Errorf("ZonesForKind(%s) = %v", row.Kind, got)
		}
		if KindOfResourceType(row.ResourceType) != row.Kind {
			t.Errorf("KindOfResourceType(%s) != %s", row.ResourceType, row.Kind)
		}
	}
}

func TestZoneForFQDNAndAlias(t *testing.T) {
	cases := []struct {
		fqdn, zone, record, alias string
	}{
		{"contoso-health-patients.fhir.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "contoso-health-patients", "contoso-health-patients.privatelink.fhir.azurehealthcareapis.com"},
		{"contoso-health.workspace.azurehealthcareapis.com", "privatelink.workspace.azurehealthcareapis.com", "contoso-health", "contoso-health.privatelink.workspace.azurehealthcareapis.com"},
		{"contoso-health-images.dicom.azurehealthcareapis.com.", "privatelink.dicom.azurehealthcareapis.com", "contoso-health-images", "contoso-health-images.privatelink.dicom.azurehealthcareapis.com"},
		{"FHIRServerXXX.AzureHealthcareAPIs.com", "privatelink.azurehealthcareapis.com", "fhirserverxxx", "fhirserverxxx.privatelink.azurehealthcareapis.com"},
		{"fhirserverxxx.privatelink.azurehealthcareapis.com", "privatelink.azurehealthcareapis.com", "fhirserverxxx", "fhirserverxxx.privatelink.azurehealthcareapis.com"},
		{"ws-p.privatelink.fhir.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "ws-p", "ws-p.privatelink.fhir.azurehealthcareapis.com"},
	}
	for _, c := range cases {
		z, rec, ok := ZoneForFQDN(c.fqdn)
		if !ok || z.Zone != c.zone || rec != c.record {
			t.Errorf("ZoneForFQDN(%s) = %s %q %v; want %s %q", c.fqdn, z.Zone, rec, ok, c.zone, c.record)
		}
		if a, _ := PrivateLinkAlias(c.fqdn); a != c.alias {
			t.Errorf("PrivateLinkAlias(%s) = %s; want %s", c.fqdn, a, c.alias)
		}
	}
	for _, bad := range []string{"example.com", "azurehealthcareapis.com", "fhir.azurehealthcareapis.com", "evil.fhir.example.net", ""} {
		if z, rec, ok := ZoneForFQDN(bad); ok {
			t.Errorf("ZoneForFQDN(%q) = %s %q, want no match", bad, z.Zone, rec)
		}
	}
}
