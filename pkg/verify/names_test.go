package verify

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"

	"github.com/plautopilot/autopilot/pkg/core"
)

// recordingDNS answers like startDNS's guide records for the legacy host and
// NXDOMAIN otherwise, and records every name asked.
func recordingDNS(t *testing.T) (addr string, asked func() []string) {
	t.Helper()
	var mu sync.Mutex
	var names []string
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			mu.Lock()
			names = append(names, strings.ToLower(q.Question[0].Name))
			mu.Unlock()
			m := new(dns.Msg)
			m.SetReply(q)
			if strings.EqualFold(q.Question[0].Name, guideFQDN+".") {
				for _, line := range guidePrivate {
					rr, _ := dns.NewRR(line)
					m.Answer = append(m.Answer, rr)
				}
			} else {
				m.Rcode = dns.RcodeNameError
			}
			_ = w.WriteMsg(m)
		})}
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String(), func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), names...)
	}
}

// An endpoint's owner controls its customDnsConfigs: a name there that is
// not a host of the governed target (evil.fhir.attacker.example) gets no DNS
// query and no HTTP request, from any VNet, and is a finding in the report.
func TestEndpointOwnedNamesAreNeverProbed(t *testing.T) {
	f := guideWorld()
	updateEP(f, func(e *core.Endpoint) {
		e.Connections = []core.EndpointConnection{{Name: "c", TargetID: targetID, Status: core.StatusApproved}}
		e.DNS = []core.DNSRecord{
			{FQDN: "evil.fhir.attacker.example", IPs: []string{"172.21.0.4"}},
			{FQDN: guideFQDN, IPs: []string{"172.21.0.4"}},
			{FQDN: "evil.fhir.azurehealthcareapis.com", IPs: []string{"172.21.0.4"}},
		}
	})
	resolver, asked := recordingDNS(t)
	var mu sync.Mutex
	var dialed []string
	v := &Verifier{Reader: f, ResolverFor: func(string) string { return resolver },
		DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			return nil, &net.OpError{Op: "dial", Err: net.UnknownNetworkError("test: no network")}
		}}
	for _, s := range []Subject{{EndpointID: epID}, {EndpointID: epID, TargetID: targetID}} {
		rep := v.Run(context.Background(), s)
		for _, c := range rep.Checks {
			if strings.Contains(c.Name, "evil") {
				t.Errorf("subject %+v: a check probes an endpoint-owned name: %s", s, c.Name)
			}
		}
		names := find(t, rep, "arm endpoint dns names")
		if names.Status != StatusFail || !strings.Contains(names.Diagnosis, "evil.fhir.attacker.example") || !strings.Contains(names.Diagnosis, "evil.fhir.azurehealthcareapis.com") {
			t.Errorf("subject %+v: names finding %s %q, want both stray names reported", s, names.Status, names.Diagnosis)
		}
		if find(t, rep, "dns "+guideFQDN+" from hub-vnet (the endpoint's VNet)").Status != StatusPass {
			t.Errorf("the target's own name was not verified")
		}
	}
	for _, n := range asked() {
		if strings.Contains(n, "evil") {
			t.Errorf("DNS query for %s", n)
		}
	}
	if len(asked()) == 0 {
		t.Fatal("no DNS query at all: the test does not exercise the resolver")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, a := range dialed {
		if !strings.HasPrefix(a, "172.21.0.4:") {
			t.Errorf("HTTP dial to %s, want only the target's private address", a)
		}
	}
}

func TestDerivedFromTheTable(t *testing.T) {
	ws := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/workspaces/contoso-health"
	svc := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.HealthcareApis/services/fhirserverxxx"
	tests := []struct {
		fqdn, target string
		want         bool
	}{
		{"contoso-health-patients.fhir.azurehealthcareapis.com", ws, true},
		{"contoso-health.workspace.azurehealthcareapis.com", ws, true},
		{"contoso-health-images.dicom.azurehealthcareapis.com", ws, true},
		{"contoso-health-patients.privatelink.fhir.azurehealthcareapis.com", ws, false},
		{"other-patients.fhir.azurehealthcareapis.com", ws, false},
		{"contoso-health.azurehealthcareapis.com", ws, false}, // legacy zone: not a workspace name
		{"fhirserverxxx.azurehealthcareapis.com", svc, true},
		{"fhirserverxxx-x.fhir.azurehealthcareapis.com", svc, false},
		{"evil.fhir.attacker.example", ws, false},
		{"contoso-health-patients.fhir.azurehealthcareapis.com.attacker.example", ws, false},
	}
	for _, tc := range tests {
		if got := derivedFrom(tc.fqdn, tc.target); got != tc.want {
			t.Errorf("derivedFrom(%s, %s) = %v, want %v", tc.fqdn, core.NameOf(tc.target), got, tc.want)
		}
	}
}
