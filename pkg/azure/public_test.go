package azure

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/core"
)

// Closing the public door of the guide's workspace (PUT) and of the legacy
// service (PATCH): the setting changes, the connections stay, a second call
// sends nothing, and a bad value is refused before any call.
func TestSetPublicNetworkAccess(t *testing.T) {
	sb, err := sandbox.Load("../../testdata/scenarios/workspace-and-legacy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := DefaultClientOptions()
	o.Transport = sb.Transport()
	o.Retry.RetryDelay = time.Millisecond
	c, err := New(sb.Credential(), o, Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	legacy := gA + "/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	for _, tc := range []struct{ id, from, to string }{
		{gWorkspace, "Enabled", "Disabled"},
		{legacy, "Disabled", "Enabled"},
	} {
		before, err := c.GetTarget(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if before.PublicNetworkAccess != tc.from {
			t.Fatalf("%s starts %q, want %q", before.Name, before.PublicNetworkAccess, tc.from)
		}
		res, err := c.SetPublicNetworkAccess(ctx, before, tc.to)
		if err != nil || !res.Changed {
			t.Fatalf("%s: set %s: %+v, %v; want changed", before.Name, tc.to, res, err)
		}
		after, err := c.GetTarget(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		if after.PublicNetworkAccess != tc.to || len(after.Connections) != len(before.Connections) {
			t.Errorf("%s after: %q with %d connections, want %q with %d", after.Name, after.PublicNetworkAccess,
				len(after.Connections), tc.to, len(before.Connections))
		}
		writes := sb.Stats().Writes
		res, err = c.SetPublicNetworkAccess(ctx, after, tc.to)
		if err != nil || res.Changed || sb.Stats().Writes != writes {
			t.Errorf("%s: second call %+v, %v, %d writes sent; want unchanged, none sent", after.Name, res, err, sb.Stats().Writes-writes)
		}
	}
	_, err = c.SetPublicNetworkAccess(ctx, core.Target{ID: gWorkspace}, "Closed")
	if err == nil || core.ClassOf(err) != core.Fatal || !strings.Contains(err.Error(), `"Closed" is neither Enabled nor Disabled`) {
		t.Errorf("bad value: %v, want a fatal error naming it", err)
	}
}
