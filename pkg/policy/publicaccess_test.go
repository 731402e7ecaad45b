package policy

import (
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
)

// selections is base governing workspaces and services, auditing public
// access by default, closing it on prod workspaces and leaving one
// resource group alone.
var selections = strings.Replace(base, "  allOfType: [workspaces]\n", `  allOfType: [workspaces, services]
  publicNetworkAccess: audit
  publicNetworkAccessBy:
    - name: lab-left-alone
      match: {resourceGroups: [rg-lab]}
      mode: leave
    - name: close-prod-workspaces
      match:
        types: [workspaces]
        tags: {env: prod}
      mode: disableAfterVerification
`, 1)

func target(kind core.TargetKind, rg, name string, tags map[string]string) core.Target {
	typ := "workspaces"
	if kind == core.TargetService {
		typ = "services"
	}
	return core.Target{
		ID:   "/subscriptions/" + subHub + "/resourceGroups/" + rg + "/providers/Microsoft.HealthcareApis/" + typ + "/" + name,
		Kind: kind, Name: name, SubscriptionID: subHub, ResourceGroup: rg, Tags: tags,
	}
}

// Each governed target gets the mode of the first selection that matches
// it, and the selection's name as the rule; a target no selection matches
// gets targets.publicNetworkAccess under the default rule.
func TestPublicNetworkAccessPerSelection(t *testing.T) {
	p := mustParse(t, selections)
	for _, tc := range []struct {
		name     string
		t        core.Target
		mode     PublicAccessMode
		rule     string
		scenario string
	}{
		{"prod workspace", target(core.TargetWorkspace, "rg-health", "ws-prod", map[string]string{"env": "prod"}),
			PublicAccessDisableAfterVerification, "close-prod-workspaces", "tagged env=prod: closed after verification"},
		{"tag name in another case", target(core.TargetWorkspace, "rg-health", "ws-prod2", map[string]string{"Env": "prod"}),
			PublicAccessDisableAfterVerification, "close-prod-workspaces", "ARM tag names are case-insensitive"},
		{"tag value in another case", target(core.TargetWorkspace, "rg-health", "ws-x", map[string]string{"env": "Prod"}),
			PublicAccessAudit, DefaultPublicAccessRule, "tag values are case-sensitive: not prod"},
		{"test workspace", target(core.TargetWorkspace, "rg-health", "ws-test", map[string]string{"env": "test"}),
			PublicAccessAudit, DefaultPublicAccessRule, "no selection: the default"},
		{"prod legacy service", target(core.TargetService, "rg-health", "fhir-prod", map[string]string{"env": "prod"}),
			PublicAccessAudit, DefaultPublicAccessRule, "the prod selection is for workspaces only"},
		{"prod workspace in the lab", target(core.TargetWorkspace, "RG-LAB", "ws-lab", map[string]string{"env": "prod"}),
			PublicAccessLeave, "lab-left-alone", "first match wins; resource group names are case-insensitive"},
		{"kind and groups derived from the id", core.Target{ID: target(core.TargetWorkspace, "rg-lab", "ws-id", nil).ID},
			PublicAccessLeave, "lab-left-alone", "a target known by its id only"},
	} {
		mode, rule := p.PublicNetworkAccessFor(tc.t)
		if mode != tc.mode || rule != tc.rule {
			t.Errorf("%s (%s): got %s by %q, want %s by %q", tc.name, tc.scenario, mode, rule, tc.mode, tc.rule)
		}
	}
	other := core.Target{ID: "/subscriptions/" + subUnknown + "/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/other",
		Kind: core.TargetWorkspace, Tags: map[string]string{"env": "prod"}}
	if mode, rule := p.PublicNetworkAccessFor(other); mode != PublicAccessLeave || rule != "" {
		t.Errorf("a target the policy does not govern got %s by %q, want leave: the autopilot never touches it", mode, rule)
	}
	if p.PublicNetworkAccess() != PublicAccessAudit || !p.PublicNetworkAccessActs() {
		t.Errorf("default = %s, acts = %t; want audit, true", p.PublicNetworkAccess(), p.PublicNetworkAccessActs())
	}
	got := p.PublicNetworkAccessBy()
	if len(got) != 2 || got[1].Name != "close-prod-workspaces" || got[1].Mode != PublicAccessDisableAfterVerification ||
		got[1].Match != "types workspaces; tags env=prod" || got[1].Line != 10 {
		t.Errorf("listing = %+v", got)
	}
}

// Without targets.publicNetworkAccess, a selection alone makes the policy
// act on public access; with neither, it never does.
func TestPublicNetworkAccessActs(t *testing.T) {
	if mustParse(t, base).PublicNetworkAccessActs() {
		t.Error("a policy without publicNetworkAccess acts on public access")
	}
	src := strings.Replace(base, "  allOfType: [workspaces]\n", `  allOfType: [workspaces]
  publicNetworkAccessBy:
    - name: one
      match: {ids: [`+workspaceID+`]}
      mode: disableAfterVerification
`, 1)
	p := mustParse(t, src)
	if !p.PublicNetworkAccessActs() || p.PublicNetworkAccess() != PublicAccessLeave {
		t.Errorf("acts = %t, default %s; want true, leave", p.PublicNetworkAccessActs(), p.PublicNetworkAccess())
	}
	if mode, rule := p.PublicNetworkAccessFor(workspace()); mode != PublicAccessDisableAfterVerification || rule != "one" {
		t.Errorf("listed workspace: %s by %q", mode, rule)
	}
}

func TestPublicNetworkAccessSelectionErrors(t *testing.T) {
	with := func(sel string) string {
		return strings.Replace(base, "  allOfType: [workspaces]\n", "  allOfType: [workspaces]\n  publicNetworkAccessBy:\n"+sel, 1)
	}
	for _, tc := range []struct {
		name string
		src  string
		want []string
	}{
		{"mode misspelt", with("    - name: s\n      match: {types: [workspaces]}\n      mode: disabled\n"),
			[]string{"test.yaml:8:13:", `rule "s"`, "targets.publicNetworkAccessBy[0].mode", `mode "disabled" is not one of leave, audit, disableAfterVerification`}},
		{"mode missing", with("    - name: s\n      match: {types: [workspaces]}\n"),
			[]string{`rule "s"`, "targets.publicNetworkAccessBy[0]", "missing mode"}},
		{"match missing", with("    - name: s\n      mode: audit\n"),
			[]string{`rule "s"`, "targets.publicNetworkAccessBy[0].match", "missing match", "targets.publicNetworkAccess instead"}},
		{"unknown type", with("    - name: s\n      match: {types: [fhirservices]}\n      mode: audit\n"),
			[]string{`rule "s"`, "targets.publicNetworkAccessBy[0].match.types[0]", `"fhirservices" is not a target type`}},
		{"target not governed", with("    - name: s\n      match: {ids: [/subscriptions/" + subUnknown + "/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/w]}\n      mode: audit\n"),
			[]string{"targets.publicNetworkAccessBy[0].match.ids[0]", "is not governed by this policy"}},
		{"subscription not governed", with("    - name: s\n      match: {subscriptions: [" + subUnknown + "]}\n      mode: audit\n"),
			[]string{"targets.publicNetworkAccessBy[0].match.subscriptions[0]", `subscription "` + subUnknown + `" is not governed`}},
		{"unknown key in a match", with("    - name: s\n      match: {tag: {env: prod}}\n      mode: audit\n"),
			[]string{"test.yaml:7:", `rule "s"`, `unknown field "tag"`}},
		{"name of a connection rule", with("    - name: allow-app\n      match: {types: [workspaces]}\n      mode: audit\n"),
			[]string{`rule "allow-app"`, "duplicate rule name"}},
		{"name of the default", with("    - name: publicNetworkAccess\n      match: {types: [workspaces]}\n      mode: audit\n"),
			[]string{"targets.publicNetworkAccessBy[0].name", "names the default"}},
		{"no name", with("    - match: {types: [workspaces]}\n      mode: audit\n"),
			[]string{"targets.publicNetworkAccessBy[0]", "rule without a name"}},
		{"tag twice", with("    - name: s\n      match: {tags: {env: prod, ENV: prod}}\n      mode: audit\n"),
			[]string{"targets.publicNetworkAccessBy[0].match.tags", "listed twice"}},
	} {
		_, err := Parse("test.yaml", []byte(tc.src))
		if err == nil {
			t.Errorf("%s: accepted:\n%s", tc.name, tc.src)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tc.name, err, w)
			}
		}
	}
}
