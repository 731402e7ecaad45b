package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/miekg/dns"

	"github.com/plautopilot/autopilot/pkg/verify"
)

// listFlag is a repeatable flag that also splits on commas.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

const verifyUsage = `usage: handler verify --fqdn NAME [--resolver HOST:PORT] [--expect-ip IP]
                      [--metadata-url URL] [--ca-file FILE] [--public-url URL]
                      [--timeout 10s] [--json]
       handler verify --sandbox SCENARIO --vnet NAME --fqdn NAME [--policy FILE]
                      [--expect-ip IP] [--timeout 10s] [--json]

Runs the private link guide's checks from where it stands, as nslookup and
GET /metadata from a VM in the VNet: NAME must resolve through its
privatelink alias to a private IP (--expect-ip: that IP), and
https://NAME/metadata must answer a FHIR CapabilityStatement. With
--public-url, that URL must answer 403 (public access refused).

With --sandbox the same checks run from inside the sandbox VNet --vnet (its
name or id), through the sandbox's per-VNet DNS (answering as Azure's
resolver does there) and its FHIR server: offline, no Azure needed. A VNet
not linked to the zone gets the guide's public answer and 403. With
--policy the autopilot first converges the sandbox (one sweep, as handler
local does at start), so the same VNet shows the fixed answer.

Exit status: 0 when every check passes, 1 when one does not, 2 on bad usage.

flags:
`

func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	var fqdns, expectIPs listFlag
	fs.Var(&fqdns, "fqdn", "public FHIR host `NAME`, e.g. fhirserverxxx.azurehealthcareapis.com (repeatable)")
	resolver := fs.String("resolver", "", "DNS server `HOST:PORT` to ask (default: the first nameserver of /etc/resolv.conf); also resolves the metadata host")
	fs.Var(&expectIPs, "expect-ip", "private `IP` the name must resolve to (default: any private address; repeatable)")
	metadataURL := fs.String("metadata-url", "", "`URL` to GET instead of https://NAME/metadata")
	caFile := fs.String("ca-file", "", "PEM `FILE` with extra CA certificates to trust (a TLS-inspecting proxy, the sandbox)")
	publicURL := fs.String("public-url", "", "`URL` of the public path that must answer 403")
	timeout := fs.Duration("timeout", verify.DefaultTimeout, "time bound of each check")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	scenario := fs.String("sandbox", "", "sandbox scenario `FILE`: run the checks inside the sandbox VNet --vnet")
	vnetName := fs.String("vnet", "", "with --sandbox: the VNet (`NAME` or id) to check from")
	policyPath := fs.String("policy", "", "with --sandbox: converge the sandbox with this policy `FILE` first (one sweep)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), verifyUsage)
		fs.PrintDefaults()
	}
	rest, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "handler verify: "+format+"\n", a...)
		fmt.Fprintln(stderr, "run 'handler verify --help' for usage")
		return 2
	}
	if len(rest) > 0 {
		return usageErr("unexpected arguments %q (flags only)", rest)
	}
	if len(fqdns) == 0 {
		return usageErr("--fqdn: required: the FHIR host to check, e.g. fhirserverxxx.azurehealthcareapis.com")
	}
	if *scenario == "" && (*vnetName != "" || *policyPath != "") {
		return usageErr("--vnet and --policy need --sandbox SCENARIO (from a real VM, run without them)")
	}
	if *scenario != "" {
		if *vnetName == "" {
			return usageErr("--vnet: required with --sandbox: the VNet to check from, e.g. spoke-app-vnet")
		}
		for _, f := range []struct{ name, val string }{{"--resolver", *resolver}, {"--metadata-url", *metadataURL}, {"--ca-file", *caFile}, {"--public-url", *publicURL}} {
			if f.val != "" {
				return usageErr("%s: not used with --sandbox (the sandbox's DNS and FHIR server are used)", f.name)
			}
		}
	}
	for i, f := range fqdns {
		f, err := checkFQDN(f)
		if err != nil {
			return usageErr("--fqdn %q: %v", fqdns[i], err)
		}
		fqdns[i] = f
	}
	res, err := checkResolver(*resolver)
	if err != nil {
		return usageErr("--resolver %q: %v", *resolver, err)
	}
	for _, ip := range expectIPs {
		a, err := netip.ParseAddr(ip)
		if err != nil || !a.Is4() {
			return usageErr("--expect-ip %q: not an IPv4 address", ip)
		}
	}
	for _, f := range []struct{ name, url string }{{"--metadata-url", *metadataURL}, {"--public-url", *publicURL}} {
		if err := checkURL(f.url); err != nil {
			return usageErr("%s %q: %v", f.name, f.url, err)
		}
	}
	if *timeout <= 0 {
		return usageErr("--timeout %v: must be positive", *timeout)
	}
	pool, err := rootCAs(*caFile)
	if err != nil {
		return usageErr("--ca-file %q: %v", *caFile, err)
	}

	v := &verify.Verifier{Resolver: res, Timeout: *timeout, RootCAs: pool}
	subject := verify.Subject{
		FQDNs:       fqdns,
		ExpectIPs:   expectIPs,
		MetadataURL: *metadataURL,
		PublicURL:   *publicURL,
	}
	if *scenario != "" {
		sv, vnetID, cleanup, code := sandboxVerifier(*scenario, *vnetName, *policyPath, stdout, stderr)
		if sv == nil {
			return code
		}
		defer cleanup()
		sv.Timeout = *timeout
		v, subject.ExpectVNetIDs = sv, []string{vnetID}
	}
	rep := v.Run(context.Background(), subject)
	if *asJSON {
		_, _ = stdout.Write(rep.JSON())
	} else {
		fmt.Fprint(stdout, rep.Text())
	}
	if rep.Status == verify.StatusPass {
		return 0
	}
	return 1
}

func checkFQDN(f string) (string, error) {
	f = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(f), "."))
	if strings.Contains(f, "/") || strings.Contains(f, ":") {
		return "", errors.New("give a host name, not a URL (use --metadata-url for a URL)")
	}
	if _, ok := dns.IsDomainName(f); !ok || !strings.Contains(f, ".") {
		return "", errors.New("not a fully qualified host name")
	}
	return f, nil
}

// checkResolver accepts HOST:PORT, or a bare IP (port 53).
func checkResolver(r string) (string, error) {
	if r == "" {
		return "", nil
	}
	if ip, err := netip.ParseAddr(r); err == nil {
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(r)
	if err != nil {
		return "", errors.New("want HOST:PORT, e.g. 168.63.129.16:53")
	}
	if host == "" {
		return "", errors.New("missing host")
	}
	if p, err := net.LookupPort("udp", port); err != nil || p == 0 {
		return "", fmt.Errorf("bad port %q", port)
	}
	return r, nil
}

func checkURL(u string) error {
	if u == "" {
		return nil
	}
	p, err := url.Parse(u)
	if err != nil {
		return errors.New("not a URL")
	}
	if p.Scheme != "https" && p.Scheme != "http" {
		return errors.New("want an http(s) URL, e.g. https://NAME/metadata")
	}
	if p.Host == "" {
		return errors.New("missing host")
	}
	return nil
}

// rootCAs returns the system pool plus the certificates of file.
func rootCAs(file string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if file == "" {
		return pool, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}
