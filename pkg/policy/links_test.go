package policy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
)

func TestDecideLinksWithExamplePolicy(t *testing.T) {
	p := examplePolicy(t)
	// The decisions for privatelink.fhir..., the zone workspace FHIR names
	// resolve through (the example manages the four zones of the table).
	zoneID := fhirZoneID
	spoke := func(tags map[string]string, peers ...string) core.VNet {
		v := core.VNet{ID: vnetID(subApp, "spoke-vnet"), Name: "spoke-vnet", SubscriptionID: subApp, Tags: tags,
			AddressPrefixes: []string{"10.5.0.0/16"}}
		for _, id := range peers {
			v.Peerings = append(v.Peerings, core.Peering{Name: "to-" + core.NameOf(id), RemoteVNetID: id, State: "Connected"})
		}
		return v
	}
	tests := []struct {
		name string
		in   LinkInput
		want LinkDecision
	}{
		{
			name: "vnet tagged privatelink-dns enabled is linked",
			in:   LinkInput{VNet: spoke(map[string]string{"privatelink-dns": "enabled"})},
			want: LinkDecision{ZoneID: zoneID, Link: true, Rule: "opted-in-by-tag", Reason: `link rule "opted-in-by-tag" matched`, ResolutionPolicy: "Default"},
		},
		{
			name: "vnet tagged privatelink-dns disabled is not linked",
			in:   LinkInput{VNet: spoke(map[string]string{"privatelink-dns": "disabled"})},
			want: LinkDecision{ZoneID: zoneID, Reason: "no link rule matched"},
		},
		{
			name: "vnet peered with the hub is linked",
			in:   LinkInput{VNet: spoke(nil, hubVNetID)},
			want: LinkDecision{ZoneID: zoneID, Link: true, Rule: "peered-with-hub", Reason: `link rule "peered-with-hub" matched`, ResolutionPolicy: "Default"},
		},
		{
			name: "hub peering known only from the peered vnets list is linked",
			in:   LinkInput{VNet: spoke(nil), PeeredVNets: []core.VNet{{ID: hubVNetID, Name: "hub-vnet"}}},
			want: LinkDecision{ZoneID: zoneID, Link: true, Rule: "peered-with-hub", Reason: `link rule "peered-with-hub" matched`, ResolutionPolicy: "Default"},
		},
		{
			name: "untagged unpeered vnet is not linked",
			in:   LinkInput{VNet: spoke(nil, vnetID(subApp, "other-vnet"))},
			want: LinkDecision{ZoneID: zoneID, Reason: "no link rule matched"},
		},
		{
			name: "vnet of an approved endpoint is linked",
			in:   LinkInput{VNet: spoke(nil), HasGovernedEndpoint: true},
			want: LinkDecision{ZoneID: zoneID, Link: true, Reason: "vnet holds an approved endpoint to a governed target (linkEndpointVNets)", ResolutionPolicy: "Default"},
		},
		{
			name: "vnet peered with an approved endpoint's vnet is linked",
			in:   LinkInput{VNet: spoke(nil), PeeredWithGovernedEndpointVNet: true},
			want: LinkDecision{ZoneID: zoneID, Link: true, Reason: "vnet is peered with a vnet holding an approved endpoint (linkPeeredVNets)", ResolutionPolicy: "Default"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.DecideLinks(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 4 {
				t.Fatalf("%d decisions, want one per managed zone (4)", len(got))
			}
			if diff := cmp.Diff(got[1], tt.want); diff != "" {
				t.Errorf("link to privatelink.fhir... (-got +want):\n%s", diff)
			}
		})
	}
}

// linkEndpointVNets and linkPeeredVNets link only the zones the reached
// targets need (LinkInput.NeedZones, from the private DNS table); link rules
// are not narrowed by it.
func TestDecideLinksNeedZones(t *testing.T) {
	p := examplePolicy(t)
	legacy := []string{"privatelink.azurehealthcareapis.com"}
	got, err := p.DecideLinks(LinkInput{VNet: core.VNet{ID: vnetID(subApp, "app"), Name: "app"}, HasGovernedEndpoint: true, NeedZones: legacy})
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, d := range got {
		if d.Link {
			linked = append(linked, core.NameOf(d.ZoneID))
		} else if d.Reason == "" || d.Rule != "" {
			t.Errorf("unlinked %s without a reason: %+v", core.NameOf(d.ZoneID), d)
		}
	}
	if diff := cmp.Diff(linked, legacy); diff != "" {
		t.Errorf("legacy endpoint's VNet linked to (-got +want):\n%s", diff)
	}
	// a link rule still links the zones it names
	got, err = p.DecideLinks(LinkInput{VNet: core.VNet{ID: vnetID(subApp, "app"), Name: "app", Peerings: []core.Peering{{RemoteVNetID: hubVNetID}}},
		HasGovernedEndpoint: true, NeedZones: legacy})
	if err != nil {
		t.Fatal(err)
	}
	linked = nil
	for _, d := range got {
		if d.Link {
			linked = append(linked, core.NameOf(d.ZoneID))
		}
	}
	if diff := cmp.Diff(linked, []string{"privatelink.fhir.azurehealthcareapis.com", "privatelink.azurehealthcareapis.com"}); diff != "" {
		t.Errorf("hub-peered VNet linked to (-got +want):\n%s", diff)
	}
}

func TestDecideLinksPerZone(t *testing.T) {
	const dicom = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.dicom.azurehealthcareapis.com"
	p := mustParse(t, headerPolicy+`zones:
  - `+zoneID+`
  - `+dicom+`
linkEndpointVNets: false
linkPeeredVNets: false
linkRules:
  - name: imaging-vnets-get-dicom
    when: vnet.name.startsWith("imaging-")
    zones: [privatelink.dicom.azurehealthcareapis.com]
    registrationEnabled: true
    resolutionPolicy: NxDomainRedirect
  - name: eu-vnets-get-fhir
    when: vnet.location == "westeurope" && cidrsWithin(vnet.addressPrefixes, ["10.0.0.0/8"])
    zones: [`+zoneID+`]
`)
	in := LinkInput{VNet: core.VNet{ID: vnetID(subApp, "imaging-vnet"), Location: "westeurope", AddressPrefixes: []string{"10.7.0.0/16"}}, HasGovernedEndpoint: true}
	got, err := p.DecideLinks(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []LinkDecision{
		{ZoneID: zoneID, Link: true, Rule: "eu-vnets-get-fhir", Reason: `link rule "eu-vnets-get-fhir" matched`, ResolutionPolicy: "Default"},
		{ZoneID: dicom, Link: true, Rule: "imaging-vnets-get-dicom", Reason: `link rule "imaging-vnets-get-dicom" matched`, RegistrationEnabled: true, ResolutionPolicy: "NxDomainRedirect"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("links (-got +want):\n%s", diff)
	}
	// linkEndpointVNets: false - an endpoint VNet matching no rule stays unlinked.
	in.VNet.Location = "eastus"
	in.VNet.ID = vnetID(subApp, "app-vnet")
	got, _ = p.DecideLinks(in)
	for _, d := range got {
		if d.Link {
			t.Errorf("zone %s linked by %q although linkEndpointVNets is false", d.ZoneID, d.Rule)
		}
	}
}

func TestGoverns(t *testing.T) {
	p := examplePolicy(t)
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"workspace in the governed subscription", workspaceID, true},
		{"workspace id in other casing", "/subscriptions/00000000-0000-0000-0000-0000000000AA/resourcegroups/RG-HEALTH/providers/microsoft.healthcareapis/WORKSPACES/contoso-health", true},
		{"legacy service listed by id", serviceID, true},
		{"legacy service not listed (only workspaces governed wholesale)", "/subscriptions/" + subHub + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/other", false},
		{"workspace in another subscription", "/subscriptions/" + subApp + "/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/ws", false},
		{"fhir service inside a workspace is not a target", workspaceID + "/fhirservices/fhir1", false},
		{"not a resource id", "contoso-health", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Governs(tt.id); got != tt.want {
				t.Errorf("Governs(%s) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
	if !p.GovernsTarget(workspace()) {
		t.Error("GovernsTarget(contoso-health) = false")
	}
}

func TestSettingsFromExamplePolicy(t *testing.T) {
	p := examplePolicy(t)
	type settings struct {
		Mode                       Mode
		Subscriptions              []string
		Zones                      []core.Zone
		ZoneGroup                  ZoneGroupRule
		Verification               VerifySettings
		RemoveOwnLinksOnVNetDelete bool
		LinkEndpointVNets          bool
		LinkPeeredVNets            bool
		DefaultDecision            Action
	}
	got := settings{p.Mode(), p.Subscriptions(), p.Zones(), p.ZoneGroup(), p.Verification(),
		p.RemoveOwnLinksOnVNetDelete(), p.LinkEndpointVNets(), p.LinkPeeredVNets(), p.DefaultDecision()}
	want := settings{
		Mode:          ModeEnforce,
		Subscriptions: []string{subHub},
		Zones: []core.Zone{{ID: zonePrefix + "privatelink.workspace.azurehealthcareapis.com", Name: "privatelink.workspace.azurehealthcareapis.com"},
			{ID: fhirZoneID, Name: "privatelink.fhir.azurehealthcareapis.com"},
			{ID: zonePrefix + "privatelink.dicom.azurehealthcareapis.com", Name: "privatelink.dicom.azurehealthcareapis.com"},
			{ID: zoneID, Name: "privatelink.azurehealthcareapis.com"}},
		ZoneGroup:                  ZoneGroupRule{Enabled: true, Name: "default"},
		Verification:               VerifySettings{Delay: 5 * time.Minute, Attempts: 6, Backoff: time.Minute, ProbeMetadata: true, ProbePublic: true},
		RemoveOwnLinksOnVNetDelete: true, LinkEndpointVNets: true, LinkPeeredVNets: true,
		DefaultDecision: ActionPending,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("settings (-got +want):\n%s", diff)
	}
}

func TestDefaultsAndAuditMode(t *testing.T) {
	// Audit mode: the policy still decides (the reconciler reports the plan
	// and writes nothing when Mode() is audit).
	p := mustParse(t, `version: 1
mode: audit
targets:
  ids: [`+workspaceID+`]
connectionRules:
  - name: approve-app
    when: endpoint.subscriptionId == "`+subApp+`"
    decision: approve
    description: ok
verification:
  delay: 90s
  probePublic: false
  resolver: 10.0.0.4:53
`)
	if p.Mode() != ModeAudit {
		t.Errorf("Mode() = %q, want audit", p.Mode())
	}
	if d, _ := p.DecideConnection(readableInput(subApp, "10.0.0.0/16")); d.Action != ActionApprove {
		t.Errorf("audit mode decision = %s, want approve (reported, not written)", d.Action)
	}
	want := VerifySettings{Delay: 90 * time.Second, Attempts: 6, Backoff: time.Minute, Resolver: "10.0.0.4:53", ProbeMetadata: true, ProbePublic: false}
	if diff := cmp.Diff(p.Verification(), want); diff != "" {
		t.Errorf("verification (-got +want):\n%s", diff)
	}
	if zg := p.ZoneGroup(); zg.Enabled {
		t.Errorf("zone groups enabled without managed zones: %+v", zg)
	}
	if got := p.Subscriptions(); !cmp.Equal(got, []string{subHub}) {
		t.Errorf("Subscriptions() = %v, want the listed target's subscription", got)
	}
}
