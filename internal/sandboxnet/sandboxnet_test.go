package sandboxnet_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"

	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/verify"
)

const (
	hub    = "/subscriptions/s1/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/hub-vnet"
	spoke  = "/subscriptions/s2/resourceGroups/rg-app/providers/Microsoft.Network/virtualNetworks/spoke-app-vnet"
	legacy = "fhirserverxxx.azurehealthcareapis.com"
	wsFHIR = "ws1-fhir1.fhir.azurehealthcareapis.com"
)

// mapView is a View over a small table: host -> private IPs, and the VNets
// linked to the zone. It can change while servers run.
type mapView struct {
	mu     sync.Mutex
	ips    map[string][]string
	linked map[string]bool
}

func (m *mapView) Resolve(vnetID, fqdn string) ([]string, bool, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ips, known := m.ips[fqdn]
	return ips, m.linked[vnetID], known
}

func (m *mapView) link(vnetID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.linked[vnetID] = true
}

func guideView() *mapView {
	return &mapView{
		ips: map[string][]string{legacy: {"172.21.0.4"}, wsFHIR: {"10.0.1.5"}, "ws1.workspace.azurehealthcareapis.com": {"10.0.1.6"},
			"ws1-img.dicom.azurehealthcareapis.com": {"10.0.1.7"}, "norecord.azurehealthcareapis.com": nil},
		linked: map[string]bool{hub: true},
	}
}

func startDNS(t *testing.T, v sandboxnet.View) *sandboxnet.DNSServer {
	t.Helper()
	d := sandboxnet.NewDNSServer(v)
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func query(t *testing.T, addr, netw, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	c := &dns.Client{Net: netw, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s over %s at %s: %v", name, netw, addr, err)
	}
	return r
}

// answerLines renders an answer as "owner TYPE target" lines.
func answerLines(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch x := rr.(type) {
		case *dns.CNAME:
			out = append(out, x.Hdr.Name+" CNAME "+x.Target)
		case *dns.A:
			out = append(out, x.Hdr.Name+" A "+x.A.String())
		}
	}
	return out
}

func TestDNSServerAnswersLikeAzurePerVNet(t *testing.T) {
	d := startDNS(t, guideView())
	tests := []struct {
		name      string
		vnet      string
		qname     string
		qtype     uint16
		wantRcode int
		want      []string
	}{
		{
			name: "linked VNet: the guide's private answer", vnet: hub, qname: legacy, qtype: dns.TypeA,
			want: []string{
				"fhirserverxxx.azurehealthcareapis.com. CNAME fhirserverxxx.privatelink.azurehealthcareapis.com.",
				"fhirserverxxx.privatelink.azurehealthcareapis.com. A 172.21.0.4",
			},
		},
		{
			name: "unlinked peered VNet: the guide's public answer with Traffic Manager and cloudapp aliases", vnet: spoke, qname: legacy, qtype: dns.TypeA,
			want: []string{
				"fhirserverxxx.azurehealthcareapis.com. CNAME fhirserverxxx.privatelink.azurehealthcareapis.com.",
				"fhirserverxxx.privatelink.azurehealthcareapis.com. CNAME fhirserverxxx.trafficmanager.net.",
				"fhirserverxxx.trafficmanager.net. CNAME fhirserverxxx.cloudapp.azure.com.",
				"fhirserverxxx.cloudapp.azure.com. A 203.0.113.10",
			},
		},
		{
			name: "workspace FHIR host: privatelink inserted before fhir.azurehealthcareapis.com", vnet: hub, qname: "WS1-FHIR1.fhir.azurehealthcareapis.com.", qtype: dns.TypeA,
			want: []string{
				"ws1-fhir1.fhir.azurehealthcareapis.com. CNAME ws1-fhir1.privatelink.fhir.azurehealthcareapis.com.",
				"ws1-fhir1.privatelink.fhir.azurehealthcareapis.com. A 10.0.1.5",
			},
		},
		{
			name: "workspace host: privatelink inserted before workspace.azurehealthcareapis.com", vnet: hub, qname: "ws1.workspace.azurehealthcareapis.com", qtype: dns.TypeA,
			want: []string{
				"ws1.workspace.azurehealthcareapis.com. CNAME ws1.privatelink.workspace.azurehealthcareapis.com.",
				"ws1.privatelink.workspace.azurehealthcareapis.com. A 10.0.1.6",
			},
		},
		{
			name: "workspace DICOM host: privatelink inserted before dicom.azurehealthcareapis.com", vnet: spoke, qname: "ws1-img.dicom.azurehealthcareapis.com", qtype: dns.TypeA,
			want: []string{
				"ws1-img.dicom.azurehealthcareapis.com. CNAME ws1-img.privatelink.dicom.azurehealthcareapis.com.",
				"ws1-img.privatelink.dicom.azurehealthcareapis.com. CNAME ws1-img-dicom.trafficmanager.net.",
				"ws1-img-dicom.trafficmanager.net. CNAME ws1-img-dicom.cloudapp.azure.com.",
				"ws1-img-dicom.cloudapp.azure.com. A 203.0.113.10",
			},
		},
		{
			name: "privatelink name asked directly from an unlinked VNet", vnet: spoke, qname: "ws1-fhir1.privatelink.fhir.azurehealthcareapis.com", qtype: dns.TypeA,
			want: []string{
				"ws1-fhir1.privatelink.fhir.azurehealthcareapis.com. CNAME ws1-fhir1-fhir.trafficmanager.net.",
				"ws1-fhir1-fhir.trafficmanager.net. CNAME ws1-fhir1-fhir.cloudapp.azure.com.",
				"ws1-fhir1-fhir.cloudapp.azure.com. A 203.0.113.10",
			},
		},
		{
			name: "AAAA gets the chain without addresses", vnet: hub, qname: legacy, qtype: dns.TypeAAAA,
			want: []string{"fhirserverxxx.azurehealthcareapis.com. CNAME fhirserverxxx.privatelink.azurehealthcareapis.com."},
		},
		{
			name: "linked zone without the host's record: NXDOMAIN after the alias", vnet: hub, qname: "norecord.azurehealthcareapis.com", qtype: dns.TypeA,
			wantRcode: dns.RcodeNameError,
			want:      []string{"norecord.azurehealthcareapis.com. CNAME norecord.privatelink.azurehealthcareapis.com."},
		},
		{name: "unknown host", vnet: hub, qname: "nope.azurehealthcareapis.com", qtype: dns.TypeA, wantRcode: dns.RcodeNameError},
		{name: "name outside the private DNS table", vnet: hub, qname: "example.org", qtype: dns.TypeA, wantRcode: dns.RcodeNameError},
		{name: "a bare service suffix names no host", vnet: hub, qname: "fhir.azurehealthcareapis.com", qtype: dns.TypeA, wantRcode: dns.RcodeNameError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr := d.AddrFor(tc.vnet)
			if addr == "" {
				t.Fatalf("no resolver: %v", d.Err())
			}
			for _, netw := range []string{"udp", "tcp"} {
				r := query(t, addr, netw, tc.qname, tc.qtype)
				if r.Rcode != tc.wantRcode {
					t.Errorf("%s: got rcode %s, want %s", netw, dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.wantRcode])
				}
				if diff := cmp.Diff(answerLines(r), tc.want); diff != "" {
					t.Errorf("%s answer (-got +want):\n%s", netw, diff)
				}
			}
		})
	}
}

func TestDNSServerOneListenerPerVNet(t *testing.T) {
	d := startDNS(t, guideView())
	a1, a2 := d.AddrFor(hub), d.AddrFor(strings.ToUpper(hub))
	b := d.AddrFor(spoke)
	if a1 == "" || b == "" {
		t.Fatalf("no resolver: %v", d.Err())
	}
	if a1 != a2 {
		t.Errorf("same VNet in another casing got another listener: %s vs %s", a1, a2)
	}
	if a1 == b {
		t.Errorf("two VNets share listener %s", a1)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Listen(hub); err == nil {
		t.Error("Listen after Close succeeded")
	}
}

func startFHIR(t *testing.T) *sandboxnet.FHIRServer {
	t.Helper()
	f, err := sandboxnet.NewFHIRServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f
}

func getJSON(t *testing.T, c *http.Client, url string) (int, map[string]any) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: body not JSON: %v\n%s", url, err, b)
	}
	return resp.StatusCode, m
}

// clientVia is a client whose every connection goes to ip, as if DNS had
// resolved the FHIR host to it, through the sandbox network.
func clientVia(f *sandboxnet.FHIRServer, ip string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: f.CertPool(), MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return f.DialContext(ctx, n, net.JoinHostPort(ip, "443"))
		},
		DisableKeepAlives: true,
	}}
}

func TestFHIRServerPrivateAndPublicPaths(t *testing.T) {
	f := startFHIR(t)
	url := "https://" + legacy + "/metadata"

	status, body := getJSON(t, clientVia(f, "172.21.0.4"), url)
	if status != http.StatusOK || body["resourceType"] != "CapabilityStatement" || body["fhirVersion"] != "4.0.1" ||
		body["url"] != url {
		t.Errorf("private path: got %d %v, want 200 CapabilityStatement 4.0.1 for %s", status, body, url)
	}

	status, body = getJSON(t, clientVia(f, sandboxnet.DefaultPublicIP), url)
	issue, _ := body["issue"].([]any)
	if status != http.StatusForbidden || body["resourceType"] != "OperationOutcome" || len(issue) != 1 ||
		issue[0].(map[string]any)["diagnostics"] != "Access to fhirserverxxx was denied." {
		t.Errorf("public path: got %d %v, want 403 OperationOutcome \"Access to fhirserverxxx was denied.\"", status, body)
	}

	// From outside any VNet (host names dialed as they are) is public too.
	if status, _ := getJSON(t, f.Client(), url); status != http.StatusForbidden {
		t.Errorf("outside client: got %d, want 403", status)
	}
	// The private listener serves only /metadata.
	if status, _ := getJSON(t, clientVia(f, "10.0.0.9"), "https://"+legacy+"/Patient"); status != http.StatusNotFound {
		t.Errorf("private /Patient: got %d, want 404", status)
	}
	if p, pub := f.Hits(); p != 2 || pub != 2 {
		t.Errorf("got %d private and %d public hits, want 2 and 2", p, pub)
	}
}

func TestFHIRServerCAFile(t *testing.T) {
	f := startFHIR(t)
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := f.WriteCAFile(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("CA file holds no certificate:\n%s", b)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get(f.PrivateURL() + "/metadata")
	if err != nil {
		t.Fatalf("GET with the written CA: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("got %d, want 200", resp.StatusCode)
	}
}

// TestVerifierInSandbox runs the production checks against the sandbox
// network: the peered spoke VNet is not linked, so from it the FHIR host
// resolves publicly and /metadata answers 403; once linked, a rerun passes.
// (The ARM half and the reconciler are wired by the lead's end-to-end test.)
func TestVerifierInSandbox(t *testing.T) {
	view := guideView()
	d := startDNS(t, view)
	f := startFHIR(t)
	v := &verify.Verifier{
		ResolverFor: d.AddrFor,
		DialContext: f.DialContext,
		RootCAs:     f.CertPool(),
		Timeout:     5 * time.Second,
	}
	s := verify.Subject{
		FQDNs:         []string{legacy},
		ExpectVNetIDs: []string{hub, spoke},
		ExpectIPs:     []string{"172.21.0.4"},
		PublicURL:     f.PublicURL() + "/metadata",
	}
	first := v.Run(context.Background(), s)
	got := statuses(first)
	want := []string{
		"pass dns fhirserverxxx.azurehealthcareapis.com from hub-vnet",
		"fail dns fhirserverxxx.azurehealthcareapis.com from spoke-app-vnet",
		"pass http GET https://fhirserverxxx.azurehealthcareapis.com/metadata from hub-vnet",
		"fail http GET https://fhirserverxxx.azurehealthcareapis.com/metadata from spoke-app-vnet",
		"pass public GET " + f.PublicURL() + "/metadata refused",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Fatalf("first run (-got +want):\n%s\n%s", diff, first.Text())
	}
	if first.Status != verify.StatusRetry {
		t.Errorf("first run: got %s, want retry (a missing link may still be added)\n%s", first.Status, first.Text())
	}
	text := first.Text()
	for _, w := range []string{
		"fhirserverxxx.privatelink.azurehealthcareapis.com -> CNAME fhirserverxxx.trafficmanager.net -> CNAME fhirserverxxx.cloudapp.azure.com -> A 203.0.113.10",
		"privatelink.azurehealthcareapis.com is not linked",
		`403 Forbidden, application/fhir+json; charset=utf-8, resourceType OperationOutcome, issue "Access to fhirserverxxx was denied."`,
		"access denied: the request came over the public path",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("first report does not show %q:\n%s", w, text)
		}
	}

	view.link(spoke)
	second := v.RunAttempt(context.Background(), s, 2)
	if second.Status != verify.StatusPass {
		t.Errorf("after linking the spoke: got %s, want pass\n%s", second.Status, second.Text())
	}
}

func statuses(r verify.Report) []string {
	var out []string
	for _, c := range r.Checks {
		out = append(out, string(c.Status)+" "+c.Name)
	}
	return out
}
