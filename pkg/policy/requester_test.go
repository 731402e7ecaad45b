package policy

import (
	"strings"
	"testing"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Issue 26: an approve rule on requester.upn (or appId) without the tenant
// let a foreign tenant's principal through; policy check says so, and says
// so for any approve rule reading the display name.
func TestWarningsForRequesterFieldsWithoutTenant(t *testing.T) {
	p := mustParse(t, boundsHeader+`connectionRules:
  - name: upn-only
    when: requester.upn == "alice@contoso.example" && endpoint.subscriptionId == "x"
    decision: approve
    description: ok
  - name: app-only
    when: has(requester.appId) && requester.appId == "33333333-3333-3333-3333-333333333333" && endpoint.subscriptionId == "x"
    decision: approve
    description: ok
  - name: app-in-tenant
    when: requester.appId == "33333333-3333-3333-3333-333333333333" && requester.tenantId == "t" && endpoint.subscriptionId == "x"
    decision: approve
    description: ok
  - name: by-display-name
    when: requester.displayName == "Alice" && requester.tenantId == "t" && endpoint.subscriptionId == "x"
    decision: approve
    description: ok
  - name: reject-by-upn
    when: requester.upn == "mallory@evil.example"
    decision: reject
    description: no
`)
	got := map[string][]string{}
	for _, w := range p.Warnings() {
		got[w.Rule] = append(got[w.Rule], w.Msg)
	}
	for rule, want := range map[string]string{
		"upn-only":        "trusts requester.upn without requester.tenantId",
		"app-only":        "trusts requester.appId without requester.tenantId",
		"by-display-name": "reads requester.displayName",
	} {
		if len(got[rule]) != 1 || !strings.Contains(got[rule][0], want) {
			t.Errorf("rule %s: warnings %q; want one saying %q", rule, got[rule], want)
		}
	}
	for _, rule := range []string{"app-in-tenant", "reject-by-upn"} {
		if len(got[rule]) != 0 {
			t.Errorf("rule %s: warnings %q; want none", rule, got[rule])
		}
	}
}

// A display name is its own field: a rule on requester.upn never sees it.
func TestDisplayNameIsNotTheUPN(t *testing.T) {
	p := mustParse(t, boundsHeader+`connectionRules:
  - name: trusted-upn
    when: requester.upn == "alice@contoso.example"
    decision: approve
    description: ok
  - name: named-alice
    when: requester.displayName == "alice@contoso.example"
    decision: pending
defaultDecision: pending
`)
	in := readableInput("00000000-0000-0000-0000-0000000000cc", "10.9.0.0/16")
	in.Requester = &core.Principal{TenantID: "foreign", DisplayName: "alice@contoso.example",
		Source: core.PrincipalSource{Kind: core.RequesterFromEndpointWrite}}
	d, err := p.DecideConnection(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.Action == ActionApprove || d.Rule != "named-alice" {
		t.Fatalf("decision %+v; want the display-name rule's pending, not the upn rule's approval", d)
	}
}
