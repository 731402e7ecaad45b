package replay

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// A workspace endpoint and a legacy endpoint, the four zones of the private
// DNS table, the example policy: the workspace endpoint's zone group names
// the workspace, fhir and dicom zones, the legacy endpoint's only
// privatelink.azurehealthcareapis.com; the VNets that reach the workspace
// are linked to privatelink.fhir..., and the records land where Azure would
// put them.
func TestReplayZonesFollowTheDNSTable(t *testing.T) {
	sb, err := sandbox.Load(root+"testdata/scenarios/workspace-and-legacy.yaml", sandbox.WithoutThrottling())
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Options{Sandbox: sb, Policy: loadPolicy(t, false),
		Deliveries: deliveries(t, "endpoint-write.eventgrid.json", "connection-write-service.eventgrid.json"),
		Start:      time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]string{}
	links := map[string][]string{}
	for _, l := range rep.Lines {
		switch l.Action {
		case "add-zone-group":
			groups[core.NameOf(l.Target)] = nil
		case "create-link":
			links[core.NameOf(l.Target)] = append(links[core.NameOf(l.Target)], core.NameOf(l.Zone))
		case "dns-finding":
			t.Errorf("finding with the four zones managed: %s", l.Reason)
		}
	}
	for ep := range groups {
		groups[ep] = zoneGroupZones(t, sb, ep)
	}
	want := map[string][]string{
		"pe-app-fhir":   {"privatelink.dicom.azurehealthcareapis.com", "privatelink.fhir.azurehealthcareapis.com", "privatelink.workspace.azurehealthcareapis.com"},
		"pe-app-legacy": {"privatelink.azurehealthcareapis.com"},
	}
	for ep, zones := range want {
		if !slices.Equal(groups[ep], zones) {
			t.Errorf("zone group of %s names %v, want %v", ep, groups[ep], zones)
		}
	}
	for _, vnet := range []string{"spoke-app-vnet", "hub-vnet"} {
		if !slices.Contains(links[vnet], "privatelink.fhir.azurehealthcareapis.com") {
			t.Errorf("%s reaches the workspace but was not linked to privatelink.fhir...: links %v", vnet, links[vnet])
		}
	}
	recs := aRecords(t, sb)
	for _, r := range []string{"privatelink.fhir.azurehealthcareapis.com/contoso-health-patients 10.1.2.4", "privatelink.azurehealthcareapis.com/fhirserverxxx 10.1.2.5"} {
		if !slices.Contains(recs, r) {
			t.Errorf("no record %s among %v", r, recs)
		}
	}
	for _, r := range recs {
		if strings.Contains(r, ".fhir ") || strings.HasPrefix(r, "privatelink.azurehealthcareapis.com/contoso") {
			t.Errorf("a workspace record in the legacy zone: %s", r)
		}
	}
}

func zoneGroupZones(t *testing.T, sb *sandbox.Sandbox, endpoint string) []string {
	t.Helper()
	var out []string
	for _, r := range snapshot(t, sb) {
		if strings.Contains(strings.ToLower(r.ID), "/privateendpoints/"+endpoint+"/privatednszonegroups/") {
			for _, c := range r.Properties.Configs {
				out = append(out, core.NameOf(c.Properties.Zone))
			}
		}
	}
	slices.Sort(out)
	return out
}

func aRecords(t *testing.T, sb *sandbox.Sandbox) []string {
	t.Helper()
	var out []string
	for _, r := range snapshot(t, sb) {
		if strings.EqualFold(r.Type, "Microsoft.Network/privateDnsZones/A") {
			zone := core.NameOf(r.ID[:strings.LastIndex(strings.ToLower(r.ID), "/a/")])
			for _, a := range r.Properties.ARecords {
				out = append(out, zone+"/"+core.NameOf(r.ID)+" "+a.IP)
			}
		}
	}
	return out
}

type snapRes struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Properties struct {
		Configs []struct {
			Properties struct {
				Zone string `json:"privateDnsZoneId"`
			} `json:"properties"`
		} `json:"privateDnsZoneConfigs"`
		ARecords []struct {
			IP string `json:"ipv4Address"`
		} `json:"aRecords"`
	} `json:"properties"`
}

func snapshot(t *testing.T, sb *sandbox.Sandbox) []snapRes {
	t.Helper()
	var out []snapRes
	for _, raw := range sb.Snapshot() {
		var r snapRes
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
