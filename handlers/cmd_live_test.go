package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/internal/guidetest"
	"github.com/plautopilot/autopilot/pkg/core"
)

// useLive points the --live commands at the guide's sandbox (through the
// production adapters, as the real ARM would be read) for one test.
func useLive(t *testing.T) guidetest.World {
	t.Helper()
	w := guidetest.New(t)
	old := liveReader
	liveReader = func() (core.Reader, error) { return w.ARM, nil }
	t.Cleanup(func() { liveReader = old })
	return w
}

// replay --live plans what the autopilot would do on the subscription and
// writes nothing.
func TestReplayLiveWritesNothing(t *testing.T) {
	w := useLive(t)
	var out, errb bytes.Buffer
	code := run([]string{"replay", "--live", "--policy", "../examples/policy.yaml", "--sweep",
		"../testdata/events/endpoint-write.eventgrid.json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"approve", "rule=allow-app-subscriptions", "reject", "rule=reject-unknown-subscriptions", "create-link", "planned", "writes 0 (live dry run"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), " applied ") {
		t.Errorf("a live dry run reports an applied action:\n%s", out.String())
	}
	if st := w.Sandbox.Stats(); st.Writes != 0 || st.Deletes != 0 {
		t.Errorf("replay --live wrote to ARM: %d writes, %d deletes", st.Writes, st.Deletes)
	}

	out.Reset()
	errb.Reset()
	if code := run([]string{"replay", "--live", "--sandbox", "../testdata/scenarios/guide.yaml", "--policy", "../examples/policy.yaml", "--sweep"}, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--live and --sandbox") {
		t.Errorf("--live with --sandbox: exit %d, stderr %q; want 2 saying they exclude each other", code, errb.String())
	}
}

// policy explain --live explains a connection of the real subscription,
// and credits the endpoint VNet's link to linkEndpointVNets as the
// reconciler does.
func TestPolicyExplainLive(t *testing.T) {
	w := useLive(t)
	const conn = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health/privateEndpointConnections/pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f"
	var out, errb bytes.Buffer
	if code := run([]string{"policy", "explain", "--live", "--policy", "../examples/policy.yaml", conn}, &out, &errb); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	for _, want := range []string{"decision: approve by rule \"allow-app-subscriptions\"",
		"privatelink.fhir.azurehealthcareapis.com by linkEndpointVNets"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	// The zones the workspace needs are linked because of
	// linkEndpointVNets, as replay credits them; only a zone the target
	// does not need (the legacy one, listed by the peered-with-hub rule)
	// is credited to a link rule.
	if strings.Contains(out.String(), "privatelink.fhir.azurehealthcareapis.com by peered-with-hub") {
		t.Errorf("the endpoint VNet's fhir link is credited to a link rule, not linkEndpointVNets as replay does:\n%s", out.String())
	}
	if st := w.Sandbox.Stats(); st.Writes != 0 || st.Deletes != 0 {
		t.Errorf("policy explain --live wrote to ARM: %d writes", st.Writes)
	}
}
