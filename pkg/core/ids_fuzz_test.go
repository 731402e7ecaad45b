package core

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzResourceID checks the resource-id helpers on arbitrary input: no
// panics, SameID symmetric and reflexive, IDKey idempotent and agreeing with
// SameID on ASCII ids (what ARM ids are), and ParentOf/NameOf consistent:
// ParentOf(id) + "/" + childType + "/" + NameOf(id) is id again
// (case-insensitively, trailing slashes aside).
func FuzzResourceID(f *testing.F) {
	for _, s := range []string{
		"/subscriptions/00000000-0000-0000-0000-0000000000aa/resourceGroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/ws1",
		"/subscriptions/00000000-0000-0000-0000-0000000000aa/resourcegroups/rg-health/providers/Microsoft.HealthcareApis/workspaces/ws1/privateEndpointConnections/pe.1234/",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com/virtualNetworkLinks/l1",
		"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/virtualNetworkPeerings/p//",
		"/subscriptions/s/providers/Microsoft.Resources/deployments/d",
		"", "/", "//", "providers", "/providers/a/b/c/d", "no-slash",
	} {
		f.Add(s, strings.ToUpper(s))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		_, _ = SubscriptionOf(a), ResourceGroupOf(a)
		if SameID(a, b) != SameID(b, a) {
			t.Fatalf("SameID not symmetric for %q, %q", a, b)
		}
		if !SameID(a, a) {
			t.Fatalf("SameID(%q, itself) is false", a)
		}
		if k := IDKey(a); IDKey(k) != k {
			t.Fatalf("IDKey not idempotent: %q -> %q -> %q", a, k, IDKey(k))
		}
		if isASCII(a) && isASCII(b) && SameID(a, b) != (IDKey(a) == IDKey(b)) {
			t.Fatalf("SameID(%q, %q) = %v but IDKeys %q, %q", a, b, SameID(a, b), IDKey(a), IDKey(b))
		}
		if !SameID(a, strings.ToUpper(a)) && isASCII(a) {
			t.Fatalf("SameID(%q, upper case) is false", a)
		}
		p := ParentOf(a)
		if p == "" {
			return
		}
		trimmed := strings.TrimRight(a, "/")
		parts := strings.Split(trimmed, "/")
		if len(parts) < 2 {
			t.Fatalf("ParentOf(%q) = %q for an id with no child segment", a, p)
		}
		childType := parts[len(parts)-2]
		if got := p + "/" + childType + "/" + NameOf(a); !strings.EqualFold(got, trimmed) {
			t.Fatalf("ParentOf(%q) + type + NameOf = %q, want %q", a, got, trimmed)
		}
		if len(p) >= len(trimmed) {
			t.Fatalf("ParentOf(%q) = %q is not shorter than the id", a, p)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
