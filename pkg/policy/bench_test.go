package policy

import "testing"

// benchPolicy is a realistic five-rule policy: subscription lists, CIDR
// checks, tags, requester, unreadable endpoints.
const benchPolicy = `apiVersion: autopilot.plautopilot.io/v1
targets:
  subscriptions: [00000000-0000-0000-0000-0000000000aa]
  allOfType: [workspaces, services]
zones:
  - /subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com
connectionRules:
  - name: reject-blocked-tag
    when: '"blocked" in endpoint.tags && endpoint.tags["blocked"] == "true"'
    decision: reject
    description: Endpoint tagged blocked.
  - name: reject-wrong-region
    when: endpoint.readable && endpoint.location != target.location && !(endpoint.location in ["westeurope", "northeurope"])
    decision: reject
    description: Endpoints must be in an EU region.
  - name: approve-platform-identity
    when: requester.known && requester.appId == "33333333-3333-3333-3333-333333333333"
    decision: approve
    description: Created by the platform pipeline.
  - name: approve-app-subscriptions
    when: >-
      endpoint.subscriptionId in ["00000000-0000-0000-0000-0000000000bb", "00000000-0000-0000-0000-0000000000dd"]
      && cidrsWithin(endpoint.vnetAddressPrefixes, ["10.0.0.0/8", "172.16.0.0/12"])
      && "healthcareworkspace" in endpoint.groupIds
    decision: approve
    description: Approved by policy.
  - name: unreadable-pending
    when: "!endpoint.readable"
    decision: pending
`

// BenchmarkDecideConnection measures one connection decision that walks all
// four rules before the approving one matches (target: under 10 µs/op).
func BenchmarkDecideConnection(b *testing.B) {
	p := mustParse(b, benchPolicy)
	in := readableInput(subApp, "10.1.0.0/16", "10.2.0.0/24")
	d, err := p.DecideConnection(in)
	if err != nil || d.Rule != "approve-app-subscriptions" {
		b.Fatalf("unexpected decision %+v, %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.DecideConnection(in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExplain evaluates every rule, as `policy explain` does.
func BenchmarkExplain(b *testing.B) {
	p := mustParse(b, benchPolicy)
	in := readableInput(subApp, "10.1.0.0/16")
	b.ReportAllocs()
	for b.Loop() {
		p.Explain(in)
	}
}

// BenchmarkParse measures loading (CEL compilation included).
func BenchmarkParse(b *testing.B) {
	src := []byte(benchPolicy)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("bench.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}
