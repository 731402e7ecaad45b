package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plautopilot/autopilot/pkg/autopilot"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/policy"
)

const policyUsage = `usage:
  handler policy check FILE
      validate a policy file and list its rules and settings
      (exit 0 valid, 1 invalid, 2 usage)
  handler policy explain --policy FILE (--sandbox SCENARIO | --live) [--json] CONNECTION_ID
      show every connection rule's outcome and the final decision for one
      private endpoint connection, read from a sandbox scenario or (--live)
      from the real subscription, reads only`

const policyExplainUsage = `usage: handler policy explain --policy FILE (--sandbox SCENARIO | --live) [--json] CONNECTION_ID

Reads one private endpoint connection, its target, its private endpoint and
the endpoint's VNet, and shows how the policy decides it: every connection
rule's outcome (first match wins), the decision and its reason, the
description the requester would be told, and the VNet links an approval
brings. Nothing is written.

  --sandbox SCENARIO  read from a sandbox scenario file
  --live              read from the real subscription through
                      DefaultAzureCredential (az login, environment, workload
                      identity) or the managed identity of AZURE_CLIENT_ID;
                      reads only (Reader role on the target, the endpoint and
                      its VNet is enough; an endpoint you cannot read is shown
                      as the autopilot would see it: unreadable)

The connection id is the target's id followed by
/privateEndpointConnections/NAME (az network private-endpoint-connection list
--id TARGET_ID shows it).
Exit status: 0 explained, 1 the connection or policy could not be read, 2 bad usage.

flags:`

func runPolicy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, policyUsage)
		return 2
	}
	switch args[0] {
	case "check":
		return runPolicyCheck(args[1:], stdout, stderr)
	case "explain":
		return runPolicyExplain(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, policyUsage)
		return 0
	}
	fmt.Fprintf(stderr, "handler policy: unknown subcommand %q\n%s\n", args[0], policyUsage)
	return 2
}

func runPolicyCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy check", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), policyUsage) }
	args, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if len(args) != 1 {
		fmt.Fprintf(stderr, "handler policy check: needs one policy FILE, got %d arguments\n", len(args))
		fmt.Fprintln(stderr, policyUsage)
		return 2
	}
	p, err := policy.Load(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	printPolicy(stdout, p)
	if ws := p.ZoneWarnings(); len(ws) > 0 {
		fmt.Fprintln(stdout, "\nwarnings (the policy is valid; the private DNS zones do not fit its targets):")
		for _, w := range ws {
			fmt.Fprintln(stdout, "  - "+w)
		}
	}
	for _, w := range p.Warnings() {
		fmt.Fprintf(stderr, "warning: %s: %s\n", p.Source(), w)
	}
	return 0
}

// printPolicy lists a valid policy's settings and rules for review.
func printPolicy(w io.Writer, p *policy.Policy) {
	fmt.Fprintf(w, "policy %s is valid (sha256 %s)\n\n", p.Source(), p.Digest()[:12])
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "mode\t%s\n", p.Mode())
	var kinds []string
	for _, k := range p.TargetTypes() {
		kinds = append(kinds, string(k)+"s")
	}
	fmt.Fprintf(tw, "governed subscriptions\t%s\n", orNone(strings.Join(p.Subscriptions(), ", ")))
	fmt.Fprintf(tw, "governed wholesale\t%s\n", orNone(strings.Join(kinds, ", ")))
	fmt.Fprintf(tw, "governed by id\t%s\n", orNone(strings.Join(p.TargetIDs(), "\n\t")))
	var zones []string
	for _, z := range p.Zones() {
		zones = append(zones, z.ID)
	}
	fmt.Fprintf(tw, "managed zones\t%s\n", orNone(strings.Join(zones, "\n\t")))
	fmt.Fprintf(tw, "default decision\t%s\n", p.DefaultDecision())
	fmt.Fprintf(tw, "link endpoint vnets\t%t\n", p.LinkEndpointVNets())
	fmt.Fprintf(tw, "link peered vnets\t%t\n", p.LinkPeeredVNets())
	fmt.Fprintf(tw, "remove own links on vnet delete\t%t\n", p.RemoveOwnLinksOnVNetDelete())
	zg := p.ZoneGroup()
	fmt.Fprintf(tw, "zone groups\t%s\n", map[bool]string{true: "enabled, name " + zg.Name, false: "disabled"}[zg.Enabled])
	v := p.Verification()
	resolver := v.Resolver
	if resolver == "" {
		resolver = "system"
	}
	fmt.Fprintf(tw, "verification\tdelay %s, %d attempts, backoff %s, resolver %s, probe metadata %t, probe public %t\n",
		v.Delay, v.Attempts, v.Backoff, resolver, v.ProbeMetadata, v.ProbePublic)
	fmt.Fprintf(tw, "public network access\t%s\n", p.PublicNetworkAccess())
	tw.Flush()
	printPublicAccessBy(w, p)

	fmt.Fprintln(w, "\nconnection rules (first match wins):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tNAME\tDECISION\tCONDITION\tDESCRIPTION")
	n := 0
	for _, r := range p.Rules() {
		if r.Kind != policy.KindConnection {
			continue
		}
		n++
		dec := string(r.Decision)
		if r.AllowUnreadableEndpoint {
			dec += " (unreadable ok)"
		}
		if r.Revoke {
			dec += " (revoke)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\n", n, r.Name, dec, oneLine(r.When), r.Description)
	}
	fmt.Fprintf(tw, "  -\t(default)\t%s\t\t\n", p.DefaultDecision())
	tw.Flush()

	fmt.Fprintln(w, "\nlink rules:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tZONES\tREGISTRATION\tRESOLUTION\tCONDITION")
	links := 0
	for _, r := range p.Rules() {
		if r.Kind != policy.KindLink {
			continue
		}
		links++
		fmt.Fprintf(tw, "  %s\t%s\t%t\t%s\t%s\n", r.Name, strings.Join(r.Zones, ","), r.RegistrationEnabled, r.ResolutionPolicy, oneLine(r.When))
	}
	if links == 0 {
		fmt.Fprintln(tw, "  (none)\t\t\t\t")
	}
	tw.Flush()
}

// printPublicAccessBy lists targets.publicNetworkAccessBy, if any.
func printPublicAccessBy(w io.Writer, p *policy.Policy) {
	sels := p.PublicNetworkAccessBy()
	if len(sels) == 0 {
		return
	}
	fmt.Fprintln(w, "\npublic network access by selection (first match wins):")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tMODE\tMATCH")
	for _, s := range sels {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.Name, s.Mode, s.Match)
	}
	fmt.Fprintf(tw, "  (default)\t%s\tevery other governed target\n", p.PublicNetworkAccess())
	tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func runPolicyExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy explain", flag.ContinueOnError)
	policyPath := fs.String("policy", "", "policy file")
	scenario := fs.String("sandbox", "", "sandbox scenario `FILE` to read Azure state from")
	live := fs.Bool("live", false, "read from the real subscription (DefaultAzureCredential), reads only")
	asJSON := fs.Bool("json", false, "print the explanation as JSON")
	fs.Usage = func() { fmt.Fprintln(fs.Output(), policyExplainUsage); fs.PrintDefaults() }
	ids, code, ok := parseFlags(fs, args, stdout, stderr)
	if !ok {
		return code
	}
	if *policyPath == "" || (*scenario == "") == !*live || len(ids) != 1 {
		fmt.Fprintln(stderr, "handler policy explain: needs --policy, one of --sandbox SCENARIO or --live, and one CONNECTION_ID")
		fmt.Fprintln(stderr, "run 'handler policy explain --help' for usage")
		return 2
	}
	p, err := policy.Load(*policyPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var arm core.Reader
	if *live {
		if arm, err = liveReader(); err != nil {
			fmt.Fprintf(stderr, "handler policy explain: %v\n", err)
			return 1
		}
	} else {
		sb, err := loadSandbox(*scenario) // an error in the production build
		if err != nil {
			fmt.Fprintf(stderr, "handler policy explain: load sandbox: %v\n", err)
			return 1
		}
		if arm, err = azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{}); err != nil {
			fmt.Fprintf(stderr, "handler policy explain: %v\n", err)
			return 1
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ex, err := explainConnection(ctx, arm, p, ids[0])
	if err != nil {
		fmt.Fprintf(stderr, "handler policy explain: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ex); err != nil {
			fmt.Fprintf(stderr, "handler policy explain: %v\n", err)
			return 1
		}
		return 0
	}
	printExplanation(stdout, ex)
	return 0
}

// explanation is what `policy explain` prints: autopilot.Explain's answer,
// the reconciler's own dry run of the connection (reconcile.DryRunConnection),
// shared with the API's /api/evaluate.
type explanation = autopilot.Explanation

// explainConnection reads a connection, its target, endpoint and VNet
// through r (any core.Reader: the sandbox or Azure) and evaluates the policy
// on them (see autopilot.Explain).
func explainConnection(ctx context.Context, r core.Reader, p *policy.Policy, connID string) (*explanation, error) {
	ex, err := autopilot.Explain(ctx, r, p, connID)
	if err != nil {
		return nil, err
	}
	return &ex, nil
}

func printExplanation(w io.Writer, ex *explanation) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "policy\t%s (mode %s, sha256 %s)\n", ex.Policy, ex.Mode, ex.PolicyDigest[:12])
	fmt.Fprintf(tw, "connection\t%s (%s)\n", ex.Connection.ID, ex.Connection.Status)
	gov := "governed"
	if !ex.Governed {
		gov = "NOT governed by this policy"
	}
	fmt.Fprintf(tw, "target\t%s (%s, %s)\n", ex.Target, ex.TargetKind, gov)
	ep := ex.Endpoint
	if ex.EndpointReadable {
		ep += " (readable)"
	} else {
		ep += " (" + ex.EndpointNote + ")"
	}
	fmt.Fprintf(tw, "endpoint\t%s\n", ep)
	if ex.VNet != "" {
		vn := ex.VNet + " [" + strings.Join(ex.VNetPrefixes, ", ") + "]"
		if ex.VNetNote != "" {
			vn = ex.VNet + " (" + ex.VNetNote + ")"
		}
		fmt.Fprintf(tw, "vnet\t%s\n", vn)
	}
	fmt.Fprintf(tw, "requester\tunknown (no event claims): requester.* are empty strings\n")
	tw.Flush()

	fmt.Fprintln(w, "\nconnection rules (first match wins):")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RULE\tDECISION\tOUTCOME\tDETAIL")
	for _, o := range ex.Rules {
		mark := ""
		if o.Selected {
			mark = "  <= decides"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s%s\t%s\n", o.Rule, o.Decision, o.Outcome, mark, o.Detail)
	}
	tw.Flush()

	d := ex.Decision
	fmt.Fprintln(w)
	if ex.DecisionError != "" {
		fmt.Fprintf(w, "decision: none: %s\n", ex.DecisionError)
		return
	}
	by := "the default"
	if d.Rule != "" {
		by = fmt.Sprintf("rule %q", d.Rule)
	}
	fmt.Fprintf(w, "decision: %s by %s\nreason:   %s\n", d.Action, by, d.Reason)
	if d.Description != "" {
		fmt.Fprintf(w, "description sent to the requester: %s\n", d.Description)
	}
	if ex.Connection.Status == core.StatusApproved && !d.Revoke {
		fmt.Fprintln(w, "the connection is already Approved: only a reject rule with revoke: true would change it")
	}
	if d.Revoke {
		fmt.Fprintln(w, "revoke: the approved connection would be rejected")
	}
	if ex.Mode == policy.ModeAudit {
		fmt.Fprintln(w, "mode audit: the autopilot would report this and write nothing")
	}
	for _, l := range ex.Links {
		if l.Link {
			fmt.Fprintf(w, "link: endpoint vnet -> %s by %s (%s)\n", core.NameOf(l.ZoneID), l.Rule, l.Reason)
		}
	}
}
