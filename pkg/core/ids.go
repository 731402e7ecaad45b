package core

import "strings"

// SameID reports whether two ARM resource IDs name the same resource. ARM IDs
// are case-insensitive and events mix casings ("resourcegroups" vs
// "resourceGroups"), so IDs must never be compared with ==.
func SameID(a, b string) bool {
	// Compare the canonical keys rather than strings.EqualFold: EqualFold
	// folds Unicode ("ſ" equals "s") while map keys use ToLower, and the two
	// must agree or a resource found by comparison is missed in a map.
	return IDKey(a) == IDKey(b)
}

// IDKey is the canonical map key for a resource ID: lower case, no trailing
// slash. Use it wherever IDs index a map or feed a hash.
func IDKey(id string) string {
	return strings.ToLower(strings.TrimRight(id, "/"))
}

// segment returns the value following the given key in a resource ID
// (case-insensitive key match), or "" when absent.
func segment(id, key string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], key) {
			return parts[i+1]
		}
	}
	return ""
}

// SubscriptionOf returns the subscription ID of a resource ID, or "".
func SubscriptionOf(id string) string { return segment(id, "subscriptions") }

// ResourceGroupOf returns the resource group name of a resource ID, or "".
func ResourceGroupOf(id string) string { return segment(id, "resourceGroups") }

// NameOf returns the last segment of a resource ID (the resource's name).
func NameOf(id string) string {
	id = strings.TrimRight(id, "/")
	if i := strings.LastIndex(id, "/"); i >= 0 {
		return id[i+1:]
	}
	return id
}

// ParentOf returns the ID of the parent resource of a child resource ID
// ("/.../workspaces/ws/privateEndpointConnections/c" -> "/.../workspaces/ws"),
// or "" when the ID has no parent resource.
func ParentOf(id string) string {
	id = strings.TrimRight(id, "/")
	parts := strings.Split(id, "/")
	// a provider resource ID is .../providers/NS/type/name[/type/name...]
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.EqualFold(parts[i], "providers") {
			if len(parts)-i-1 > 3 { // NS/type/name/childType/childName
				return strings.Join(parts[:len(parts)-2], "/")
			}
			return ""
		}
	}
	return ""
}
