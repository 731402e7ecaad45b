package events

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/plautopilot/autopilot/pkg/core"
)

// armEventWithClaims is an endpoint write whose data.claims are claims
// (raw JSON object text).
func armEventWithClaims(claims string) []byte {
	return []byte(`{"id":"e1","eventType":"Microsoft.Resources.ResourceWriteSuccess","eventTime":"2026-11-04T09:00:00Z",
"topic":"/subscriptions/00000000-0000-0000-0000-0000000000cc",
"subject":"/subscriptions/00000000-0000-0000-0000-0000000000cc/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe",
"data":{"operationName":"Microsoft.Network/privateEndpoints/write","status":"Succeeded",
"resourceUri":"/subscriptions/00000000-0000-0000-0000-0000000000cc/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/pe",
"claims":` + claims + `}}`)
}

// Which claim fills which requester field (docs/policy.md, "Requester"):
// upn only from the upn claims, display names in their own field, identity
// fields only from string values, and conflicting forms trusted for
// neither. Both decoders (the fast path and the full one) agree.
func TestPrincipalFromClaimsExactly(t *testing.T) {
	const (
		oid    = "11111111-2222-4333-8444-555555555501"
		tenant = "00000000-0000-0000-0000-0000000000ff"
	)
	for _, tt := range []struct {
		name   string
		claims string
		want   core.Principal
	}{
		{"display name only: never the upn", `{"name":"alice@contoso.example","tid":"` + tenant + `"}`,
			core.Principal{TenantID: tenant, DisplayName: "alice@contoso.example"}},
		{"unique_name only: never the upn", `{"unique_name":"alice@contoso.example"}`,
			core.Principal{DisplayName: "alice@contoso.example"}},
		{"the URI form of unique_name: never the upn", `{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name":"alice@contoso.example"}`,
			core.Principal{DisplayName: "alice@contoso.example"}},
		{"the upn claim", `{"upn":"alice@contoso.example","name":"Alice"}`,
			core.Principal{UPN: "alice@contoso.example", DisplayName: "Alice"}},
		{"the URI form of upn, as ARM writes it", `{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"alice@contoso.example",
			"http://schemas.microsoft.com/identity/claims/objectidentifier":"` + oid + `",
			"http://schemas.microsoft.com/identity/claims/tenantid":"` + tenant + `","appid":"app"}`,
			core.Principal{ObjectID: oid, TenantID: tenant, AppID: "app", UPN: "alice@contoso.example"}},
		{"v2.0 azp is the app", `{"azp":"app2","oid":"` + oid + `"}`, core.Principal{ObjectID: oid, AppID: "app2"}},
		{"upn forms that disagree: neither", `{"upn":"alice@contoso.example","http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn":"mallory@evil.example"}`,
			core.Principal{}},
		{"tenant forms that disagree: neither", `{"tid":"` + tenant + `","http://schemas.microsoft.com/identity/claims/tenantid":"other"}`,
			core.Principal{}},
		{"upn as an array is no upn", `{"upn":["alice@contoso.example"],"name":"x"}`, core.Principal{DisplayName: "x"}},
		{"oid as an object is no oid", `{"oid":{"v":"` + oid + `"},"tid":"` + tenant + `"}`, core.Principal{TenantID: tenant}},
		{"a later string duplicate wins, as in encoding/json", `{"upn":["x"],"upn":"alice@contoso.example"}`, core.Principal{UPN: "alice@contoso.example"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := armEventWithClaims(tt.claims)
			if !json.Valid(raw) {
				t.Fatal("test event is not JSON")
			}
			fast, err := ParseOne(raw)
			if err != nil {
				t.Fatal(err)
			}
			full, err := parseFull(raw)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fast.Principal, tt.want); diff != "" {
				t.Errorf("fast path principal (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(full.Principal, tt.want); diff != "" {
				t.Errorf("full decoder principal (-got +want):\n%s", diff)
			}
		})
	}
}
