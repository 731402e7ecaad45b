package verify

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/plautopilot/autopilot/pkg/core"
)

// The guide's two nslookup answers, as zone data a resolver would return.
// 203.0.113.10 (TEST-NET-3) stands for the guide's public 52.x address: it
// looks public and is never contacted.
var (
	guidePrivate = []string{
		"fhirserverxxx.azurehealthcareapis.com. 60 IN CNAME fhirserverxxx.privatelink.azurehealthcareapis.com.",
		"fhirserverxxx.privatelink.azurehealthcareapis.com. 10 IN A 172.21.0.4",
	}
	guidePublic = []string{
		"fhirserverxxx.azurehealthcareapis.com. 60 IN CNAME fhirserverxxx.privatelink.azurehealthcareapis.com.",
		"fhirserverxxx.privatelink.azurehealthcareapis.com. 60 IN CNAME xxx.trafficmanager.net.",
		"xxx.trafficmanager.net. 60 IN CNAME xxx.cloudapp.azure.com.",
		"xxx.cloudapp.azure.com. 60 IN A 203.0.113.10",
	}
)

// startDNS serves records on a loopback UDP port with a miekg/dns server,
// answering like a recursive resolver: the CNAME chain from the question
// followed to its end, NXDOMAIN when a name of the chain has no records.
func startDNS(t *testing.T, records ...string) string {
	t.Helper()
	zone := map[string][]dns.RR{}
	for _, line := range records {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("bad test record %q: %v", line, err)
		}
		name := strings.ToLower(rr.Header().Name)
		zone[name] = append(zone[name], rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			m.RecursionAvailable = true
			name := strings.ToLower(q.Question[0].Name)
			for hops := 0; hops < 10; hops++ {
				rrs, ok := zone[name]
				if !ok {
					m.Rcode = dns.RcodeNameError
					break
				}
				next := ""
				for _, rr := range rrs {
					if c, isC := rr.(*dns.CNAME); isC {
						next = strings.ToLower(c.Target)
						m.Answer = append(m.Answer, rr)
					} else if rr.Header().Rrtype == q.Question[0].Qtype {
						m.Answer = append(m.Answer, rr)
					}
				}
				if next == "" {
					break
				}
				name = next
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

// silentDNS is a loopback UDP port that reads queries and never answers.
func silentDNS(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	return pc.LocalAddr().String()
}

// fakeReader is an in-memory core.Reader.
type fakeReader struct {
	targets   map[string]core.Target
	endpoints map[string]core.Endpoint
	vnets     map[string]core.VNet
	links     map[string][]core.VNetLink // by zone id key
	records   map[string][]core.ARecord  // by zone id key
	err       error                      // returned by every call when set
}

func notFound(op, id string) error {
	return &core.Error{Class: core.NotFound, Op: op, ResourceID: id, StatusCode: 404, Code: "ResourceNotFound"}
}

func (f *fakeReader) GetTarget(_ context.Context, id string) (core.Target, error) {
	if f.err != nil {
		return core.Target{}, f.err
	}
	t, ok := f.targets[core.IDKey(id)]
	if !ok {
		return t, notFound("get target", id)
	}
	return t, nil
}

func (f *fakeReader) ListTargets(context.Context, string) ([]core.Target, error) { return nil, nil }

func (f *fakeReader) GetEndpoint(_ context.Context, id string) (core.Endpoint, error) {
	if f.err != nil {
		return core.Endpoint{}, f.err
	}
	e, ok := f.endpoints[core.IDKey(id)]
	if !ok {
		return e, notFound("get endpoint", id)
	}
	return e, nil
}

func (f *fakeReader) GetVNet(_ context.Context, id string) (core.VNet, error) {
	v, ok := f.vnets[core.IDKey(id)]
	if !ok {
		return v, notFound("get vnet", id)
	}
	return v, nil
}

func (f *fakeReader) ListVNets(context.Context, string) ([]core.VNet, error) { return nil, nil }

func (f *fakeReader) ListVNetLinks(_ context.Context, zoneID string) ([]core.VNetLink, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.links[core.IDKey(zoneID)], nil
}

func (f *fakeReader) ListARecords(_ context.Context, zoneID string) ([]core.ARecord, error) {
	if f.err != nil {
		return nil, f.err
	}
	return f.records[core.IDKey(zoneID)], nil
}

// The guide's situation: a legacy FHIR server with a private endpoint in
// hub-vnet, and spoke-app-vnet peered with the hub.
const (
	sub       = "/subscriptions/11111111-1111-1111-1111-111111111111"
	targetID  = sub + "/resourceGroups/rg-fhir/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	connID    = targetID + "/privateEndpointConnections/pe-fhir.conn"
	epID      = sub + "/resourceGroups/rg-net/providers/Microsoft.Network/privateEndpoints/pe-fhir"
	hubID     = sub + "/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	spokeID   = sub + "/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	zoneID    = sub + "/resourceGroups/rg-dns/providers/Microsoft.Network/privateDnsZones/privatelink.azurehealthcareapis.com"
	guideFQDN = "fhirserverxxx.azurehealthcareapis.com"
	// legacyZoneID names the zone the legacy service of this world needs.
	legacyZoneID = zoneID
)

// guideWorld returns the guide's situation fully configured; tests break
// one thing at a time.
func guideWorld() *fakeReader {
	return &fakeReader{
		targets: map[string]core.Target{core.IDKey(targetID): {
			ID: targetID, Kind: core.TargetService, Name: "fhirserverxxx", FQDNs: []string{guideFQDN},
			Connections: []core.Connection{{ID: connID, Name: "pe-fhir.conn", TargetID: targetID,
				PrivateEndpointID: epID, Status: core.StatusApproved, Description: "approved by rule app-teams"}},
		}},
		endpoints: map[string]core.Endpoint{core.IDKey(epID): {
			ID: epID, Name: "pe-fhir", VNetID: hubID,
			DNS:        []core.DNSRecord{{FQDN: guideFQDN, IPs: []string{"172.21.0.4"}}},
			PrivateIPs: []string{"172.21.0.4"},
			ZoneGroups: []core.ZoneGroup{{ID: epID + "/privateDnsZoneGroups/default", Name: "default", ZoneIDs: []string{zoneID}}},
		}},
		vnets: map[string]core.VNet{
			core.IDKey(hubID):   {ID: hubID, Name: "hub-vnet", Peerings: []core.Peering{{Name: "hub-to-spoke", RemoteVNetID: spokeID, State: "Connected"}}},
			core.IDKey(spokeID): {ID: spokeID, Name: "spoke-app-vnet", Peerings: []core.Peering{{Name: "spoke-to-hub", RemoteVNetID: hubID, State: "Connected"}}},
		},
		links: map[string][]core.VNetLink{core.IDKey(zoneID): {
			{ID: zoneID + "/virtualNetworkLinks/hub", Name: "hub", ZoneID: zoneID, VNetID: hubID, State: "Completed"},
			{ID: zoneID + "/virtualNetworkLinks/spoke", Name: "spoke", ZoneID: zoneID, VNetID: spokeID, State: "Completed"},
		}},
		records: map[string][]core.ARecord{core.IDKey(zoneID): {
			{ZoneID: zoneID, Name: "fhirserverxxx", FQDN: "fhirserverxxx.privatelink.azurehealthcareapis.com", IPs: []string{"172.21.0.4"}, TTL: 10},
		}},
	}
}

func guideSubject() Subject {
	return Subject{TargetID: targetID, EndpointID: epID, ZoneIDs: []string{zoneID}, ExpectVNetIDs: []string{spokeID}}
}

// find returns the check named name from a report, failing the test when
// it is missing.
func find(t *testing.T, r Report, name string) CheckResult {
	t.Helper()
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name)
	}
	t.Fatalf("no check %q in report; checks: %q", name, names)
	return CheckResult{}
}
