package sandboxnet

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/plautopilot/autopilot/pkg/core"
)

// DefaultPublicIP is the public address the sandbox answers for a FHIR host
// seen from a VNet that is not linked to its private DNS zone. It is in
// TEST-NET-3 (203.0.113.0/24, RFC 5737): it looks public, is reserved for
// documentation and is never contacted (FHIRServer.DialContext routes it to
// the loopback public listener).
const DefaultPublicIP = "203.0.113.10"

// View is the sandbox's knowledge of private DNS, implemented over the
// sandbox state.
type View interface {
	// Resolve tells how the public host fqdn (lower case, no trailing dot,
	// e.g. "ws1-fhir1.fhir.azurehealthcareapis.com") resolves from vnetID:
	// known is false when the sandbox has no such host (NXDOMAIN); linked is
	// true when vnetID has a link to the private DNS zone that serves the
	// host per the private DNS table (core.ZoneForFQDN: privatelink.fhir...
	// for ws1-fhir1.fhir...); privateIPs are that zone's record for the host
	// (none: the linked zone lacks the record, and the alias gets NXDOMAIN
	// as in Azure).
	Resolve(vnetID, fqdn string) (privateIPs []string, linked bool, known bool)
}

// DNSServer answers DNS queries as Azure's resolver (168.63.129.16) would
// inside each VNet: one loopback listener (UDP and TCP on one port) per
// VNet, started on first use.
//
// The names it knows are those of the private DNS table (core.DNSTable):
// the public name gets a CNAME with "privatelink" inserted before the
// service's suffix (core.PrivateLinkAlias), answered by the A record of the
// matching zone. Seen from a VNet linked to that zone:
//
//	ws-fhir.fhir.azurehealthcareapis.com CNAME ws-fhir.privatelink.fhir.azurehealthcareapis.com A 172.21.0.4
//	name.azurehealthcareapis.com CNAME name.privatelink.azurehealthcareapis.com A 10.0.1.4
//
// Seen from any other VNet (the guide's broken nslookup), the public answer:
//
//	NAME.SUFFIX CNAME NAME.privatelink.SUFFIX CNAME HOST.trafficmanager.net
//	CNAME HOST.cloudapp.azure.com A 203.0.113.10
//
// (HOST is the public name before azurehealthcareapis.com, dots as dashes).
// A VNet linked only to another zone (the legacy one, for a workspace FHIR
// name) gets the public answer: Azure never looks there for that name.
type DNSServer struct {
	view View

	mu      sync.Mutex
	vnets   map[string]*vnetListener
	aliases map[string]string // generated public alias name -> public host
	closed  bool
	lastErr error
}

type vnetListener struct {
	addr    string
	servers []*dns.Server
}

// NewDNSServer returns a server answering from view. Listeners start on
// the first AddrFor or Listen of each VNet; Close stops them all.
func NewDNSServer(view View) *DNSServer {
	return &DNSServer{view: view, vnets: map[string]*vnetListener{}, aliases: map[string]string{}}
}

// AddrFor returns the HOST:PORT of the resolver of vnetID, starting it when
// needed, or "" when it could not start (see Err). It fits
// verify.Verifier.ResolverFor.
func (d *DNSServer) AddrFor(vnetID string) string {
	addr, err := d.Listen(vnetID)
	if err != nil {
		return ""
	}
	return addr
}

// Err returns the last failure to start a listener.
func (d *DNSServer) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lastErr
}

// Listen starts (once) and returns the resolver of vnetID.
func (d *DNSServer) Listen(vnetID string) (string, error) {
	key := strings.ToLower(strings.TrimRight(vnetID, "/"))
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return "", errors.New("sandbox dns: server closed")
	}
	if l, ok := d.vnets[key]; ok {
		return l.addr, nil
	}
	l, err := d.start(vnetID)
	if err != nil {
		d.lastErr = fmt.Errorf("sandbox dns for vnet %s: %w", vnetID, err)
		return "", d.lastErr
	}
	d.vnets[key] = l
	return l.addr, nil
}

// start binds UDP on a free loopback port and TCP on the same port
// (retrying when another process holds the TCP side).
func (d *DNSServer) start(vnetID string) (*vnetListener, error) {
	var lastErr error
	for try := 0; try < 10; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := pc.LocalAddr().String()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			pc.Close()
			lastErr = err
			continue
		}
		h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) { d.serve(vnetID, w, q) })
		l := &vnetListener{addr: addr, servers: []*dns.Server{
			{PacketConn: pc, Handler: h},
			{Listener: ln, Handler: h},
		}}
		for _, s := range l.servers {
			started := make(chan struct{})
			s.NotifyStartedFunc = func() { close(started) }
			go func() { _ = s.ActivateAndServe() }()
			<-started
		}
		return l, nil
	}
	return nil, fmt.Errorf("no free loopback port for udp and tcp: %w", lastErr)
}

// Close stops every listener.
func (d *DNSServer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	var errs []error
	for _, l := range d.vnets {
		for _, s := range l.servers {
			if err := s.Shutdown(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	d.vnets = map[string]*vnetListener{}
	return errors.Join(errs...)
}

func (d *DNSServer) serve(vnetID string, w dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Authoritative = false
	m.RecursionAvailable = true
	if len(q.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	qq := q.Question[0]
	m.Answer, m.Rcode = d.Answer(vnetID, qq.Name, qq.Qtype)
	_ = w.WriteMsg(m)
}

// stage is how far along the alias chain a queried name is.
type stage int

const (
	stagePublic stage = iota
	stagePrivatelink
	stageTrafficManager
	stageCloudapp
)

// Answer computes the answer records and rcode for a query from vnetID.
// CNAMEs are always answered; A records only for A (and ANY) queries, so
// AAAA queries get the chain without addresses (NODATA), as in Azure.
func (d *DNSServer) Answer(vnetID, qname string, qtype uint16) ([]dns.RR, int) {
	name := strings.ToLower(strings.TrimSuffix(qname, "."))
	host, st, ok := d.classify(name)
	if !ok {
		return nil, dns.RcodeNameError
	}
	pl, ok := core.PrivateLinkAlias(host)
	if !ok {
		return nil, dns.RcodeNameError
	}
	dashed := strings.ReplaceAll(strings.TrimSuffix(host, "."+core.HealthcareDomain), ".", "-")
	tm := dashed + ".trafficmanager.net"
	ca := dashed + ".cloudapp.azure.com"

	ips, linked, known := d.view.Resolve(vnetID, host)
	if !known {
		return nil, dns.RcodeNameError
	}
	d.mu.Lock()
	d.aliases[tm], d.aliases[ca] = host, host
	d.mu.Unlock()

	wantA := qtype == dns.TypeA || qtype == dns.TypeANY
	var rrs []dns.RR
	cname := func(from, to string) {
		rrs = append(rrs, &dns.CNAME{Hdr: hdr(from, dns.TypeCNAME, 60), Target: dns.Fqdn(to)})
	}
	a := func(owner string, ttl uint32, addrs ...string) {
		if !wantA {
			return
		}
		for _, ip := range addrs {
			if p := net.ParseIP(ip).To4(); p != nil {
				rrs = append(rrs, &dns.A{Hdr: hdr(owner, dns.TypeA, ttl), A: p})
			}
		}
	}
	if st == stagePublic {
		cname(host, pl)
	}
	if st <= stagePrivatelink {
		if linked {
			if len(ips) == 0 {
				return rrs, dns.RcodeNameError // linked zone without the record
			}
			a(pl, 10, ips...)
			return rrs, dns.RcodeSuccess
		}
		cname(pl, tm)
	}
	if st <= stageTrafficManager {
		cname(tm, ca)
	}
	a(ca, 60, DefaultPublicIP)
	return rrs, dns.RcodeSuccess
}

func hdr(owner string, t uint16, ttl uint32) dns.RR_Header {
	return dns.RR_Header{Name: dns.Fqdn(owner), Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
}

// classify maps a queried name to its public host and its stage in the
// alias chain.
func (d *DNSServer) classify(name string) (host string, st stage, ok bool) {
	if strings.HasSuffix(name, ".trafficmanager.net") || strings.HasSuffix(name, ".cloudapp.azure.com") {
		d.mu.Lock()
		host, ok = d.aliases[name]
		d.mu.Unlock()
		if strings.HasSuffix(name, ".trafficmanager.net") {
			return host, stageTrafficManager, ok
		}
		return host, stageCloudapp, ok
	}
	z, rec, ok := core.ZoneForFQDN(name)
	if !ok {
		return "", stagePublic, false
	}
	host = rec + "." + z.PublicSuffix
	if strings.HasSuffix(name, "."+z.Zone) {
		return host, stagePrivatelink, true
	}
	return host, stagePublic, true
}
