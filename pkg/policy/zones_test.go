package policy

import (
	"strings"
	"testing"
)

const zonePrefix = "/subscriptions/" + subHub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/"

func zonesPolicy(targets string, zones ...string) string {
	src := "apiVersion: autopilot.plautopilot.io/v1\nmode: enforce\n" + targets + "zones:\n"
	for _, z := range zones {
		src += "  - " + zonePrefix + z + "\n"
	}
	return src + "defaultDecision: pending\n"
}

func TestZoneWarnings(t *testing.T) {
	workspaces := "targets:\n  subscriptions: [" + subHub + "]\n  allOfType: [workspaces]\n"
	legacy := "targets:\n  ids: [" + serviceID + "]\n"
	both := "targets:\n  subscriptions: [" + subHub + "]\n  allOfType: [workspaces]\n  ids: [" + serviceID + "]\n"
	all := []string{"privatelink.workspace.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "privatelink.dicom.azurehealthcareapis.com", "privatelink.azurehealthcareapis.com"}
	tests := []struct {
		name  string
		src   string
		want  []string // substrings, one warning each
		count int
	}{
		{"example policy: the four zones fit", "", nil, 0},
		{"workspaces and legacy with the four zones", zonesPolicy(both, all...), nil, 0},
		{"workspaces with only the old zone (the pre-table layout)", zonesPolicy(workspaces, "privatelink.azurehealthcareapis.com"),
			[]string{"need the private DNS zone privatelink.workspace.azurehealthcareapis.com",
				"need the private DNS zone privatelink.fhir.azurehealthcareapis.com (names under fhir.azurehealthcareapis.com)",
				"need the private DNS zone privatelink.dicom.azurehealthcareapis.com",
				"privatelink.azurehealthcareapis.com serves none of the governed targets"}, 4},
		{"legacy only with the workspace zones", zonesPolicy(legacy, all[:3]...),
			[]string{"governed services need the private DNS zone privatelink.azurehealthcareapis.com",
				"privatelink.workspace.azurehealthcareapis.com serves none", "privatelink.fhir.azurehealthcareapis.com serves none", "privatelink.dicom.azurehealthcareapis.com serves none"}, 4},
		{"a zone outside the table", zonesPolicy(legacy, "privatelink.azurehealthcareapis.com", "privatelink.blob.core.windows.net"),
			[]string{"privatelink.blob.core.windows.net serves none of the governed targets: it is not a zone of the private DNS table"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p *Policy
			if tt.src == "" {
				p = examplePolicy(t)
			} else {
				p = mustParse(t, tt.src)
			}
			got := p.ZoneWarnings()
			if len(got) != tt.count {
				t.Fatalf("%d warnings, want %d:\n%s", len(got), tt.count, strings.Join(got, "\n"))
			}
			for _, w := range tt.want {
				found := false
				for _, g := range got {
					found = found || strings.Contains(g, w)
				}
				if !found {
					t.Errorf("no warning contains %q:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}
