package verify

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/plautopilot/autopilot/pkg/core"
)

// ResolvConf is where the platform resolver is read from.
var ResolvConf = "/etc/resolv.conf"

// PlatformResolver returns the first nameserver of /etc/resolv.conf as
// HOST:PORT (in an Azure VNet: 168.63.129.16:53).
func PlatformResolver() (string, error) {
	cfg, err := dns.ClientConfigFromFile(ResolvConf)
	if err != nil {
		return "", fmt.Errorf("read platform resolver from %s: %w", ResolvConf, err)
	}
	if len(cfg.Servers) == 0 {
		return "", fmt.Errorf("read platform resolver from %s: no nameserver line", ResolvConf)
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

// Answer is what a resolver said about a name, with its CNAME chain
// followed.
type Answer struct {
	Resolver string
	Rcode    int
	// Chain is the queried name followed by each CNAME target, in order.
	Chain []string
	// IPs are the addresses of the last name of the chain.
	IPs []string
}

// String renders the answer like a one-line nslookup: the chain and the
// addresses.
func (a Answer) String() string {
	s := strings.Join(a.Chain, " -> CNAME ")
	if len(a.IPs) > 0 {
		s += " -> A " + strings.Join(a.IPs, ", ")
	}
	if a.Rcode != dns.RcodeSuccess {
		s += " (" + dns.RcodeToString[a.Rcode] + ")"
	}
	return s + " [resolver " + a.Resolver + "]"
}

// Lookup asks resolver (HOST:PORT) for the A records of name, over UDP and
// over TCP when the answer is truncated, and follows the CNAME chain in the
// answer. When the chain ends without addresses it asks once more for the
// last name (a forwarding resolver may return the chain in pieces).
func Lookup(ctx context.Context, resolver, name string) (Answer, error) {
	a := Answer{Resolver: resolver, Chain: []string{strings.ToLower(strings.TrimSuffix(name, "."))}}
	for round := 0; round < 2; round++ {
		qname := a.Chain[len(a.Chain)-1]
		r, err := exchange(ctx, resolver, qname)
		if err != nil {
			return a, err
		}
		a.Rcode = r.Rcode
		a.IPs = nil
		cur := qname
		for hops := 0; hops < 16; hops++ {
			next := ""
			for _, rr := range r.Answer {
				if c, ok := rr.(*dns.CNAME); ok && sameName(c.Hdr.Name, cur) {
					next = strings.ToLower(strings.TrimSuffix(c.Target, "."))
					break
				}
			}
			if next == "" || slices.Contains(a.Chain, next) {
				break
			}
			a.Chain = append(a.Chain, next)
			cur = next
		}
		for _, rr := range r.Answer {
			if ar, ok := rr.(*dns.A); ok && sameName(ar.Hdr.Name, cur) {
				a.IPs = append(a.IPs, ar.A.String())
			}
		}
		if len(a.IPs) > 0 || r.Rcode != dns.RcodeSuccess || cur == qname {
			break
		}
	}
	return a, nil
}

func exchange(ctx context.Context, resolver, name string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	m.RecursionDesired = true
	c := &dns.Client{Net: "udp"}
	r, _, err := c.ExchangeContext(ctx, m, resolver)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, resolver)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s A at %s: %w", name, resolver, err)
	}
	return r, nil
}

// cgnat is the carrier-grade NAT range (RFC 6598), used by some VNets.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// IsPrivateIP reports whether ip is an RFC 1918, RFC 6598 (CGNAT) or IPv6
// unique local address: one a private endpoint can have.
func IsPrivateIP(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsPrivate() || cgnat.Contains(a)
}

func isPrivatelinkName(n string) bool {
	return strings.HasPrefix(n, "privatelink.") || strings.Contains(n, ".privatelink.")
}

func isPublicAlias(n string) bool {
	return strings.HasSuffix(n, ".trafficmanager.net") || strings.HasSuffix(n, ".cloudapp.azure.com") ||
		strings.HasSuffix(n, ".cloudapp.net")
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// checkDNS resolves fqdn at resolver and judges the answer. from names the
// VNet the resolver serves (" from spoke-vnet") or is empty.
func (v *Verifier) checkDNS(ctx context.Context, resolver, fqdn string, expect []string, from string) CheckResult {
	if resolver == "" {
		r, err := PlatformResolver()
		if err != nil {
			return CheckResult{Status: StatusError, Evidence: []string{err.Error()},
				Diagnosis: "no resolver to ask: give one (HOST:PORT) or fix " + ResolvConf}
		}
		resolver = r
	}
	a, err := Lookup(ctx, resolver, fqdn)
	if err != nil {
		if isTimeout(err) {
			return CheckResult{Status: StatusRetry, Retryable: true, Evidence: []string{err.Error()},
				Diagnosis: fmt.Sprintf("the resolver %s did not answer in time; check the resolver address and that DNS (udp/tcp 53) is allowed from here (inside an Azure VNet the resolver is 168.63.129.16)", resolver)}
		}
		return CheckResult{Status: StatusError, Retryable: true, Evidence: []string{err.Error()},
			Diagnosis: fmt.Sprintf("could not query the resolver %s (nothing serves DNS there, or the network refuses it); check the resolver address", resolver)}
	}
	return judgeAnswer(a, fqdn, expect, from)
}

// judgeAnswer compares a resolver's answer with what a working private
// link shows (the guide's first nslookup) and diagnoses the rest.
func judgeAnswer(a Answer, fqdn string, expect []string, from string) CheckResult {
	res := CheckResult{Evidence: []string{a.String()}}
	where := strings.TrimSpace(from)
	if where == "" {
		where = "from here"
	}
	var plName string
	var aliases []string
	for _, n := range a.Chain[1:] {
		if isPrivatelinkName(n) && plName == "" {
			plName = n
		}
		if isPublicAlias(n) {
			aliases = append(aliases, n)
		}
	}
	if isPrivatelinkName(a.Chain[0]) {
		plName = a.Chain[0]
	}
	var public, private []string
	for _, ip := range a.IPs {
		if IsPrivateIP(ip) {
			private = append(private, ip)
		} else {
			public = append(public, ip)
		}
	}
	zone := "the private DNS zone of " + fqdn
	if z, _, ok := core.ZoneForFQDN(fqdn); ok {
		zone = z.Zone
	}
	if plName != "" {
		if i := strings.Index(plName, "privatelink."); i >= 0 {
			zone = plName[i:]
		}
	}
	switch {
	case a.Rcode == dns.RcodeNameError && plName != "" && len(a.Chain) > 1:
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = fmt.Sprintf("%s resolves to the alias %s, which does not exist (NXDOMAIN) %s: the VNet is linked to %s but the zone has no A record for the name; add the endpoint's DNS zone group (it writes the record)",
			fqdn, plName, where, zone)
	case a.Rcode == dns.RcodeNameError:
		res.Status = StatusFail
		res.Diagnosis = fmt.Sprintf("%s does not exist (NXDOMAIN): check the FQDN (legacy FHIR: NAME.azurehealthcareapis.com; workspace FHIR: WORKSPACE-FHIRSERVICE.fhir.azurehealthcareapis.com)", fqdn)
	case a.Rcode != dns.RcodeSuccess:
		res.Status, res.Retryable = StatusError, true
		res.Diagnosis = fmt.Sprintf("the resolver %s answered %s for %s; it could not resolve the name (forwarding broken?)", a.Resolver, dns.RcodeToString[a.Rcode], fqdn)
	case len(public) > 0 || len(aliases) > 0:
		res.Status, res.Retryable = StatusFail, true
		addr := "no address"
		if len(a.IPs) > 0 {
			addr = "the public address " + strings.Join(a.IPs, ", ")
		}
		via := ""
		if len(aliases) > 0 {
			via = " through " + strings.Join(aliases, " and ")
		}
		res.Diagnosis = fmt.Sprintf("%s resolves %s%s %s: the private DNS zone %s is not linked to the VNet this resolver serves (often a VNet peered with the endpoint's), or a link is still propagating; link the VNet to the zone. Over this path GET /metadata gets 403 \"Access to ... was denied\"",
			fqdn, addr, via, where, zone)
	case len(a.IPs) == 0:
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = fmt.Sprintf("%s has no A record %s (the answer holds only %s)", fqdn, where, strings.Join(a.Chain, " -> "))
	case len(expect) > 0 && !anyIn(private, expect):
		res.Status = StatusFail
		res.Diagnosis = fmt.Sprintf("%s resolves to the private address %s but the endpoint's IP is %s: a stale A record in %s (from a deleted endpoint?) or another zone with the same name linked to this VNet; fix the record",
			fqdn, strings.Join(private, ", "), strings.Join(expect, ", "), zone)
	default:
		res.Status = StatusPass
		if plName == "" {
			res.Evidence = append(res.Evidence, "answered with a private address without the privatelink alias (custom DNS or hosts override)")
		}
	}
	return res
}
