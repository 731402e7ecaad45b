package azure

import "strings"

// Nil-safe accessors for SDK pointers. SDK models mark almost every field
// optional; a missing field reads as its zero value, never a panic.

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// strOf dereferences pointers to string-based SDK enums.
func strOf[T ~string](p *T) string {
	if p == nil {
		return ""
	}
	return string(*p)
}

func boolOf(p *bool) bool { return p != nil && *p }

func int64Of[T ~int32 | ~int64](p *T) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

// strs flattens a slice of string pointers, dropping nils and empty strings.
func strs(ps []*string) []string {
	var out []string
	for _, p := range ps {
		if s := str(p); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// tags copies an SDK tag map, dropping nil values; nil when empty.
func tags(m map[string]*string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v != nil {
			out[k] = *v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// appendUnique appends the non-empty values not yet present (compared
// case-insensitively, as IPs and host names are).
func appendUnique(list []string, values ...string) []string {
	for _, v := range values {
		if v == "" {
			continue
		}
		seen := false
		for _, have := range list {
			if strings.EqualFold(have, v) {
				seen = true
				break
			}
		}
		if !seen {
			list = append(list, v)
		}
	}
	return list
}
