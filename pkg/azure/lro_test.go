package azure

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// A VNet link create whose LRO does not finish within Config.LROWait
// returns InProgress with a resume token instead of blocking the job.
func TestEnsureVNetLinkBoundedWait(t *testing.T) {
	const opURL = "https://management.azure.com/subscriptions/" + sub + "/providers/Microsoft.Network/privateDnsOperationStatuses/op1?api-version=2024-06-01"
	var sawIfNoneMatch string
	c, tr := newScripted(t, Config{LROWait: 50 * time.Millisecond, PollInterval: 5 * time.Millisecond},
		func(_ int, req *http.Request) *http.Response {
			switch {
			case req.Method == http.MethodGet && strings.HasSuffix(req.URL.Path, "/virtualNetworkLinks"):
				return respond(200, `{"value":[]}`)
			case req.Method == http.MethodPut:
				sawIfNoneMatch = req.Header.Get("If-None-Match")
				return respond(202, "", "Azure-AsyncOperation", opURL, "Location", opURL)
			case strings.Contains(req.URL.Path, "privateDnsOperationStatuses"):
				return respond(200, `{"status":"InProgress"}`)
			}
			return armError(404, "NotFound")
		})
	res, err := c.EnsureVNetLink(context.Background(), core.LinkSpec{ZoneID: zoneID, VNetID: vnetID})
	if err != nil {
		t.Fatalf("EnsureVNetLink: %v", err)
	}
	if !res.Changed || !res.InProgress || res.ResumeToken == "" {
		t.Errorf("got %+v, want changed, in progress, with a resume token", res)
	}
	if sawIfNoneMatch != "*" {
		t.Errorf("create sent If-None-Match %q, want *", sawIfNoneMatch)
	}
	if tr.count() < 3 {
		t.Errorf("got %d requests, want list, put and at least one poll", tr.count())
	}
}

// The adapter never moves a decided connection anywhere but
// Approved -> Rejected, and never writes for a description alone.
func TestSetConnectionStatusTransitions(t *testing.T) {
	tests := []struct {
		name      string
		have      string
		want      core.ConnectionStatus
		wantWrite bool
		wantCode  string
	}{
		{"pending to approved", "Pending", core.StatusApproved, true, ""},
		{"pending to rejected", "Pending", core.StatusRejected, true, ""},
		{"approved to rejected is a revoke", "Approved", core.StatusRejected, true, ""},
		{"approved stays approved without a write", "Approved", core.StatusApproved, false, ""},
		{"rejected stays rejected without a write", "Rejected", core.StatusRejected, false, ""},
		{"rejected is never approved", "Rejected", core.StatusApproved, false, CodeInvalidTransition},
		{"disconnected is never approved", "Disconnected", core.StatusApproved, false, CodeInvalidTransition},
		{"pending is not a wanted status", "Approved", core.StatusPending, false, CodeInvalidSpec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"id":"` + connRaw + `","name":"pe1.conn","properties":{"privateEndpoint":{"id":"` + peID + `"},` +
				`"privateLinkServiceConnectionState":{"status":"` + tt.have + `","description":"old words"}}}`
			var puts int
			c, _ := newScripted(t, Config{}, func(_ int, req *http.Request) *http.Response {
				if req.Method == http.MethodPut {
					puts++
				}
				return respond(200, body)
			})
			res, err := c.SetConnectionStatus(context.Background(), core.Connection{ID: connRaw}, tt.want, "new words")
			if tt.wantCode != "" {
				var ce *core.Error
				if !asCoreError(err, &ce) || ce.Class != core.Fatal || ce.Code != tt.wantCode {
					t.Fatalf("got %v, want fatal %s", err, tt.wantCode)
				}
			} else if err != nil {
				t.Fatalf("SetConnectionStatus: %v", err)
			}
			if (puts == 1) != tt.wantWrite || res.Changed != tt.wantWrite {
				t.Errorf("got %d writes, Changed %v; want write %v", puts, res.Changed, tt.wantWrite)
			}
		})
	}
}

// When the endpoint GET carries NIC references without their ip
// configurations (and no customDnsConfigs), the adapter reads the NICs.
func TestGetEndpointReadsUnexpandedNICs(t *testing.T) {
	const nicID = "/subscriptions/" + sub + "/resourceGroups/rg-net/providers/Microsoft.Network/networkInterfaces/pe1.nic"
	c, tr := newScripted(t, Config{}, func(_ int, req *http.Request) *http.Response {
		switch {
		case strings.HasSuffix(req.URL.Path, "/privateEndpoints/pe1"):
			return respond(200, `{"id":"`+peID+`","name":"pe1","properties":{"subnet":{"id":"`+vnetID+`/subnets/s"},"networkInterfaces":[{"id":"`+nicID+`"}]}}`)
		case strings.HasSuffix(req.URL.Path, "/networkInterfaces/pe1.nic"):
			return respond(200, `{"id":"`+nicID+`","properties":{"ipConfigurations":[{"properties":{"privateIPAddress":"10.0.0.7"}}]}}`)
		case strings.HasSuffix(req.URL.Path, "/privateDnsZoneGroups"):
			return respond(200, `{"value":[]}`)
		}
		return armError(404, "NotFound")
	})
	e, err := c.GetEndpoint(context.Background(), peID)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.PrivateIPs) != 1 || e.PrivateIPs[0] != "10.0.0.7" {
		t.Errorf("got private IPs %v, want [10.0.0.7] from the NIC", e.PrivateIPs)
	}
	if tr.count() != 3 {
		t.Errorf("got %d requests (%v), want endpoint, NIC and zone groups", tr.count(), tr.requests)
	}
}
