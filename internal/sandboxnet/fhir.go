package sandboxnet

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// FHIRServer is the sandbox's FHIR data plane: two loopback TLS listeners.
// The private one (reached through the private endpoint) serves GET
// /metadata with a CapabilityStatement, without authentication as a FHIR
// server does. The public one answers per target as Azure does: while the
// target's public network access is enforced Enabled, the same
// CapabilityStatement; once Disabled is enforced (after the sandbox's
// propagation delay), 403 "Access to NAME was denied". Without a
// PublicGate (WithPublicGate) the public listener refuses every host, as a
// FHIR server whose public access is off. Its certificate is issued by a
// CA made at start, valid for *.azurehealthcareapis.com names and
// 127.0.0.1.
type FHIRServer struct {
	private, public *httptest.Server
	caPEM           []byte
	pool            *x509.CertPool
	gate            PublicGate
	privateHits     atomic.Int64
	publicHits      atomic.Int64
}

// FHIROption configures a FHIRServer.
type FHIROption func(*FHIRServer)

// WithPublicGate makes the public listener answer per target from g
// (NewSandboxView: the sandbox's publicNetworkAccess with its propagation
// delay).
func WithPublicGate(g PublicGate) FHIROption { return func(f *FHIRServer) { f.gate = g } }

// DNSNames are the names the sandbox certificate is valid for.
var DNSNames = []string{
	"*.azurehealthcareapis.com",
	"*.fhir.azurehealthcareapis.com",
	"*.dicom.azurehealthcareapis.com",
	"*.workspace.azurehealthcareapis.com",
	"*.privatelink.azurehealthcareapis.com",
	"localhost",
}

// NewFHIRServer starts both listeners.
func NewFHIRServer(opts ...FHIROption) (*FHIRServer, error) {
	cert, caPEM, err := issue(time.Now())
	if err != nil {
		return nil, fmt.Errorf("sandbox fhir certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	f := &FHIRServer{caPEM: caPEM, pool: pool}
	for _, o := range opts {
		o(f)
	}
	f.private = startTLS(cert, http.HandlerFunc(f.servePrivate))
	f.public = startTLS(cert, http.HandlerFunc(f.servePublic))
	return f, nil
}

func startTLS(cert tls.Certificate, h http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.StartTLS()
	return s
}

// PrivateURL is the base URL of the private listener (https://127.0.0.1:PORT).
func (f *FHIRServer) PrivateURL() string { return f.private.URL }

// PublicURL is the base URL of the public listener; PublicURL()+"/metadata"
// is the public probe (verify.Subject.PublicURL).
func (f *FHIRServer) PublicURL() string { return f.public.URL }

// CertPool trusts the sandbox certificate (verify.Verifier.RootCAs).
func (f *FHIRServer) CertPool() *x509.CertPool { return f.pool }

// WriteCAFile writes the CA certificate for `handler verify --ca-file`.
func (f *FHIRServer) WriteCAFile(path string) error {
	if err := os.WriteFile(path, f.caPEM, 0o644); err != nil {
		return fmt.Errorf("write sandbox ca file: %w", err)
	}
	return nil
}

// Hits returns how many requests each listener served.
func (f *FHIRServer) Hits() (private, public int64) {
	return f.privateHits.Load(), f.publicHits.Load()
}

// DialContext stands for the network between a VNet and the FHIR server:
// a private (RFC 1918 / CGNAT) address reaches the private listener, any
// other address or host name the public one; loopback addresses are dialed
// as they are. It fits verify.Verifier.DialContext.
func (f *FHIRServer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox dial %q: %w", addr, err)
	}
	target := f.public.Listener.Addr().String()
	if ip, err := netip.ParseAddr(host); err == nil {
		switch {
		case ip.IsLoopback():
			target = addr
		case ip.Unmap().IsPrivate() || cgnat.Contains(ip.Unmap()):
			target = f.private.Listener.Addr().String()
		}
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// Client is an HTTP client that trusts the sandbox CA and dials through
// DialContext: a URL naming a FHIR host reaches the public listener (the
// view from outside any VNet).
func (f *FHIRServer) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: f.pool, MinVersion: tls.VersionTLS12},
		DialContext:       f.DialContext,
		DisableKeepAlives: true,
	}}
}

// Close stops both listeners.
func (f *FHIRServer) Close() {
	f.private.Close()
	f.public.Close()
}

// hostOf returns the request's host name without port.
func hostOf(r *http.Request) string {
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return strings.ToLower(h)
}

func (f *FHIRServer) servePrivate(w http.ResponseWriter, r *http.Request) {
	f.privateHits.Add(1)
	serveMetadata(w, r)
}

// serveMetadata answers GET /metadata with the CapabilityStatement of the
// request's host (anonymous, as FHIR's capabilities interaction).
func serveMetadata(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metadata" || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		outcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("the sandbox FHIR server serves only GET /metadata, not %s %s", r.Method, r.URL.Path))
		return
	}
	writeFHIR(w, http.StatusOK, CapabilityStatement(hostOf(r)))
}

// servePublic answers a client from the internet: refused (403) unless the
// gate says the host's target enforces public network access Enabled.
func (f *FHIRServer) servePublic(w http.ResponseWriter, r *http.Request) {
	f.publicHits.Add(1)
	host := hostOf(r)
	if f.gate != nil {
		_, refused, ok := f.gate.PublicAccess(host)
		switch {
		case !ok:
			outcome(w, http.StatusNotFound, "not-found", fmt.Sprintf("no FHIR service of the sandbox is named %s", host))
			return
		case !refused:
			serveMetadata(w, r)
			return
		}
	}
	outcome(w, http.StatusForbidden, "forbidden", fmt.Sprintf("Access to %s was denied.", publicName(host)))
}

func isIP(s string) bool { return net.ParseIP(s) != nil }

func outcome(w http.ResponseWriter, status int, code, diag string) {
	writeFHIR(w, status, map[string]any{
		"resourceType": "OperationOutcome",
		"issue":        []map[string]string{{"severity": "error", "code": code, "diagnostics": diag}},
	})
}

func writeFHIR(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// CapabilityStatement returns the sandbox's R4 CapabilityStatement for host.
func CapabilityStatement(host string) map[string]any {
	base := "https://" + host
	return map[string]any{
		"resourceType":   "CapabilityStatement",
		"url":            base + "/metadata",
		"version":        "1.0.0",
		"name":           "PrivateLinkAutopilotSandbox",
		"status":         "active",
		"experimental":   true,
		"date":           "2026-11-01",
		"publisher":      "Private Link Autopilot sandbox",
		"kind":           "instance",
		"software":       map[string]string{"name": "Private Link Autopilot sandbox FHIR", "version": "1.0.0"},
		"implementation": map[string]string{"description": "sandbox FHIR endpoint behind a private endpoint", "url": base},
		"fhirVersion":    "4.0.1",
		"format":         []string{"application/fhir+json", "application/json"},
		"rest": []map[string]any{{
			"mode": "server",
			"resource": []map[string]any{{
				"type":        "Patient",
				"interaction": []map[string]string{{"code": "read"}, {"code": "search-type"}},
			}},
		}},
	}
}

// issue makes a CA and a server certificate signed by it.
func issue(now time.Time) (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Private Link Autopilot sandbox CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "sandbox.azurehealthcareapis.com"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     DNSNames,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}, caPEM, nil
}
