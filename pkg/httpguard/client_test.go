package httpguard

import "testing"

func TestClientKeysIPv6By64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:4000":                       "192.0.2.7",
		"192.0.2.7":                            "192.0.2.7",
		"[::ffff:192.0.2.7]:80":                "192.0.2.7",
		"[2001:db8:1:2::1]:443":                "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff:ffff:ffff:ffff]:1": "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:443":                "2001:db8:1:3::/64",
		"[fe80::1%eth0]:80":                    "fe80::/64",
		"[::1]:8080":                           "::/64",
		"not-an-address":                       "not-an-address",
	} {
		if got := Client(in); got != want {
			t.Errorf("Client(%q) = %q; want %q", in, got, want)
		}
	}
}
