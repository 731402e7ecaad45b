package azure

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// TestLiveReadEndpointAndZone reads a real private endpoint (with its VNet)
// and a real private DNS zone (links, A records) through the production
// client. It needs AZURE_SUBSCRIPTION_ID, credentials DefaultAzureCredential
// accepts (e.g. az login), AUTOPILOT_LIVE_ENDPOINT_ID and
// AUTOPILOT_LIVE_ZONE_ID. It only reads.
func TestLiveReadEndpointAndZone(t *testing.T) {
	subID := os.Getenv("AZURE_SUBSCRIPTION_ID")
	endpointID := os.Getenv("AUTOPILOT_LIVE_ENDPOINT_ID")
	zoneID := os.Getenv("AUTOPILOT_LIVE_ZONE_ID")
	if subID == "" || endpointID == "" || zoneID == "" {
		t.Skip("live Azure test: set AZURE_SUBSCRIPTION_ID, AUTOPILOT_LIVE_ENDPOINT_ID and AUTOPILOT_LIVE_ZONE_ID (and log in) to run")
	}
	cred, err := NewCredential(os.Getenv("AZURE_CLIENT_ID"), InAzure(os.Getenv))
	if err != nil {
		t.Skipf("live Azure test: no usable credential: %v", err)
	}
	c, err := New(cred, nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	e, err := c.GetEndpoint(ctx, endpointID)
	if err != nil {
		t.Fatalf("GetEndpoint(%s): %v", endpointID, err)
	}
	if !core.SameID(e.ID, endpointID) || e.VNetID == "" || len(e.PrivateIPs) == 0 {
		t.Errorf("endpoint %+v: want its id, a vnet and private IPs", e)
	}
	v, err := c.GetVNet(ctx, e.VNetID)
	if err != nil {
		t.Fatalf("GetVNet(%s): %v", e.VNetID, err)
	}
	if len(v.AddressPrefixes) == 0 {
		t.Errorf("vnet %s has no address prefixes", v.ID)
	}
	z, err := c.GetZone(ctx, zoneID)
	if err != nil {
		t.Fatalf("GetZone(%s): %v", zoneID, err)
	}
	links, err := c.ListVNetLinks(ctx, zoneID)
	if err != nil {
		t.Fatalf("ListVNetLinks(%s): %v", zoneID, err)
	}
	records, err := c.ListARecords(ctx, zoneID)
	if err != nil {
		t.Fatalf("ListARecords(%s): %v", zoneID, err)
	}
	t.Logf("endpoint %s in %s with IPs %v; zone %s: %d links, %d A records", e.Name, v.Name, e.PrivateIPs, z.Name, len(links), len(records))
}
