package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// DICOM services of a workspace. Their host names
// ({ws}-{dicom}.dicom.azurehealthcareapis.com) are among the target's FQDNs
// when the workspace has any, so the DNS checks resolve them from every VNet
// that must reach the workspace, like its FHIR names. No HTTP request is
// sent to them: Microsoft's DICOM service has no anonymous resource like
// FHIR's /metadata (every DICOMweb and change feed request needs an access
// token for https://dicom.healthcareapis.azure.com - "Get an access token
// for the DICOM service", DICOM conformance statement), and the verifier
// holds no data-plane token nor should it leave 401s in the service's logs.
// Instead a TLS check connects to port 443 at the address the VNet resolves
// the name to and completes a TLS handshake verifying the certificate for
// that host name: the private endpoint forwards to a service presenting the
// DICOM host's certificate, which is what "reachable through the endpoint"
// means without credentials.

// isDICOMHost reports whether a host name is a workspace DICOM service's
// (served by the DICOM zone of the private DNS table).
func isDICOMHost(f string) bool {
	z, _, ok := core.ZoneForFQDN(f)
	return ok && z.Service == core.DNSServiceDICOM && !strings.HasSuffix(strings.ToLower(strings.TrimSuffix(f, ".")), "."+z.Zone)
}

// checkTLS connects to host:443 at the address resolver gives (the system
// resolver when empty) and completes a TLS handshake that verifies the
// certificate for host.
func (v *Verifier) checkTLS(ctx context.Context, resolver, host string) CheckResult {
	if v.HTTPClient != nil {
		return CheckResult{Status: StatusSkipped, Evidence: []string{"the caller supplies the HTTP client: the verifier does not dial by itself"}}
	}
	dial := v.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	addr, via := host, "the system resolver"
	if resolver != "" {
		a, err := Lookup(ctx, resolver, host)
		if err != nil {
			return CheckResult{Status: StatusFail, Retryable: true, Evidence: []string{fmt.Sprintf("resolve %s at %s: %v", host, resolver, err)},
				Diagnosis: "the name could not be resolved from this VNet, so the DICOM service was not reached; see the dns check of this name"}
		}
		if len(a.IPs) == 0 {
			return CheckResult{Status: StatusFail, Retryable: true, Evidence: []string{a.String()},
				Diagnosis: "the name resolves to no address from this VNet; see the dns check of this name"}
		}
		addr, via = a.IPs[0], resolver
	}
	target := net.JoinHostPort(addr, "443")
	conn, err := dial(ctx, "tcp", target)
	if err != nil {
		return CheckResult{Status: StatusFail, Retryable: true, Evidence: []string{fmt.Sprintf("TCP connect to %s (%s, resolved by %s): %v", target, host, via, err)},
			Diagnosis: "no TCP connection to port 443 at the resolved address: check the endpoint's connection is Approved and that network security rules let this VNet reach the endpoint's subnet"}
	}
	defer conn.Close()
	tc := tls.Client(conn, &tls.Config{ServerName: host, RootCAs: v.RootCAs, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(ctx); err != nil {
		res := CheckResult{Status: StatusFail, Evidence: []string{fmt.Sprintf("TLS handshake with %s at %s: %v", host, target, err)}}
		var uerr x509.UnknownAuthorityError
		var herr x509.HostnameError
		switch {
		case errors.As(err, &herr):
			res.Diagnosis = "the address answers with a certificate for another name: the name resolves to something other than the DICOM service's private endpoint; check the A record in privatelink.dicom... and the endpoint's IPs"
		case errors.As(err, &uerr):
			res.Diagnosis = "the certificate is not trusted: something between this VNet and the endpoint intercepts TLS (a proxy or firewall); let it pass the DICOM host name"
		default:
			res.Retryable = true
			res.Diagnosis = "the TLS handshake did not complete: the endpoint or the service did not answer as the DICOM host; retry, then check the endpoint's connection state"
		}
		return res
	}
	st := tc.ConnectionState()
	ev := fmt.Sprintf("TLS to %s at %s: handshake completed", host, target)
	if len(st.PeerCertificates) > 0 {
		c := st.PeerCertificates[0]
		ev += fmt.Sprintf(", certificate for %s issued by %s", strings.Join(c.DNSNames, ", "), c.Issuer.CommonName)
	}
	res := CheckResult{Status: StatusPass, Evidence: []string{ev, "no HTTP request sent: the DICOM service has no anonymous endpoint"}}
	if ip, err := netip.ParseAddr(addr); err == nil && !IsPrivateIP(addr) && !ip.IsLoopback() {
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = fmt.Sprintf("the DICOM service answered at %s, a public address: the request did not go through the private endpoint; link this VNet to privatelink.dicom... so the name resolves to the endpoint's private IP", addr)
	}
	return res
}
