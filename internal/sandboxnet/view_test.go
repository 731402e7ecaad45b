package sandboxnet_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/verify"
)

const (
	guideHub   = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-hub-network/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	guideSpoke = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app-network/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	guideZone  = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
)

func loadGuide(t *testing.T) *sandbox.Sandbox {
	t.Helper()
	sb, err := sandbox.Load("../../testdata/scenarios/guide.yaml", sandbox.WithoutThrottling())
	if err != nil {
		t.Fatal(err)
	}
	return sb
}

// linkSpoke links the spoke VNet to the zone as a user would.
func linkSpoke(t *testing.T, sb *sandbox.Sandbox) {
	t.Helper()
	linkVNet(t, sb, guideZone, guideSpoke)
}

func linkVNet(t *testing.T, sb *sandbox.Sandbox, zoneID, vnetID string) {
	t.Helper()
	link, _ := json.Marshal(map[string]any{
		"id":       zoneID + "/virtualNetworkLinks/" + vnetID[strings.LastIndex(vnetID, "/")+1:] + "-link",
		"location": "global",
		"properties": map[string]any{
			"virtualNetwork":      map[string]string{"id": vnetID},
			"registrationEnabled": false,
		},
	})
	if err := sb.Put(link); err != nil {
		t.Fatal(err)
	}
}

func TestSandboxViewResolvesLikeAzure(t *testing.T) {
	type answer struct {
		IPs    []string
		Linked bool
		Known  bool
	}
	sb := loadGuide(t)
	v := sandboxnet.NewSandboxView(sb)
	tests := []struct {
		name       string
		vnet, fqdn string
		want       answer
	}{
		{name: "hub is linked: the legacy service's private record", vnet: guideHub, fqdn: "fhirserverxxx.azurehealthcareapis.com",
			want: answer{IPs: []string{"10.0.1.4"}, Linked: true, Known: true}},
		{name: "host name case and trailing dot do not matter", vnet: strings.ToUpper(guideHub), fqdn: "FHIRSERVERXXX.azurehealthcareapis.com.",
			want: answer{IPs: []string{"10.0.1.4"}, Linked: true, Known: true}},
		{name: "spoke is not linked: public", vnet: guideSpoke, fqdn: "fhirserverxxx.azurehealthcareapis.com",
			want: answer{Known: true}},
		{name: "workspace FHIR host: the hub's link to the legacy zone does not serve it", vnet: guideHub, fqdn: "contoso-health-patients.fhir.azurehealthcareapis.com",
			want: answer{Known: true}},
		{name: "unknown host", vnet: guideHub, fqdn: "nosuch.azurehealthcareapis.com",
			want: answer{Linked: true}},
		{name: "a VNet the sandbox does not know is linked nowhere", vnet: "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/virtualNetworks/internet", fqdn: "fhirserverxxx.azurehealthcareapis.com",
			want: answer{Known: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ips, linked, known := v.Resolve(tc.vnet, tc.fqdn)
			got := answer{IPs: ips, Linked: linked, Known: known}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Resolve(%s, %s) (-got +want):\n%s", tc.vnet, tc.fqdn, diff)
			}
		})
	}
}

// The guide's nslookup, over a real DNS server: the hub resolves privately,
// the spoke gets the public answer until it is linked, then the private one.
func TestSandboxViewDNSFollowsLinks(t *testing.T) {
	sb := loadGuide(t)
	d := sandboxnet.NewDNSServer(sandboxnet.NewSandboxView(sb))
	t.Cleanup(func() { _ = d.Close() })
	ctx := context.Background()
	lookup := func(vnet string) verify.Answer {
		t.Helper()
		addr := d.AddrFor(vnet)
		if addr == "" {
			t.Fatalf("no resolver for %s: %v", vnet, d.Err())
		}
		a, err := verify.Lookup(ctx, addr, "fhirserverxxx.azurehealthcareapis.com")
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	hub := lookup(guideHub)
	if diff := cmp.Diff(hub.Chain, []string{"fhirserverxxx.azurehealthcareapis.com", "fhirserverxxx.privatelink.azurehealthcareapis.com"}); diff != "" {
		t.Errorf("hub chain (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(hub.IPs, []string{"10.0.1.4"}); diff != "" {
		t.Errorf("hub addresses (-got +want):\n%s", diff)
	}
	spoke := lookup(guideSpoke)
	if diff := cmp.Diff(spoke.IPs, []string{sandboxnet.DefaultPublicIP}); diff != "" {
		t.Errorf("unlinked spoke addresses (-got +want):\n%s", diff)
	}
	if !strings.Contains(spoke.String(), "fhirserverxxx.trafficmanager.net") {
		t.Errorf("unlinked spoke answer lacks the Traffic Manager alias: %s", spoke)
	}
	linkSpoke(t, sb)
	after := lookup(guideSpoke)
	if diff := cmp.Diff(after.IPs, []string{"10.0.1.4"}); diff != "" {
		t.Errorf("spoke after linking (-got +want):\n%s", diff)
	}
}

func putARecord(t *testing.T, sb *sandbox.Sandbox, zoneID, name, ip string) {
	t.Helper()
	rec, _ := json.Marshal(map[string]any{
		"id":         zoneID + "/A/" + name,
		"properties": map[string]any{"ttl": 10, "aRecords": []any{map[string]any{"ipv4Address": ip}}},
	})
	if err := sb.Put(rec); err != nil {
		t.Fatal(err)
	}
}

// The migration case, as Azure resolves it: a workspace FHIR record written
// into the legacy zone ("contoso-health-patients.fhir" in
// privatelink.azurehealthcareapis.com, linked to the spoke) is never used;
// the name resolves publicly until the spoke is linked to
// privatelink.fhir.azurehealthcareapis.com holding "contoso-health-patients".
func TestWorkspaceNameIgnoresTheLegacyZone(t *testing.T) {
	sb := loadGuide(t)
	d := sandboxnet.NewDNSServer(sandboxnet.NewSandboxView(sb))
	t.Cleanup(func() { _ = d.Close() })
	const name = "contoso-health-patients.fhir.azurehealthcareapis.com"
	fhirZone := strings.Replace(guideZone, "privatelink.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", 1)
	lookup := func() verify.Answer {
		t.Helper()
		a, err := verify.Lookup(context.Background(), d.AddrFor(guideSpoke), name)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	putARecord(t, sb, guideZone, "contoso-health-patients.fhir", "10.1.2.4")
	linkSpoke(t, sb)
	a := lookup()
	if diff := cmp.Diff(a.IPs, []string{sandboxnet.DefaultPublicIP}); diff != "" {
		t.Errorf("record in the legacy zone: addresses (-got +want):\n%s\n%s", diff, a)
	}
	if len(a.Chain) < 2 || a.Chain[1] != "contoso-health-patients.privatelink.fhir.azurehealthcareapis.com" {
		t.Errorf("chain %v, want the alias in privatelink.fhir...", a.Chain)
	}
	linkVNet(t, sb, fhirZone, guideSpoke)
	if a := lookup(); a.Rcode != 3 || len(a.IPs) != 0 {
		t.Errorf("linked to privatelink.fhir... without the record: %s, want NXDOMAIN after the alias", a)
	}
	putARecord(t, sb, fhirZone, "contoso-health-patients", "10.1.2.4")
	a = lookup()
	if diff := cmp.Diff(a.Chain, []string{name, "contoso-health-patients.privatelink.fhir.azurehealthcareapis.com"}); diff != "" {
		t.Errorf("chain (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(a.IPs, []string{"10.1.2.4"}); diff != "" {
		t.Errorf("addresses (-got +want):\n%s", diff)
	}
}
