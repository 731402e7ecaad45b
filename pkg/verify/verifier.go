package verify

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/plautopilot/autopilot/pkg/core"
)

// DefaultTimeout bounds each check when Verifier.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Verifier runs the checks. The zero value runs the DNS and HTTP checks
// from where the process stands, with the platform resolver.
type Verifier struct {
	// Reader enables the ARM checks and fills in what the Subject leaves
	// out (FQDNs, expected IPs, zones) from the endpoint. Nil: no ARM checks.
	Reader core.Reader
	// Resolver is the DNS server (HOST:PORT) for the DNS checks, and for
	// resolving the metadata host of the HTTP check. Empty: the first
	// nameserver of /etc/resolv.conf for DNS, the system resolver for HTTP.
	Resolver string
	// ResolverFor, when set, gives the resolver of each VNet that must
	// reach the target (the endpoint's and Subject.ExpectVNetIDs): the DNS
	// and HTTP checks then run once per VNet, as from a VM in it. A VNet
	// for which it returns "" is skipped. The sandbox sets it.
	ResolverFor func(vnetID string) string
	// PublicResolver resolves the host of Subject.PublicURL. Empty: the
	// system resolver.
	PublicResolver string
	// Timeout bounds each check (DefaultTimeout when zero).
	Timeout time.Duration
	// HTTPClient, when set, is used as is for every HTTP check (the caller
	// owns TLS and dialing; resolvers above are then not used for HTTP).
	HTTPClient *http.Client
	// RootCAs verifies the FHIR server's certificate when HTTPClient is
	// nil. Nil: the system pool.
	RootCAs *x509.CertPool
	// DialContext connects to a resolved address when HTTPClient is nil.
	// Nil: a net.Dialer. The sandbox routes its private and public IPs to
	// its loopback FHIR listeners here.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Log receives one debug line per check (nothing when nil).
	Log *zerolog.Logger
	// Concurrency bounds the checks running at once (8 when zero).
	Concurrency int
}

func (v *Verifier) timeout() time.Duration {
	if v.Timeout > 0 {
		return v.Timeout
	}
	return DefaultTimeout
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

// check is one scheduled check: its name and the function computing it.
type check struct {
	name string
	run  func(ctx context.Context) CheckResult
}

// Run verifies the subject: it reads the ARM state it needs (bounded by the
// timeout), then runs every applicable check concurrently, each bounded by
// the timeout, and returns the report with the checks in a fixed order
// (ARM, DNS, HTTP, DICOM TLS, public probe). The report says attempt 1; see RunAttempt.
func (v *Verifier) Run(ctx context.Context, s Subject) Report {
	return v.RunAttempt(ctx, s, 1)
}

// RunAttempt is Run for the given attempt number (1-based), as a retrying
// job records it.
func (v *Verifier) RunAttempt(ctx context.Context, s Subject, attempt int) Report {
	started := v.now()
	w := v.gather(ctx, s)
	checks := v.plan(w)
	results := make([]CheckResult, len(checks))
	var g errgroup.Group
	limit := v.Concurrency
	if limit <= 0 {
		limit = 8
	}
	g.SetLimit(limit)
	for i, c := range checks {
		g.Go(func() error {
			cctx, cancel := context.WithTimeout(ctx, v.timeout())
			defer cancel()
			t0 := time.Now()
			r := c.run(cctx)
			r.Name = c.name
			r.Duration = time.Since(t0)
			if r.Status == StatusPass {
				r.Diagnosis = ""
			}
			results[i] = r
			if v.Log != nil {
				v.Log.Debug().Str("check", r.Name).Str("status", string(r.Status)).
					Bool("retryable", r.Retryable).Dur("duration", r.Duration).Msg("verify check")
			}
			return nil
		})
	}
	_ = g.Wait() // checks report their failures in their results
	rep := Report{Subject: s, Attempt: attempt, StartedAt: started, Checks: results}
	rep.conclude()
	return rep
}

// world is the ARM state gathered once for all checks.
type world struct {
	s           Subject
	target      *core.Target
	targetErr   error
	endpoint    *core.Endpoint
	endpointErr error
	epVNet      *core.VNet // the endpoint's VNet (for peering names), may be nil
	vnets       map[string]*core.VNet
	// publicTarget is the target behind the public probe, read when the
	// subject has one (publicTarget.PublicNetworkAccess decides what the
	// probe expects); nil when unknown.
	publicTarget *core.Target
}

// connectionsReader is the 1-read variant of GetTarget (pkg/azure): enough
// for a target's publicNetworkAccess.
type connectionsReader interface {
	GetTargetConnections(ctx context.Context, id string) (core.Target, error)
}

// gather reads the target, the endpoint and the VNets concerned, in parallel.
func (v *Verifier) gather(ctx context.Context, s Subject) *world {
	w := &world{s: s, vnets: map[string]*core.VNet{}}
	if v.Reader == nil {
		return w
	}
	gctx, cancel := context.WithTimeout(ctx, v.timeout())
	defer cancel()
	var g errgroup.Group
	if s.TargetID != "" {
		g.Go(func() error {
			t, err := v.Reader.GetTarget(gctx, s.TargetID)
			if err != nil {
				w.targetErr = err
			} else {
				w.target = &t
			}
			return nil
		})
	}
	if s.EndpointID != "" {
		g.Go(func() error {
			e, err := v.Reader.GetEndpoint(gctx, s.EndpointID)
			if err != nil {
				w.endpointErr = err
			} else {
				w.endpoint = &e
			}
			return nil
		})
	}
	_ = g.Wait()
	w.publicTarget = v.publicTarget(gctx, w)
	// VNets: only for naming and peering facts; failures leave names from IDs.
	ids := w.vnetIDs()
	got := make([]*core.VNet, len(ids))
	var g2 errgroup.Group
	for i, id := range ids {
		g2.Go(func() error {
			if vn, err := v.Reader.GetVNet(gctx, id); err == nil {
				got[i] = &vn
			}
			return nil
		})
	}
	_ = g2.Wait()
	for i, id := range ids {
		if got[i] != nil {
			w.vnets[core.IDKey(id)] = got[i]
		}
	}
	if w.endpoint != nil {
		w.epVNet = w.vnets[core.IDKey(w.endpoint.VNetID)]
	}
	return w
}

// publicTarget reads the target behind the subject's public probe: the
// subject's target, else the first target the endpoint is approved to (one
// more ARM read). Nil when there is no probe or the target cannot be read.
func (v *Verifier) publicTarget(ctx context.Context, w *world) *core.Target {
	if w.s.PublicURL == "" {
		return nil
	}
	if w.target != nil {
		return w.target
	}
	ids := w.governedTargetIDs()
	if len(ids) == 0 {
		return nil
	}
	read := v.Reader.GetTarget
	if cr, ok := v.Reader.(connectionsReader); ok {
		read = cr.GetTargetConnections
	}
	t, err := read(ctx, ids[0])
	if err != nil {
		return nil // the probe then expects 403, as for any target
	}
	return &t
}

// vnetIDs returns the VNets that must reach the target: the endpoint's
// first, then the expected ones, without duplicates.
func (w *world) vnetIDs() []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id == "" || seen[core.IDKey(id)] {
			return
		}
		seen[core.IDKey(id)] = true
		ids = append(ids, id)
	}
	if w.endpoint != nil {
		add(w.endpoint.VNetID)
	}
	for _, id := range w.s.ExpectVNetIDs {
		add(id)
	}
	return ids
}

// fqdns returns the public FQDNs to check: the subject's (given by the
// operator), else the endpoint's customDnsConfigs names that are host names
// of the governed target (governedName), else the target's ARM-reported
// FQDNs. No other name from the endpoint is ever probed (checkEndpointNames
// reports it).
func (w *world) fqdns() []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		f = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(f), "."))
		if f == "" || seen[f] {
			return
		}
		seen[f] = true
		out = append(out, f)
	}
	for _, f := range w.s.FQDNs {
		add(f)
	}
	if len(out) == 0 && w.endpoint != nil {
		for _, d := range w.endpoint.DNS {
			if w.governedName(d.FQDN) {
				add(d.FQDN)
			}
		}
	}
	if len(out) == 0 && w.target != nil {
		for _, f := range w.target.FQDNs {
			add(f)
		}
	}
	return out
}

// expectIPs returns the private IPs fqdn must resolve to, or nil for "any
// private address".
func (w *world) expectIPs(fqdn string) []string {
	if len(w.s.ExpectIPs) > 0 {
		return w.s.ExpectIPs
	}
	if w.endpoint == nil {
		return nil
	}
	for _, d := range w.endpoint.DNS {
		if sameName(d.FQDN, fqdn) && len(d.IPs) > 0 {
			return d.IPs
		}
	}
	return w.endpoint.PrivateIPs
}

// zoneIDs returns the managed zones: the subject's, else the zones of the
// endpoint's zone groups.
func (w *world) zoneIDs() []string {
	if len(w.s.ZoneIDs) > 0 {
		return w.s.ZoneIDs
	}
	var out []string
	seen := map[string]bool{}
	if w.endpoint != nil {
		for _, zg := range w.endpoint.ZoneGroups {
			for _, z := range zg.ZoneIDs {
				if !seen[core.IDKey(z)] {
					seen[core.IDKey(z)] = true
					out = append(out, z)
				}
			}
		}
	}
	return out
}

// vnetName returns a VNet's name with its relation to the endpoint's VNet,
// e.g. "spoke-app-vnet (peered with hub-vnet)".
func (w *world) vnetName(id string) string {
	name := nameOf(id)
	if vn := w.vnets[core.IDKey(id)]; vn != nil && vn.Name != "" {
		name = vn.Name
	}
	if w.endpoint == nil {
		return name
	}
	if core.SameID(id, w.endpoint.VNetID) {
		return name + " (the endpoint's VNet)"
	}
	epName := nameOf(w.endpoint.VNetID)
	if w.epVNet != nil && w.epVNet.Name != "" {
		epName = w.epVNet.Name
	}
	if peered(w.vnets[core.IDKey(id)], w.endpoint.VNetID) || peered(w.epVNet, id) {
		return name + " (peered with " + epName + ")"
	}
	return name
}

func peered(vn *core.VNet, remote string) bool {
	if vn == nil {
		return false
	}
	for _, p := range vn.Peerings {
		if core.SameID(p.RemoteVNetID, remote) {
			return true
		}
	}
	return false
}

// plan lists the checks that apply to the gathered world, in report order.
func (v *Verifier) plan(w *world) []check {
	var cs []check
	if v.Reader != nil {
		cs = append(cs, v.armChecks(w)...)
	}
	fqdns := w.fqdns()
	type path struct {
		vnetID, label, resolver string
	}
	var paths []path
	if v.ResolverFor != nil && len(w.vnetIDs()) > 0 {
		for _, id := range w.vnetIDs() {
			paths = append(paths, path{vnetID: id, label: " from " + w.vnetName(id), resolver: v.ResolverFor(id)})
		}
	} else {
		paths = []path{{resolver: v.Resolver}}
	}
	for _, p := range paths {
		for _, f := range fqdns {
			if p.vnetID != "" && p.resolver == "" {
				cs = append(cs, skipped("dns "+f+p.label, "no resolver known for this VNet"))
				continue
			}
			cs = append(cs, check{name: "dns " + f + p.label, run: func(ctx context.Context) CheckResult {
				return v.checkDNS(ctx, p.resolver, f, w.expectIPs(f), p.label)
			}})
		}
	}
	var urls []string
	if w.s.SkipMetadata {
		cs = append(cs, skipped("http GET /metadata", "the policy does not probe /metadata (verification.probeMetadata: false)"))
	} else if w.s.MetadataURL != "" {
		urls = []string{w.s.MetadataURL}
	} else {
		for _, f := range fqdns {
			if len(w.s.FQDNs) > 0 || isFHIRHost(f) {
				urls = append(urls, "https://"+f+"/metadata")
			}
		}
	}
	for _, p := range paths {
		for _, u := range urls {
			if p.vnetID != "" && p.resolver == "" {
				cs = append(cs, skipped("http GET "+u+p.label, "no resolver known for this VNet"))
				continue
			}
			cs = append(cs, check{name: "http GET " + u + p.label, run: func(ctx context.Context) CheckResult {
				return v.checkMetadata(ctx, v.client(p.resolver), u)
			}})
		}
	}
	for _, p := range paths { // DICOM names: a TLS handshake, no HTTP request (dicom.go)
		for _, f := range fqdns {
			if !isDICOMHost(f) {
				continue
			}
			name := "tls " + f + ":443" + p.label
			if p.vnetID != "" && p.resolver == "" {
				cs = append(cs, skipped(name, "no resolver known for this VNet"))
				continue
			}
			cs = append(cs, check{name: name, run: func(ctx context.Context) CheckResult { return v.checkTLS(ctx, p.resolver, f) }})
		}
	}
	if w.s.PublicURL != "" {
		cs = append(cs, check{name: publicCheckPrefix + w.s.PublicURL + " refused", run: func(ctx context.Context) CheckResult {
			res := v.checkPublic(ctx, v.client(v.PublicResolver), w.s.PublicURL)
			return openByChoice(res, w.publicTarget)
		}})
	}
	return cs
}

func skipped(name, why string) check {
	return check{name: name, run: func(context.Context) CheckResult {
		return CheckResult{Status: StatusSkipped, Evidence: []string{why}}
	}}
}

func nameOf(id string) string { return core.NameOf(id) }

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// isFHIRHost reports whether a host name read from ARM serves FHIR (and so
// GET /metadata): workspace FHIR services (WS-FHIR.fhir.SUFFIX) and legacy
// services (NAME.azurehealthcareapis.com). Workspace and DICOM names of an
// endpoint are resolved but not called.
func isFHIRHost(f string) bool {
	if strings.Contains(f, ".fhir.") {
		return true
	}
	const legacy = ".azurehealthcareapis.com"
	return strings.HasSuffix(f, legacy) && !strings.Contains(strings.TrimSuffix(f, legacy), ".")
}
