//go:build !production

package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/verify"
	"github.com/rs/zerolog"
)

// productionBuild is false in the default (dev) build: every command and
// the sandbox are in (build.go).
const productionBuild = false

// loadSandbox loads a sandbox scenario file (policy explain --sandbox).
func loadSandbox(path string) (sandboxARM, error) {
	sb, err := sandbox.Load(path)
	if err != nil {
		return nil, err
	}
	return sb, nil
}

// openSandbox loads the scenario of o and starts its loopback DNS and FHIR
// servers for verification.
func openSandbox(o standaloneOptions, log zerolog.Logger) (*sandboxBackend, error) {
	sb, err := sandbox.Load(o.scenario)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.scenarioLabel, err)
	}
	for _, w := range sb.Warnings() {
		log.Warn().Str("scenario", o.scenario).Msg(w)
	}
	arm, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: 10 * time.Millisecond, Logger: &log})
	if err != nil {
		return nil, err
	}
	view := sandboxnet.NewSandboxView(sb)
	dns := sandboxnet.NewDNSServer(view)
	fhir, err := sandboxnet.NewFHIRServer(sandboxnet.WithPublicGate(view))
	if err != nil {
		dns.Close()
		return nil, fmt.Errorf("sandbox FHIR server: %w", err)
	}
	log.Info().Str("scenario", o.scenario).Strs("subscriptions", sb.SubscriptionIDs()).Msg("sandbox loaded")
	return &sandboxBackend{
		arm: arm,
		tune: func(v *verify.Verifier, r *verify.JobRunner) {
			v.ResolverFor, v.DialContext, v.RootCAs = dns.AddrFor, fhir.DialContext, fhir.CertPool()
			// the public probe asks for the target's own host from outside
			// every VNet: its public listener answers per publicNetworkAccess
			v.PublicResolver = dns.AddrFor(sandboxnet.InternetVNetID)
		},
		line: fmt.Sprintf("sandbox network: DNS one loopback resolver per VNet (%s); FHIR private %s, public %s (CA: the sandbox's own)",
			sandboxDNSAddrs(dns, arm, sb.SubscriptionIDs()), fhir.PrivateURL(), fhir.PublicURL()),
		subscriptions: sb.SubscriptionIDs(),
		close: func() {
			fhir.Close()
			dns.Close()
		},
	}, nil
}

// sandboxDNSAddrs starts the sandbox resolver of every VNet of the scenario
// and lists them as "NAME=HOST:PORT", for `dig @HOST -p PORT` by hand.
func sandboxDNSAddrs(d *sandboxnet.DNSServer, r core.Reader, subs []string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for _, sub := range subs {
		vs, err := r.ListVNets(ctx, sub)
		if err != nil {
			out = append(out, "VNets of "+sub+" unreadable: "+err.Error())
			continue
		}
		for _, v := range vs {
			if addr := d.AddrFor(v.ID); addr != "" {
				out = append(out, v.Name+"="+addr)
			}
		}
	}
	return strings.Join(out, ", ")
}
