package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/policy"
)

func TestPolicyCheck(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: autopilot.plautopilot.io/v1\ntargets:\n  subscriptions: [00000000-0000-0000-0000-0000000000aa]\n  allOfType: [workspaces]\nconnectionRules:\n  - name: open-door\n    when: \"true\"\n    decision: approve\n    description: everyone\ndefaultDecision: approve\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:     "example policy is valid and its rules are listed",
			args:     []string{"policy", "check", "../examples/policy.yaml"},
			wantCode: 0,
			wantStdout: []string{"is valid", "allow-app-subscriptions", "approve", "cidrsWithin(endpoint.vnetAddressPrefixes, [\"10.0.0.0/8\"])",
				"reject-unknown-subscriptions", "Subscription not onboarded", "(default)", "peered-with-hub", "opted-in-by-tag",
				"privatelink.azurehealthcareapis.com", "delay 5m0s, 6 attempts"},
		},
		{
			name:       "invalid policy exits 1 naming file, line and problem",
			args:       []string{"policy", "check", bad},
			wantCode:   1,
			wantStderr: []string{"bad.yaml:10:18:", "approve is not allowed as defaultDecision"},
		},
		{name: "missing file argument is a usage error", args: []string{"policy", "check"}, wantCode: 2, wantStderr: []string{"usage:"}},
		{name: "unknown subcommand is a usage error", args: []string{"policy", "lint", "x"}, wantCode: 2, wantStderr: []string{`unknown subcommand "lint"`}},
		{name: "explain without flags is a usage error", args: []string{"policy", "explain", "x"}, wantCode: 2, wantStderr: []string{"needs --policy, one of --sandbox SCENARIO or --live"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout.String(), stderr.String())
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout.String())
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr.String())
				}
			}
		})
	}
}

// memReader is a tiny in-memory core.Reader; missing endpoints answer 403
// like a cross-tenant endpoint would.
type memReader struct {
	targets   map[string]core.Target
	endpoints map[string]core.Endpoint
	vnets     map[string]core.VNet
}

func (m memReader) GetTarget(_ context.Context, id string) (core.Target, error) {
	if t, ok := m.targets[core.IDKey(id)]; ok {
		return t, nil
	}
	return core.Target{}, &core.Error{Class: core.NotFound, Op: "get target", ResourceID: id, StatusCode: http.StatusNotFound}
}

func (m memReader) GetEndpoint(_ context.Context, id string) (core.Endpoint, error) {
	if e, ok := m.endpoints[core.IDKey(id)]; ok {
		return e, nil
	}
	return core.Endpoint{}, &core.Error{Class: core.Fatal, Op: "get endpoint", ResourceID: id, StatusCode: http.StatusForbidden, Code: "AuthorizationFailed"}
}

func (m memReader) GetVNet(_ context.Context, id string) (core.VNet, error) {
	if v, ok := m.vnets[core.IDKey(id)]; ok {
		return v, nil
	}
	return core.VNet{}, &core.Error{Class: core.Retryable, Op: "get vnet", ResourceID: id, StatusCode: http.StatusServiceUnavailable}
}

func (memReader) ListTargets(context.Context, string) ([]core.Target, error)     { return nil, nil }
func (memReader) ListVNets(context.Context, string) ([]core.VNet, error)         { return nil, nil }
func (memReader) ListVNetLinks(context.Context, string) ([]core.VNetLink, error) { return nil, nil }
func (memReader) ListARecords(context.Context, string) ([]core.ARecord, error)   { return nil, nil }

func TestExplainConnection(t *testing.T) {
	const (
		ws      = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
		appPE   = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-app"
		appVNet = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/app-vnet"
		xPE     = "/subscriptions/00000000-0000-0000-0000-0000000000cc/resourceGroups/rg-x/providers/Microsoft.Network/privateEndpoints/pe-partner"
		noVNet  = "/subscriptions/00000000-0000-0000-0000-0000000000bb/resourceGroups/rg-app/providers/Microsoft.Network/privateEndpoints/pe-flaky"
	)
	conn := func(name, pe string) core.Connection {
		return core.Connection{ID: ws + "/privateEndpointConnections/" + name, Name: name, PrivateEndpointID: pe, Status: core.StatusPending}
	}
	r := memReader{
		targets: map[string]core.Target{core.IDKey(ws): {ID: ws, Kind: core.TargetWorkspace, Name: "contoso-health", SubscriptionID: "00000000-0000-0000-0000-0000000000aa",
			Connections: []core.Connection{conn("pe-app.1", appPE), conn("pe-partner.2", xPE), conn("pe-flaky.3", noVNet)}}},
		endpoints: map[string]core.Endpoint{
			core.IDKey(appPE):  {ID: appPE, Name: "pe-app", SubscriptionID: "00000000-0000-0000-0000-0000000000bb", VNetID: appVNet},
			core.IDKey(noVNet): {ID: noVNet, Name: "pe-flaky", VNetID: appVNet + "-flaky"},
		},
		vnets: map[string]core.VNet{core.IDKey(appVNet): {ID: appVNet, Name: "app-vnet", AddressPrefixes: []string{"10.1.0.0/16"}}},
	}
	p, err := policy.Load("../examples/policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		connID     string
		wantAction policy.Action
		wantRule   string
		wantErr    string
		wantText   []string
	}{
		{
			name: "readable endpoint of the app subscription is approved", connID: ws + "/privateEndpointConnections/pe-app.1",
			wantAction: policy.ActionApprove, wantRule: "allow-app-subscriptions",
			wantText: []string{"(readable)", "[10.1.0.0/16]", "allow-app-subscriptions", "matched  <= decides", `decision: approve by rule "allow-app-subscriptions"`, "link: endpoint vnet -> privatelink.fhir.azurehealthcareapis.com"},
		},
		{
			name: "cross-tenant endpoint (403) is unreadable and left pending", connID: ws + "/privateEndpointConnections/pe-partner.2",
			wantAction: policy.ActionPending, wantRule: "unreadable-needs-review",
			wantText: []string{"unreadable: get endpoint", "HTTP 403 AuthorizationFailed", "reject-unknown-subscriptions", "matched  <= decides", `decision: pending by rule "unreadable-needs-review"`},
		},
		{name: "unknown connection", connID: ws + "/privateEndpointConnections/nope", wantErr: "connection nope is not on"},
		{name: "not a connection id", connID: ws, wantErr: "is not a private endpoint connection id"},
		{name: "transient vnet read failure is an error, not a guess", connID: ws + "/privateEndpointConnections/pe-flaky.3", wantErr: "read vnet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := explainConnection(context.Background(), r, p, tt.connID)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ex.Decision.Action != tt.wantAction || ex.Decision.Rule != tt.wantRule {
				t.Errorf("decision %s by %q, want %s by %q", ex.Decision.Action, ex.Decision.Rule, tt.wantAction, tt.wantRule)
			}
			if len(ex.Rules) != 4 {
				t.Errorf("%d rule outcomes, want all 4 rules", len(ex.Rules))
			}
			var out bytes.Buffer
			printExplanation(&out, ex)
			for _, w := range tt.wantText {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestPolicyExplainOnSandbox runs the command end to end against the
// embedded sandbox (the minimal scenario) with its SDK adapters.
func TestPolicyExplainOnSandbox(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	src := `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-000000000001]
  allOfType: [workspaces]
connectionRules:
  - name: approve-corporate-space
    when: endpoint.readable && cidrsWithin(endpoint.vnetAddressPrefixes, ["10.0.0.0/8"])
    decision: approve
    description: corporate address space
`
	if err := os.WriteFile(pol, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/ws1/privateEndpointConnections/pe1.0c0ffee1"
	var stdout, stderr bytes.Buffer
	code := run([]string{"policy", "explain", "--policy", pol, "--sandbox", "../testdata/scenarios/minimal.json", "--json", conn}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, stderr.String())
	}
	var got struct {
		Governed bool              `json:"governed"`
		Readable bool              `json:"endpointReadable"`
		Prefixes []string          `json:"vnetAddressPrefixes"`
		Decision policy.Decision   `json:"decision"`
		Rules    []json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, stdout.String())
	}
	if !got.Governed || !got.Readable || got.Decision.Action != policy.ActionApprove || got.Decision.Rule != "approve-corporate-space" || len(got.Rules) != 1 {
		t.Errorf("got %+v\n%s", got, stdout.String())
	}
}

// TestPolicyExplainGuideScenario checks the example policy against the
// demo's scenario: the app team's endpoint is approved, the unknown
// subscription's rejected.
func TestPolicyExplainGuideScenario(t *testing.T) {
	const scenario = "../testdata/scenarios/guide.yaml"
	if _, err := os.Stat(scenario); err != nil {
		t.Skipf("no guide scenario: %v", err)
	}
	const ws = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/contoso-health/privateEndpointConnections/"
	tests := []struct {
		name       string
		conn       string
		wantAction policy.Action
		wantRule   string
	}{
		{"app team endpoint is approved", ws + "pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f", policy.ActionApprove, "allow-app-subscriptions"},
		{"unknown subscription endpoint is rejected", ws + "pe-unknown.9e7b1c2d-4e5f-4a6b-9c7d-8e9f0a1b2c3d", policy.ActionReject, "reject-unknown-subscriptions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run([]string{"policy", "explain", "--json", "--policy", "../examples/policy.yaml", "--sandbox", scenario, tt.conn}, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			var got struct {
				Decision policy.Decision `json:"decision"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Decision.Action != tt.wantAction || got.Decision.Rule != tt.wantRule {
				t.Errorf("decision %s by %q, want %s by %q", got.Decision.Action, got.Decision.Rule, tt.wantAction, tt.wantRule)
			}
		})
	}
}

func TestPolicyExplainUserErrors(t *testing.T) {
	const (
		scenario = "../testdata/scenarios/guide.yaml"
		ws       = "/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/"
	)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "flags after the connection id", args: []string{"--policy", "../examples/policy.yaml", "--sandbox", scenario, ws + "contoso-health/privateEndpointConnections/pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f", "--json"},
			wantStdout: `"rule": "allow-app-subscriptions"`},
		{name: "unknown connection lists the target's", args: []string{"--policy", "../examples/policy.yaml", "--sandbox", scenario, ws + "contoso-health/privateEndpointConnections/nope"},
			wantCode: 1, wantStderr: "connection nope is not on " + ws + "contoso-health (it has pe-app-fhir.5c1d6e2f-3a4b-4c5d-8e9f-0a1b2c3d4e5f, pe-unknown."},
		{name: "unknown target said briefly", args: []string{"--policy", "../examples/policy.yaml", "--sandbox", scenario, ws + "nows/privateEndpointConnections/x"},
			wantCode: 1, wantStderr: "target " + ws + "nows of the connection does not exist (ARM answered HTTP 404 ResourceNotFound)\n"},
		{name: "check needs one file", args: nil, wantCode: 2, wantStderr: "needs one policy FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"policy", "explain"}, tt.args...)
			if tt.args == nil {
				args = []string{"policy", "check", "a.yaml", "b.yaml"}
			}
			var stdout, stderr bytes.Buffer
			if got := run(args, &stdout, &stderr); got != tt.wantCode {
				t.Fatalf("exit code: got %d, want %d\nstderr: %s", got, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr.String())
			}
			if strings.Contains(stderr.String(), "RESPONSE 404") {
				t.Errorf("stderr carries the SDK's response dump:\n%s", stderr.String())
			}
		})
	}
}
