//go:build !production

package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile/replay"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// sandboxVerifier loads the scenario, optionally converges it with the
// policy (one sweep through the real reconciler), finds the VNet and
// returns a verifier that resolves through that VNet's sandbox DNS and
// calls the sandbox FHIR server, as a VM in the VNet would. On failure it
// returns nil and the exit code, having said why on stderr.
func sandboxVerifier(scenario, vnet, policyPath string, stdout, stderr io.Writer) (*verify.Verifier, string, func(), int) {
	fail := func(code int, format string, a ...any) (*verify.Verifier, string, func(), int) {
		fmt.Fprintf(stderr, "handler verify: "+format+"\n", a...)
		return nil, "", nil, code
	}
	sb, err := sandbox.Load(scenario, sandbox.WithoutThrottling())
	if err != nil {
		return fail(2, "--sandbox: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if policyPath != "" {
		p, err := policy.Load(policyPath)
		if err != nil {
			return fail(2, "--policy: %v", err)
		}
		rep, err := replay.Run(ctx, replay.Options{Sandbox: sb, Policy: p, Sweep: true})
		if err != nil {
			return fail(1, "converge the sandbox with %s: %v", policyPath, err)
		}
		changes := 0
		for _, l := range rep.Lines {
			if l.Result == "applied" {
				changes++
			}
		}
		fmt.Fprintf(stdout, "sandbox converged with %s: %d changes made by one sweep\n", policyPath, changes)
	}
	arm, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		return fail(1, "%v", err)
	}
	id, names, err := findVNet(ctx, arm, sb.SubscriptionIDs(), vnet)
	if err != nil {
		return fail(1, "read the sandbox VNets: %v", err)
	}
	if id == "" {
		return fail(2, "--vnet %q: no such VNet in %s (it has %s)", vnet, scenario, strings.Join(names, ", "))
	}
	n, err := sandboxnet.NewNetwork(sb)
	if err != nil {
		return fail(1, "%v", err)
	}
	addr, err := n.DNS.Listen(id)
	if err != nil {
		n.Close()
		return fail(1, "%v", err)
	}
	fmt.Fprintf(stdout, "checking from %s: sandbox DNS %s, FHIR private %s, public %s\n\n", core.NameOf(id), addr, n.FHIR.PrivateURL(), n.FHIR.PublicURL())
	// ResolverFor names the VNet in each check ("dns NAME from spoke-app-vnet")
	// and its diagnosis; the subject's ExpectVNetIDs is that one VNet.
	v := &verify.Verifier{Resolver: addr, ResolverFor: func(string) string { return addr },
		DialContext: n.FHIR.DialContext, RootCAs: n.FHIR.CertPool()}
	return v, id, n.Close, 0
}

// findVNet finds a VNet by id or (case-insensitive) name in the sandbox's
// subscriptions; id is "" when there is none, names lists those there are.
func findVNet(ctx context.Context, r core.Reader, subs []string, want string) (id string, names []string, err error) {
	for _, sub := range subs {
		vs, err := r.ListVNets(ctx, sub)
		if err != nil {
			return "", nil, err
		}
		for _, v := range vs {
			names = append(names, v.Name)
			if core.SameID(v.ID, want) || strings.EqualFold(v.Name, want) {
				id = v.ID
			}
		}
	}
	return id, names, nil
}
