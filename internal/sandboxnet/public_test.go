package sandboxnet_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/verify"
)

const (
	guideWorkspace = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	guideWsFHIR    = "contoso-health-patients.fhir.azurehealthcareapis.com"
	guideLegacy    = "fhirserverxxx.azurehealthcareapis.com"
)

// publicProbe runs only the verifier's public probe against url.
func publicProbe(t *testing.T, n *sandboxnet.Network, url string) verify.CheckResult {
	t.Helper()
	v := n.Verifier(nil)
	v.Timeout = 5 * time.Second
	rep := v.Run(context.Background(), verify.Subject{PublicURL: url})
	for _, c := range rep.Checks {
		if strings.HasPrefix(c.Name, "public GET ") {
			return c
		}
	}
	t.Fatalf("no public probe in the report:\n%s", rep.Text())
	return verify.CheckResult{}
}

// The public listener answers as Azure does, per target: the workspace's
// FHIR service (public access Enabled) serves its CapabilityStatement to an
// anonymous client from the internet; the legacy service (Disabled) answers
// 403 "Access to fhirserverxxx was denied."; a host no target serves, 404.
// Once the workspace's publicNetworkAccess is set to Disabled through ARM
// (the autopilot's write), the public listener keeps answering 200 until
// the propagation delay has passed on the sandbox clock, then 403; the
// verifier's public probe fails before and passes after.
func TestPublicListenerFollowsPublicNetworkAccess(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	sb, err := sandbox.Load("../../testdata/scenarios/guide.yaml", sandbox.WithoutThrottling(),
		sandbox.WithClock(clk), sandbox.WithPublicAccessDelay(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	n, err := sandboxnet.NewNetwork(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	c := n.FHIR.Client() // from outside every VNet: the public listener
	wsURL := "https://" + guideWsFHIR + "/metadata"

	status, body := getJSON(t, c, wsURL)
	if status != http.StatusOK || body["resourceType"] != "CapabilityStatement" || body["url"] != wsURL {
		t.Fatalf("workspace FHIR with public access Enabled: got %d %v, want 200 and its CapabilityStatement", status, body)
	}
	status, body = getJSON(t, c, "https://"+guideLegacy+"/metadata")
	if issue, _ := body["issue"].([]any); status != http.StatusForbidden || len(issue) != 1 ||
		issue[0].(map[string]any)["diagnostics"] != "Access to fhirserverxxx was denied." {
		t.Fatalf("legacy service with public access Disabled: got %d %v, want 403 Access to fhirserverxxx was denied.", status, body)
	}
	if status, _ := getJSON(t, c, "https://nosuch.fhir.azurehealthcareapis.com/metadata"); status != http.StatusNotFound {
		t.Errorf("unknown host: got %d, want 404", status)
	}
	if c := publicProbe(t, n, wsURL); c.Status != verify.StatusFail || !strings.Contains(c.Diagnosis, "public access is still allowed") {
		t.Errorf("public probe while Enabled: %s %q, want fail: still allowed", c.Status, c.Diagnosis)
	}

	client, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ws, err := client.GetTarget(ctx, guideWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SetPublicNetworkAccess(ctx, ws, core.PublicAccessDisabled); err != nil {
		t.Fatal(err)
	}
	if ws, _ = client.GetTarget(ctx, guideWorkspace); ws.PublicNetworkAccess != core.PublicAccessDisabled {
		t.Fatalf("ARM reads publicNetworkAccess %q after the write, want Disabled", ws.PublicNetworkAccess)
	}
	if status, _ := getJSON(t, c, wsURL); status != http.StatusOK {
		t.Errorf("right after the write (propagating): got %d, want still 200", status)
	}
	clk.Advance(4 * time.Minute)
	if p := publicProbe(t, n, wsURL); p.Status != verify.StatusFail {
		t.Errorf("public probe 4 min after the write: %s, want fail (blocking takes up to 5 minutes)", p.Status)
	}
	clk.Advance(time.Minute)
	status, body = getJSON(t, c, wsURL)
	if issue, _ := body["issue"].([]any); status != http.StatusForbidden || len(issue) != 1 ||
		issue[0].(map[string]any)["diagnostics"] != "Access to contoso-health-patients was denied." {
		t.Errorf("after the delay: got %d %v, want 403 Access to contoso-health-patients was denied.", status, body)
	}
	if p := publicProbe(t, n, wsURL); p.Status != verify.StatusPass {
		t.Errorf("public probe after the delay: %s %q, want pass (403)", p.Status, p.Diagnosis)
	}
}
