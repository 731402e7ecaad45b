package verify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// maxBody bounds how much of a /metadata answer is read (a full R4
// CapabilityStatement is a few hundred KiB).
const maxBody = 8 << 20

// client returns the HTTP client for a path. With a resolver, host names
// are resolved there (as a VM in that VNet would), then dialed.
func (v *Verifier) client(resolver string) *http.Client {
	if v.HTTPClient != nil {
		return v.HTTPClient
	}
	dial := v.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: v.RootCAs, MinVersion: tls.VersionTLS12},
		DisableKeepAlives: true,
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil || resolver == "" || net.ParseIP(host) != nil {
				return dial(ctx, network, addr)
			}
			a, err := Lookup(ctx, resolver, host)
			if err != nil {
				return nil, err
			}
			if len(a.IPs) == 0 {
				return nil, fmt.Errorf("resolve %s at %s: no address (%s)", host, resolver, a)
			}
			return dial(ctx, network, net.JoinHostPort(a.IPs[0], port))
		},
	}
	return &http.Client{
		Transport: tr,
		// A redirect (to a login page, say) is itself an answer to judge.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fhirResource is the part of a FHIR resource the checks look at.
type fhirResource struct {
	ResourceType string `json:"resourceType"`
	FHIRVersion  string `json:"fhirVersion"`
	Software     *struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	} `json:"software"`
	Issue []struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics"`
	} `json:"issue"`
}

type httpAnswer struct {
	status      int
	contentType string
	body        []byte
	res         *fhirResource // nil when the body is not JSON
}

func get(ctx context.Context, c *http.Client, url string) (httpAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return httpAnswer{}, fmt.Errorf("build request for %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/fhir+json, application/json;q=0.9")
	resp, err := c.Do(req)
	if err != nil {
		return httpAnswer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return httpAnswer{}, fmt.Errorf("read answer of %s: %w", url, err)
	}
	a := httpAnswer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}
	var r fhirResource
	if json.Unmarshal(body, &r) == nil {
		a.res = &r
	}
	return a, nil
}

// evidence describes an answer: status, content type and what the body is.
func (a httpAnswer) evidence(url string) string {
	s := fmt.Sprintf("GET %s -> %d %s", url, a.status, http.StatusText(a.status))
	if a.contentType != "" {
		s += ", " + a.contentType
	}
	switch {
	case a.res == nil:
		s += fmt.Sprintf(", body not JSON (%d bytes)", len(a.body))
	case a.res.ResourceType == "":
		s += ", JSON without resourceType"
	default:
		s += ", resourceType " + a.res.ResourceType
		if a.res.FHIRVersion != "" {
			s += ", fhirVersion " + a.res.FHIRVersion
		}
		if a.res.Software != nil && a.res.Software.Name != "" {
			s += ", software " + strings.TrimSpace(a.res.Software.Name+" "+a.res.Software.Version)
		}
		for _, is := range a.res.Issue {
			if is.Diagnostics != "" {
				s += fmt.Sprintf(", issue %q", is.Diagnostics)
			}
		}
	}
	return s
}

func (a httpAnswer) isCapabilityStatement() bool {
	return a.res != nil && a.res.ResourceType == "CapabilityStatement" && a.res.FHIRVersion != ""
}

// requestFailure judges an HTTP request that got no answer.
func requestFailure(url string, err error) CheckResult {
	res := CheckResult{Evidence: []string{fmt.Sprintf("GET %s: %v", url, err)}}
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && (dnsErr.IsNotFound || !dnsErr.IsTimeout):
		res.Status, res.Retryable = StatusFail, dnsErr.IsTemporary
		res.Diagnosis = fmt.Sprintf("the host name %s did not resolve (%s): no request was sent; see the DNS check", dnsErr.Name, dnsErr.Err)
	case isTimeout(err):
		res.Status, res.Retryable = StatusRetry, true
		res.Diagnosis = "no answer in time: the address is not reachable from here (NSG or route blocking the private endpoint's IP, connection not approved yet, or a public address with outbound traffic blocked)"
	case errors.As(err, &uae), errors.As(err, &hne), errors.As(err, &cie):
		res.Status = StatusFail
		res.Diagnosis = "the server's TLS certificate is not trusted for this name (a TLS-inspecting proxy? pass its CA with --ca-file)"
	default:
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = "the request failed before any answer (refused or reset): nothing listens at the resolved address, or a firewall drops the connection"
	}
	return res
}

// checkMetadata expects the FHIR server's CapabilityStatement, as the
// guide's VM does at GET /metadata.
func (v *Verifier) checkMetadata(ctx context.Context, c *http.Client, url string) CheckResult {
	a, err := get(ctx, c, url)
	if err != nil {
		return requestFailure(url, err)
	}
	res := CheckResult{Evidence: []string{a.evidence(url)}}
	switch {
	case a.status == http.StatusOK && a.isCapabilityStatement():
		res.Status = StatusPass
	case a.status == http.StatusOK:
		res.Status = StatusFail
		res.Diagnosis = "200 but not a FHIR CapabilityStatement (resourceType CapabilityStatement with a fhirVersion): something else answers at this address (a proxy or firewall page, a wrong URL); check the URL and what the name resolves to"
	case a.status == http.StatusForbidden:
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = "access denied: the request came over the public path (private endpoint not used or DNS not private); link this VNet to the privatelink zone so the name resolves to the endpoint's private IP"
	case a.status == http.StatusUnauthorized:
		res.Status = StatusFail
		res.Diagnosis = "401 at /metadata: FHIR serves its CapabilityStatement without authentication, so this is not the FHIR server's metadata endpoint; check the URL"
	case a.status >= 500 || a.status == http.StatusTooManyRequests:
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = fmt.Sprintf("the server answered %d: it is failing or starting; retry later", a.status)
	default:
		res.Status = StatusFail
		res.Diagnosis = fmt.Sprintf("unexpected %d at /metadata; check the URL (legacy FHIR: https://NAME.azurehealthcareapis.com/metadata, workspace FHIR: https://WS-FHIR.fhir.azurehealthcareapis.com/metadata)", a.status)
	}
	return res
}

// checkPublic expects the public path to refuse access with 403, as the
// guide's check from outside the VNet once public access is off.
func (v *Verifier) checkPublic(ctx context.Context, c *http.Client, url string) CheckResult {
	a, err := get(ctx, c, url)
	if err != nil {
		r := requestFailure(url, err)
		if r.Status == StatusFail && r.Retryable {
			r.Status = StatusError
			r.Diagnosis = "the public probe got no answer, so it cannot tell whether public access is refused: " + r.Diagnosis
		}
		return r
	}
	res := CheckResult{Evidence: []string{a.evidence(url)}}
	switch {
	case a.status == http.StatusForbidden:
		res.Status = StatusPass
	case a.status == http.StatusOK && a.isCapabilityStatement():
		res.Status, res.Retryable = StatusFail, true
		res.Diagnosis = "public access is still allowed: the FHIR server answered over the public path; blocking takes up to 5 minutes after public network access is disabled; if that was longer ago, check publicNetworkAccess on the FHIR resource"
	default:
		res.Status = StatusFail
		res.Diagnosis = fmt.Sprintf("the public path answered %d, not 403: check the public URL", a.status)
	}
	return res
}

// openByChoice turns the public probe of a target whose publicNetworkAccess
// ARM reads as Enabled into a skipped check that keeps what the public
// client got: refusal is expected only once public access is Disabled
// (the guide's check "after disabling public network access"). The
// verification then does not fail for a setting the owner chose; the
// policy's publicNetworkAccess (audit, disableAfterVerification) reports or
// closes it. A target whose setting is Disabled or unknown keeps the 403
// expectation, retried while blocking propagates (up to 5 minutes).
func openByChoice(res CheckResult, t *core.Target) CheckResult {
	if t == nil || !strings.EqualFold(t.PublicNetworkAccess, core.PublicAccessEnabled) || res.Status == StatusPass {
		return res
	}
	res.Status, res.Retryable, res.Diagnosis = StatusSkipped, false, ""
	res.Evidence = append(res.Evidence, fmt.Sprintf("public network access of %s is Enabled: public clients are let in, so refusal is not expected until it is Disabled", t.Name))
	return res
}
