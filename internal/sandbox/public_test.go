package sandbox

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	hc "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	"github.com/plautopilot/autopilot/pkg/clock"
)

// putWorkspaceAccess sets ws1's publicNetworkAccess through ARM, as the
// autopilot does (a workspace PUT).
func putWorkspaceAccess(t *testing.T, c clients, access string) {
	t.Helper()
	ctx := context.Background()
	got, err := c.ws.Get(ctx, "rg-health", "ws1", nil)
	if err != nil {
		t.Fatal(err)
	}
	body := hc.Workspace{Location: got.Location, Tags: got.Tags,
		Properties: &hc.WorkspaceProperties{PublicNetworkAccess: to.Ptr(hc.PublicNetworkAccess(access))}}
	p, err := c.ws.BeginCreateOrUpdate(ctx, "rg-health", "ws1", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// Public access changes reach the data plane only after the propagation
// delay (the guide: "up to 5 minutes"), on the sandbox's clock: ARM reads
// the new setting at once, the public listener enforces the old one until
// the delay has passed. A change back restarts the delay from what is
// enforced at that moment.
func TestPublicAccessTakesTheDelayToApply(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	start := clk.Now()
	sb, c := loadMinimal(t, WithClock(clk), WithPublicAccessDelay(5*time.Minute), WithoutThrottling())

	pa, ok := sb.PublicAccess(ws1)
	if !ok || pa.Setting != "Enabled" || pa.Refused() || !pa.ChangedAt.IsZero() {
		t.Fatalf("at load: %+v %v, want Enabled, enforced, no change", pa, ok)
	}

	putWorkspaceAccess(t, c, "Disabled")
	pa, _ = sb.PublicAccess(ws1)
	if pa.Setting != "Disabled" || pa.Refused() || !pa.ChangedAt.Equal(start) || !pa.EnforcedAt.Equal(start.Add(5*time.Minute)) {
		t.Fatalf("right after the PUT: %+v, want Disabled set, Enabled still enforced until %s", pa, start.Add(5*time.Minute))
	}
	clk.Advance(5*time.Minute - time.Second)
	if pa, _ = sb.PublicAccess(ws1); pa.Refused() {
		t.Fatalf("1 s before the delay: %+v, want still open", pa)
	}
	clk.Advance(time.Second)
	if pa, _ = sb.PublicAccess(ws1); !pa.Refused() || pa.Enforced != "Disabled" {
		t.Fatalf("after the delay: %+v, want refused", pa)
	}

	// Someone turns it back on (a user PUT of the whole resource): refused
	// until the delay has passed again.
	raw, _ := sb.Get(ws1)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["properties"].(map[string]any)["publicNetworkAccess"] = "Enabled"
	delete(m["properties"].(map[string]any), "privateEndpointConnections")
	b, _ := json.Marshal(m)
	if err := sb.Put(b); err != nil {
		t.Fatal(err)
	}
	if pa, _ = sb.PublicAccess(ws1); !pa.Refused() || pa.Setting != "Enabled" {
		t.Fatalf("right after turning it back on: %+v, want Enabled set, still refused", pa)
	}
	clk.Advance(5 * time.Minute)
	if pa, _ = sb.PublicAccess(ws1); pa.Refused() {
		t.Fatalf("5 min after turning it back on: %+v, want open", pa)
	}

	if _, ok := sb.PublicAccess(pe1); ok {
		t.Errorf("an endpoint has no public access to report")
	}
}

// The scenario's publicAccessDelay sets the delay ("0s": at once); a
// negative one is refused naming the setting.
func TestScenarioPublicAccessDelay(t *testing.T) {
	sc, err := ParseScenario([]byte("publicAccessDelay: 0s\nresources: []\n"), ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	sb, err := New(sc)
	if err != nil {
		t.Fatal(err)
	}
	if sb.publicDelay != 0 {
		t.Errorf("publicAccessDelay 0s: delay %s, want 0", sb.publicDelay)
	}
	if sb, _ := New(&Scenario{}); sb.publicDelay != DefaultPublicAccessDelay {
		t.Errorf("no setting: delay %s, want %s", sb.publicDelay, DefaultPublicAccessDelay)
	}
	sc, err = ParseScenario([]byte("publicAccessDelay: -1m\nresources: []\n"), ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(sc); err == nil || !strings.Contains(err.Error(), "publicAccessDelay -1m0s is negative") {
		t.Errorf("negative delay: err %v, want it refused naming publicAccessDelay", err)
	}
}
