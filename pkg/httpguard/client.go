package httpguard

import (
	"net"
	"net/http"
	"net/netip"
)

// Client returns the key a remote address is counted and limited by: an
// IPv4 address as is (also when written as an IPv4-mapped IPv6 address),
// an IPv6 address by its /64 ("2001:db8:1:2::/64"). One IPv6 subscriber is
// usually given a whole /64 (2^64 addresses), so keying by the full address
// would give one client 2^64 budgets. remoteAddr is "host:port" or a bare
// host; anything unparseable is its own key.
func Client(remoteAddr string) string {
	host := remoteAddr
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		host = h
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return addr.String()
	}
	return p.String()
}

// ClientOf is Client of a request's remote address. Forwarding headers
// (X-Forwarded-For ...) are not read: anyone can set them.
func ClientOf(r *http.Request) string { return Client(r.RemoteAddr) }
