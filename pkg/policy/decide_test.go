package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
)

func TestDecideConnectionWithExamplePolicy(t *testing.T) {
	p := examplePolicy(t)
	tests := []struct {
		name string
		in   ConnectionInput
		want Decision
	}{
		{
			name: "allowed subscription inside 10/8 is approved",
			in:   readableInput(subApp, "10.1.0.0/16"),
			want: Decision{Action: ActionApprove, Rule: "allow-app-subscriptions",
				Reason:      `rule "allow-app-subscriptions" matched`,
				Description: "Approved by the platform team policy (app subscription, corporate address space)."},
		},
		{
			name: "allowed subscription with upper-case id is approved",
			in: func() ConnectionInput {
				in := readableInput(strings.ToUpper(subApp), "10.1.0.0/16")
				in.Endpoint.SubscriptionID = ""
				return in
			}(),
			want: Decision{Action: ActionApprove, Rule: "allow-app-subscriptions",
				Reason:      `rule "allow-app-subscriptions" matched`,
				Description: "Approved by the platform team policy (app subscription, corporate address space)."},
		},
		{
			name: "allowed subscription with address space outside the allowed CIDR is left pending",
			in:   readableInput(subApp, "10.1.0.0/16", "192.168.10.0/24"),
			want: Decision{Action: ActionPending, Rule: "app-subscription-foreign-address-space",
				Reason: `rule "app-subscription-foreign-address-space" matched`},
		},
		{
			name: "allowed subscription whose VNet could not be read is left pending",
			in: func() ConnectionInput {
				in := readableInput(subApp)
				in.EndpointVNet = nil
				return in
			}(),
			want: Decision{Action: ActionPending, Rule: "app-subscription-foreign-address-space",
				Reason: `rule "app-subscription-foreign-address-space" matched`},
		},
		{
			name: "unknown subscription is rejected with a helpful description",
			in:   readableInput(subUnknown, "10.9.0.0/16"),
			want: Decision{Action: ActionReject, Rule: "reject-unknown-subscriptions",
				Reason:      `rule "reject-unknown-subscriptions" matched`,
				Description: "Subscription not onboarded for FHIR private access. Request onboarding from the platform team."},
		},
		{
			name: "cross-tenant unreadable endpoint from an unknown subscription is left pending",
			in:   unreadableInput(subUnknown),
			want: Decision{Action: ActionPending, Rule: "unreadable-needs-review",
				Reason: `rule "unreadable-needs-review" matched`},
		},
		{
			name: "unreadable endpoint from the allowed subscription is not approved",
			in:   unreadableInput(subApp),
			want: Decision{Action: ActionPending, Rule: "unreadable-needs-review",
				Reason: `rule "unreadable-needs-review" matched`},
		},
		{
			name: "approved connection from an unknown subscription is not revoked by a rule without revoke",
			in: func() ConnectionInput {
				in := readableInput(subUnknown, "10.9.0.0/16")
				in.Connection.Status = core.StatusApproved
				return in
			}(),
			want: Decision{Action: ActionReject, Rule: "reject-unknown-subscriptions",
				Reason:      `rule "reject-unknown-subscriptions" matched; the connection is already approved and the rule does not set revoke`,
				Description: "Subscription not onboarded for FHIR private access. Request onboarding from the platform team."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.DecideConnection(tt.in)
			if err != nil {
				t.Fatalf("DecideConnection: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("decision (-got +want):\n%s", diff)
			}
			// Explain must select the same rule DecideConnection chose.
			selected := ""
			for _, o := range p.Explain(tt.in) {
				if o.Selected {
					selected = o.Rule
				}
			}
			if selected != got.Rule {
				t.Errorf("Explain selected %q, DecideConnection %q", selected, got.Rule)
			}
		})
	}
}

const headerPolicy = `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces]
`

func TestUnreadableEndpointNeedsExplicitPermission(t *testing.T) {
	tests := []struct {
		name       string
		rules      string
		wantAction Action
		wantRule   string
		wantReason string
	}{
		{
			name: "approve rule without allowUnreadableEndpoint is skipped",
			rules: `connectionRules:
  - name: approve-app
    when: endpoint.subscriptionId == "00000000-0000-0000-0000-0000000000bb"
    decision: approve
    description: ok
`,
			wantAction: ActionPending,
			wantReason: `no rule matched; default pending; rule "approve-app" skipped: endpoint could not be read and the rule does not set allowUnreadableEndpoint`,
		},
		{
			name: "approve rule with allowUnreadableEndpoint approves",
			rules: `connectionRules:
  - name: approve-partner-tenant
    when: endpoint.subscriptionId == "00000000-0000-0000-0000-0000000000bb" && !endpoint.readable
    decision: approve
    description: partner tenant endpoint
    allowUnreadableEndpoint: true
`,
			wantAction: ActionApprove, wantRule: "approve-partner-tenant",
			wantReason: `rule "approve-partner-tenant" matched`,
		},
		{
			name: "skipped approve rule falls through to a later reject",
			rules: `connectionRules:
  - name: approve-any
    when: "true"
    decision: approve
    description: ok
  - name: reject-unreadable
    when: "!endpoint.readable"
    decision: reject
    description: cannot verify your network
`,
			wantAction: ActionReject, wantRule: "reject-unreadable",
			wantReason: `rule "reject-unreadable" matched; rule "approve-any" skipped: endpoint could not be read and the rule does not set allowUnreadableEndpoint`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, headerPolicy+tt.rules)
			got, err := p.DecideConnection(unreadableInput(subApp))
			if err != nil {
				t.Fatal(err)
			}
			if got.Action != tt.wantAction || got.Rule != tt.wantRule || got.Reason != tt.wantReason {
				t.Errorf("got %s by %q (%s), want %s by %q (%s)", got.Action, got.Rule, got.Reason, tt.wantAction, tt.wantRule, tt.wantReason)
			}
		})
	}
}

func TestEvaluationErrorNeverApproves(t *testing.T) {
	// The reject rule reads a tag without has(): a missing key is a runtime
	// error. The approve rule after it must not approve what the reject rule
	// might have rejected.
	p := mustParse(t, headerPolicy+`connectionRules:
  - name: reject-blocked
    when: endpoint.tags["blocked"] == "yes"
    decision: reject
    description: blocked
  - name: approve-all-app
    when: endpoint.subscriptionId == "00000000-0000-0000-0000-0000000000bb"
    decision: approve
    description: ok
`)
	in := readableInput(subApp, "10.1.0.0/16")
	got, err := p.DecideConnection(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Action != ActionPending {
		t.Fatalf("got %s, want pending after an evaluation error: %s", got.Action, got.Reason)
	}
	for _, want := range []string{`approval is withheld because rule "reject-blocked" failed`, `rule "reject-blocked" failed: no such key: blocked`} {
		if !strings.Contains(got.Reason, want) {
			t.Errorf("reason %q lacks %q", got.Reason, want)
		}
	}

	gotOutcomes := p.Explain(in)
	wantOutcomes := []RuleResult{
		{Rule: "reject-blocked", Decision: ActionReject, Outcome: RuleError, Detail: "no such key: blocked"},
		{Rule: "approve-all-app", Decision: ActionApprove, Outcome: RuleMatched, Selected: true,
			Detail: `rule "approve-all-app" matched but approval is withheld because rule "reject-blocked" failed to evaluate; left pending`},
	}
	if diff := cmp.Diff(gotOutcomes, wantOutcomes); diff != "" {
		t.Errorf("explain (-got +want):\n%s", diff)
	}

	// With the tag present the reject rule evaluates and decides.
	in.Endpoint.Tags = map[string]string{"blocked": "yes"}
	if got, _ := p.DecideConnection(in); got.Action != ActionReject || got.Rule != "reject-blocked" {
		t.Errorf("with tag: got %s by %q, want reject by reject-blocked", got.Action, got.Rule)
	}
}

func TestDefaultDecision(t *testing.T) {
	tests := []struct {
		name    string
		extra   string
		want    Decision
		wantErr bool
	}{
		{
			name: "no rule matched leaves the connection pending",
			want: Decision{Action: ActionPending, Reason: "no rule matched; default pending"},
		},
		{
			name:  "default reject sends its description",
			extra: "defaultDecision: reject\ndefaultDescription: Not allowed by policy.\n",
			want:  Decision{Action: ActionReject, Reason: "no rule matched; default reject", Description: "Not allowed by policy."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, headerPolicy+tt.extra+`connectionRules:
  - name: never
    when: "false"
    decision: approve
    description: never
`)
			got, err := p.DecideConnection(readableInput(subApp, "10.0.0.0/16"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("decision (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRevokeOnlyWithExplicitRule(t *testing.T) {
	p := mustParse(t, headerPolicy+`connectionRules:
  - name: revoke-decommissioned
    when: '"decommissioned" in endpoint.vnetTags'
    decision: reject
    description: VNet decommissioned
    revoke: true
`)
	in := readableInput(subApp, "10.0.0.0/16")
	in.Connection.Status = core.StatusApproved
	in.EndpointVNet.Tags = map[string]string{"decommissioned": "2026-10-01"}
	got, err := p.DecideConnection(in)
	if err != nil {
		t.Fatal(err)
	}
	if got.Action != ActionReject || !got.Revoke {
		t.Errorf("got %+v, want reject with revoke", got)
	}
	in.Connection.Status = core.StatusPending
	if got, _ := p.DecideConnection(in); got.Revoke {
		t.Errorf("pending connection: Revoke set: %+v", got)
	}
}

func TestVariablesSeenByRules(t *testing.T) {
	tests := []struct {
		name string
		when string
		in   ConnectionInput
	}{
		{"endpoint request message", `endpoint.requestMessage.contains("4711")`, readableInput(subApp)},
		{"endpoint group ids", `endpoint.groupIds == ["healthcareworkspace"]`, readableInput(subApp)},
		{"endpoint resource group and name", `endpoint.resourceGroup == "rg-app" && endpoint.name == "pe-app"`, readableInput(subApp)},
		{"endpoint vnet id", `idEquals(endpoint.vnetId, "` + strings.ToUpper(vnetID(subApp, "app-vnet")) + `")`, readableInput(subApp)},
		{"endpoint subnet", `endpoint.subnetId.endsWith("/subnets/endpoints")`, readableInput(subApp)},
		{"endpoint vnet tags", `endpoint.vnetTags.team == "app"`, readableInput(subApp)},
		{"endpoint tags", `has(endpoint.tags.costcenter) && !has(endpoint.tags.owner)`, readableInput(subApp)},
		{"target", `target.type == "Microsoft.HealthcareApis/workspaces" && target.kind == "workspace" && target.name == "contoso-health" && target.tags.env == "prod" && target.subscriptionId == "` + subHub + `"`, readableInput(subApp)},
		{"connection", `connection.status == "Pending" && connection.name.startsWith("pe-app")`, readableInput(subApp)},
		{"requester", `requester.known && requester.tenantId == "22222222-2222-2222-2222-222222222222" && requester.appId == ""`, readableInput(subApp)},
		{"unknown requester", `!requester.known && requester.objectId == ""`, unreadableInput(subApp)},
		{"unreadable endpoint keeps what the connection tells", `!endpoint.readable && endpoint.name == "pe-app" && endpoint.subscriptionId == "` + subApp + `" && endpoint.groupIds == ["healthcareworkspace"] && endpoint.vnetAddressPrefixes == []`, unreadableInput(subApp)},
		{"subscriptionOf lower-cases", `subscriptionOf("/subscriptions/ABC/resourceGroups/x") == "abc"`, readableInput(subApp)},
		{"cidrContains prefix", `cidrContains("10.0.0.0/8", "10.20.0.0/16") && !cidrContains("10.0.0.0/16", "10.0.0.0/8")`, readableInput(subApp)},
		{"cidrContains address", `cidrContains("10.0.0.0/8", "10.1.2.3") && !cidrContains("10.0.0.0/8", "fd00::1")`, readableInput(subApp)},
		{"cidrsWithin all inside", `cidrsWithin(["10.1.0.0/16", "172.16.1.0/24"], ["10.0.0.0/8", "172.16.0.0/12"])`, readableInput(subApp)},
		{"cidrsWithin one outside", `!cidrsWithin(["10.1.0.0/16", "192.168.0.0/16"], ["10.0.0.0/8"])`, readableInput(subApp)},
		{"cidrsWithin empty list is never within", `!cidrsWithin([], ["0.0.0.0/0"])`, readableInput(subApp)},
		{"strings extension", `endpoint.name.upperAscii() == "PE-APP"`, readableInput(subApp)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, headerPolicy+"connectionRules:\n  - name: probe\n    when: '"+strings.ReplaceAll(tt.when, "'", "''")+"'\n    decision: pending\n")
			got := p.Explain(tt.in)
			if got[0].Outcome != RuleMatched {
				t.Errorf("condition %s: got %s %s, want matched", tt.when, got[0].Outcome, got[0].Detail)
			}
		})
	}
}

func TestRuntimeHelperErrorIsReported(t *testing.T) {
	p := mustParse(t, headerPolicy+`connectionRules:
  - name: bad-cidr
    when: cidrsWithin(endpoint.vnetAddressPrefixes, ["10.0.0.0/33"])
    decision: approve
    description: ok
`)
	got, _ := p.DecideConnection(readableInput(subApp, "10.1.0.0/16"))
	if got.Action != ActionPending || !strings.Contains(got.Reason, `rule "bad-cidr" failed: cidrsWithin: allowed "10.0.0.0/33" is not a CIDR prefix`) {
		t.Errorf("got %+v", got)
	}
}

func TestUngovernedTargetIsAnError(t *testing.T) {
	p := examplePolicy(t)
	in := readableInput(subApp, "10.1.0.0/16")
	in.Target.ID = strings.Replace(workspaceID, subHub, subUnknown, 1)
	in.Target.SubscriptionID = subUnknown
	got, err := p.DecideConnection(in)
	if err == nil || got.Action != ActionPending {
		t.Errorf("got %+v, %v; want pending and an error", got, err)
	}
}

func TestExplainExamplePolicy(t *testing.T) {
	p := examplePolicy(t)
	got := p.Explain(unreadableInput(subUnknown))
	want := []RuleResult{
		{Rule: "allow-app-subscriptions", Decision: ActionApprove, Outcome: RuleNotMatched},
		{Rule: "app-subscription-foreign-address-space", Decision: ActionPending, Outcome: RuleNotMatched},
		{Rule: "unreadable-needs-review", Decision: ActionPending, Outcome: RuleMatched, Selected: true},
		{Rule: "reject-unknown-subscriptions", Decision: ActionReject, Outcome: RuleMatched},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("explain (-got +want):\n%s", diff)
	}
}

// TestConcurrentDecisions: one Policy serves every worker goroutine (run
// with -race).
func TestConcurrentDecisions(t *testing.T) {
	p := examplePolicy(t)
	inputs := []ConnectionInput{readableInput(subApp, "10.1.0.0/16"), readableInput(subUnknown, "10.1.0.0/16"), unreadableInput(subUnknown)}
	want := []Action{ActionApprove, ActionReject, ActionPending}
	errs := make(chan string, 8*len(inputs))
	done := make(chan struct{})
	for g := 0; g < 8; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 50; i++ {
				k := (g + i) % len(inputs)
				if d, _ := p.DecideConnection(inputs[k]); d.Action != want[k] {
					errs <- string(d.Action)
					return
				}
			}
		}()
	}
	for g := 0; g < 8; g++ {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Errorf("concurrent decision gave %s", e)
	}
}
