package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// Default inputs, relative to the module root.
const (
	DefaultScenario = "testdata/scenarios/guide.yaml"
	DefaultPolicy   = "examples/demo-policy.yaml"
	modulePath      = "github.com/plautopilot/autopilot"
)

// Options configure Run.
type Options struct {
	// Out receives the transcript (nil: discarded).
	Out io.Writer
	// Color adds ANSI colours (set it only when Out is a terminal).
	Color bool
	// Scenario and Policy are file paths; empty: DefaultScenario and
	// DefaultPolicy under the module root found from the working directory.
	Scenario string
	Policy   string
	// Log receives the autopilot's structured logs (zero: none).
	Log zerolog.Logger
	// PublicAccessDelay, when positive, replaces the scenario's
	// publicAccessDelay: how long the sandbox takes to block public
	// traffic after publicNetworkAccess is set to Disabled (simulated
	// time; default 5 minutes, the guide's "up to 5 minutes").
	PublicAccessDelay time.Duration
}

// Decision is a connection decision the story observed.
type Decision struct {
	Endpoint    string `json:"endpoint"`
	Target      string `json:"target"`
	Decision    string `json:"decision"`
	Rule        string `json:"rule"`
	Description string `json:"description,omitempty"`
}

// Link is a VNet link the autopilot made.
type Link struct {
	VNet string `json:"vnet"`
	Zone string `json:"zone"`
	Rule string `json:"rule"`
}

// Check is one verification run: attempt Attempt of a verification of
// Subject.
type Check struct {
	Time    time.Time `json:"time"`
	Subject string    `json:"subject"`
	Attempt int       `json:"attempt"`
	// JobID is the job of this attempt; Trigger says why the verification
	// ran: "requested" (POST /api/verify) or "scheduled" (after a reconcile
	// job's changes).
	JobID     string `json:"jobId"`
	Trigger   string `json:"trigger"`
	Status    string `json:"status"`
	Summary   string `json:"summary"`
	Diagnosis string `json:"diagnosis,omitempty"`
	// run names the verification (correlation and subject): its attempts
	// share it even when each is a job of its own.
	run string
}

// Step is one step of the story.
type Step struct {
	N     int           `json:"n"`
	Title string        `json:"title"`
	Event string        `json:"event,omitempty"`
	Wall  time.Duration `json:"wallNs"`
	// SimStart and SimEnd are the simulated clock around the step.
	SimStart time.Time `json:"simStart"`
	SimEnd   time.Time `json:"simEnd"`
	// ARMReads and ARMWrites (writes include deletes) are the sandbox's
	// HTTP requests in the step, LRO polls and retries included;
	// SandboxRequests says the same under a name that says so.
	ARMReads        int              `json:"armReads"`
	ARMWrites       int              `json:"armWrites"`
	SandboxRequests sandbox.Requests `json:"sandboxRequests"`
}

// Result is what the story did and whether it went as expected.
type Result struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems,omitempty"`
	Scenario string   `json:"scenario"`
	Policy   string   `json:"policy"`
	Steps    []Step   `json:"steps"`
	// Decisions, Links and Checks are read from the outcome events.
	Decisions  []Decision `json:"decisions"`
	Links      []Link     `json:"links"`
	ZoneGroups []string   `json:"zoneGroups"`
	Checks     []Check    `json:"checks"`
	// PublicAccess lists the public door closed, the revocations the last
	// private path guard withheld and the targets left unreachable.
	PublicAccess []PublicStep `json:"publicAccess"`
	// ARMReads and ARMWrites count the sandbox's HTTP requests (reads
	// include LRO polls, writes include deletes); SandboxRequests says the
	// same under a name that says so (docs/vocabulary.md).
	ARMReads        int              `json:"armReads"`
	ARMWrites       int              `json:"armWrites"`
	SandboxRequests sandbox.Requests `json:"sandboxRequests"`
	Wall            time.Duration    `json:"wallNs"`
	Simulated       time.Duration    `json:"simulatedNs"`
}

// FindModuleRoot walks up from dir to the folder whose go.mod declares
// this module.
func FindModuleRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("find module root from %s: %w", dir, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module "+modulePath) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of %s in %s or above: run from the repository, or pass --scenario and --policy", modulePath, abs)
		}
	}
}

// story is one run of the demo.
type story struct {
	w    *world
	p    *printer
	res  *Result
	mark int // outcome events already shown
	// zoneGroupZones: endpoint name -> the zones its new zone group names
	zoneGroupZones map[string]string
	// requested holds the ids of the verification jobs the operator asked
	// for (POST /api/verify): RequestVerify makes a job its own correlation.
	requested map[string]bool
}

func (s *story) problem(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	s.res.Problems = append(s.res.Problems, msg)
	s.p.bad("%s", msg)
}

// Run plays the story. The error is for what stopped it from running (bad
// inputs, a failure to start); a story that ran but went otherwise than
// expected returns Result.OK false with Problems.
func Run(ctx context.Context, o Options) (Result, error) {
	res := Result{Scenario: o.Scenario, Policy: o.Policy}
	if res.Scenario == "" || res.Policy == "" {
		wd, err := os.Getwd()
		if err != nil {
			return res, fmt.Errorf("demo: %w", err)
		}
		root, err := FindModuleRoot(wd)
		if err != nil {
			return res, fmt.Errorf("demo: %w", err)
		}
		if res.Scenario == "" {
			res.Scenario = filepath.Join(root, DefaultScenario)
		}
		if res.Policy == "" {
			res.Policy = filepath.Join(root, DefaultPolicy)
		}
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	sb, err := loadSandbox(res.Scenario, o.PublicAccessDelay)
	if err != nil {
		return res, fmt.Errorf("demo: scenario: %w", err)
	}
	pol, err := policy.Load(res.Policy)
	if err != nil {
		return res, fmt.Errorf("demo: policy: %w", err)
	}
	w, err := newWorld(sb, pol, storyStart, o.Log)
	if err != nil {
		return res, err
	}
	defer w.Close()
	s := &story{w: w, res: &res, p: &printer{out: out, color: o.Color, now: w.clock.Now}}
	wall := time.Now()
	if err := s.play(ctx); err != nil {
		return res, err
	}
	st := sb.Stats()
	res.ARMReads, res.ARMWrites = st.Reads, st.Writes+st.Deletes
	res.SandboxRequests = st.Requests()
	res.Wall, res.Simulated = time.Since(wall), w.clock.Now().Sub(storyStart)
	s.summary()
	res.OK = len(res.Problems) == 0
	return res, nil
}

// step runs fn as story step n, timing it and counting ARM calls.
func (s *story) step(n int, title, event string, fn func() error) error {
	s.p.heading(n, title)
	before := s.w.sb.Stats()
	st := Step{N: n, Title: title, Event: event, SimStart: s.w.clock.Now()}
	t0 := time.Now()
	err := fn()
	st.Wall = time.Since(t0)
	after := s.w.sb.Stats()
	st.SimEnd = s.w.clock.Now()
	st.ARMReads = after.Reads - before.Reads
	st.ARMWrites = after.Writes + after.Deletes - before.Writes - before.Deletes
	st.SandboxRequests = after.Requests().Since(before.Requests())
	s.res.Steps = append(s.res.Steps, st)
	if err != nil {
		return fmt.Errorf("demo: step %d (%s): %w", n, title, err)
	}
	s.p.say("%s", s.p.paint(cDim, fmt.Sprintf("step took %s; sandbox HTTP requests: %d reads, %d writes", roundWall(st.Wall), st.ARMReads, st.ARMWrites)))
	return nil
}

func roundWall(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

func (s *story) play(ctx context.Context) error {
	w, p := s.w, s.p
	fmt.Fprintf(p.out, "%s\n", p.paint(cBold, "Private Link Autopilot: the private link guide's story on the embedded sandbox"))
	fmt.Fprintf(p.out, "  scenario %s\n  policy   %s (mode %s, digest %.12s)\n  simulated clock from %s; the policy's 5 minute verification delay passes instantly\n",
		s.res.Scenario, s.res.Policy, w.pol.Mode(), w.pol.Digest(), storyStart.Format(time.RFC3339))

	// 1. the app team's request
	err := s.step(1, "An app team's private endpoint request from an allowed subscription", opEndpointWrite, func() error {
		p.say("event  %s  pe-app-fhir (subscription ...00bb, requestMessage %q)", opEndpointWrite, "app team patients api")
		if err := w.post(ctx, opEndpointWrite, appEndpoint, "dana@contoso.example"); err != nil {
			return err
		}
		if _, err := w.reconcile(ctx); err != nil {
			return err
		}
		s.showOutcomes()
		if st, _, _, _ := w.connection(workspaceID, "pe-app-fhir"); st != "Approved" {
			s.problem("pe-app-fhir on contoso-health is %q, want Approved", st)
		}
		if d := s.decision("pe-app-fhir"); d == nil || d.Rule != "allow-app-subscriptions" {
			s.problem("pe-app-fhir was not approved by rule allow-app-subscriptions (decision %+v)", d)
		}
		zg := w.zoneGroups(appEndpoint)
		slices.Sort(zg)
		if !slices.Equal(zg, workspaceZones()) {
			s.problem("pe-app-fhir's DNS zone group names %v, want the workspace zones %v (private DNS table)", zg, workspaceZones())
		}
		if owned, ok := w.linkedVNets(fhirZone)["spoke-app-vnet"]; !ok || !owned {
			s.problem("spoke-app-vnet is not linked to %s by the autopilot (linked %v, owned %v)", fhirZone, ok, owned)
		}
		for _, l := range s.res.Links {
			if l.VNet == "spoke-app-vnet" && l.Zone == zoneName && l.Rule == reconcile.RuleLinkEndpointVNets {
				s.problem("spoke-app-vnet was linked to %s for its workspace endpoint: that zone serves no workspace name", zoneName)
			}
		}
		a, err := s.nslookupFrom(ctx, appVNet, "spoke-app-vnet", wsFQDN, "linked to "+fhirZone)
		if err != nil {
			return err
		}
		if len(a.Chain) < 2 || a.Chain[1] != "contoso-health-patients."+fhirZone || !slices.Contains(a.IPs, appIP) {
			s.problem("from spoke-app-vnet %s resolves %s -> %v, want the alias in %s and %s", wsFQDN, strings.Join(a.Chain, " -> "), a.IPs, fhirZone, appIP)
		}
		if st, err := w.vq.Stats(ctx); err == nil && !st.NextDue.IsZero() {
			p.say("verification scheduled for %s (policy delay %s after the %s window of the changes)", st.NextDue.UTC().Format("15:04:05"), w.pol.Verification().Delay, reconcile.FollowUpWindow)
		}
		return nil
	})
	if err != nil {
		return err
	}

	// 2. the unknown subscription
	err = s.step(2, "A request from an unknown subscription", opConnectionWrite, func() error {
		_, _, connID, ok := w.connection(workspaceID, "pe-unknown")
		if !ok {
			return errors.New("the scenario has no connection of pe-unknown on contoso-health")
		}
		p.say("event  %s  %s (endpoint in subscription ...00cc, requestMessage %q)", opConnectionWrite, core.NameOf(connID), "please approve")
		if err := w.post(ctx, opConnectionWrite, connID, "someone@fabrikam.example"); err != nil {
			return err
		}
		if _, err := w.reconcile(ctx); err != nil {
			return err
		}
		s.showOutcomes()
		st, desc, _, _ := w.connection(workspaceID, "pe-unknown")
		d := s.decision("pe-unknown")
		switch {
		case st == "Approved":
			s.problem("pe-unknown was approved: no rule allows subscription ...00cc")
		case d == nil || d.Rule == "":
			s.problem("no decision with a rule recorded for pe-unknown (status %s)", st)
		case st == "Rejected" && desc == "":
			s.problem("pe-unknown was rejected without a reason for the requester")
		}
		return nil
	})
	if err != nil {
		return err
	}

	// 3. a VNet peered with the hub appears
	peeringID := hubVNet + "/virtualNetworkPeerings/hub-to-spoke-new"
	var before verify.Answer
	err = s.step(3, "A VNet peered with the hub appears", opPeeringWrite, func() error {
		if err := w.peerNewVNet(hubVNet, "spoke-new-to-hub", "hub-to-spoke-new"); err != nil {
			return err
		}
		p.say("the network team peers spoke-new-vnet (10.2.0.0/16) with hub-vnet; its event is on the way")
		var err error
		before, err = s.nslookup(ctx, "before the link")
		if err != nil {
			return err
		}
		if slices.Contains(before.IPs, sandboxnet.DefaultPublicIP) {
			p.warn("spoke-new-vnet resolves the public address: %s would get 403 from there", legacyFQDN)
		} else {
			s.problem("before its link spoke-new-vnet resolves %v, want the public %s", before.IPs, sandboxnet.DefaultPublicIP)
		}
		ws, err := s.nslookupFrom(ctx, newVNet, "spoke-new-vnet", wsFQDN, "peered with hub-vnet, not linked")
		if err != nil {
			return err
		}
		if slices.Contains(ws.IPs, sandboxnet.DefaultPublicIP) {
			p.warn("spoke-new-vnet resolves %s publicly: not linked to %s", wsFQDN, fhirZone)
		} else {
			s.problem("before its link spoke-new-vnet resolves %s to %v, want the public %s", wsFQDN, ws.IPs, sandboxnet.DefaultPublicIP)
		}
		p.say("operator asks the autopilot to verify spoke-new-vnet now (POST /api/verify)")
		id, err := w.svc.RequestVerify(ctx, newVNet)
		if s.requested == nil {
			s.requested = map[string]bool{}
		}
		s.requested[id] = true
		if err != nil {
			return err
		}
		if _, err := w.verifyDue(ctx, w.clock.Now()); err != nil {
			return err
		}
		first := s.showOutcomes()
		diagnosed := false
		for _, e := range first {
			if e.Type == verify.VerifyRetry && strings.Contains(e.Data.Error, "spoke-new-vnet (peered with hub-vnet) is not linked to "+zoneName) {
				diagnosed = true
			}
		}
		if !diagnosed {
			s.problem("the verification before the link did not diagnose spoke-new-vnet as not linked to %s", zoneName)
		}
		p.say("event  %s  hub-vnet/hub-to-spoke-new", opPeeringWrite)
		if err := w.post(ctx, opPeeringWrite, peeringID, "net-admin@contoso.example"); err != nil {
			return err
		}
		if _, err := w.reconcile(ctx); err != nil {
			return err
		}
		s.showOutcomes()
		for _, z := range []string{zoneName, fhirZone} {
			if owned, ok := w.linkedVNets(z)["spoke-new-vnet"]; !ok || !owned {
				s.problem("spoke-new-vnet is not linked to %s by the autopilot after the peering event", z)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}

	// 4. verification
	err = s.step(4, "Verification: the scheduled checks run (simulated time moves on); private access proven, the public door still open", "", func() error {
		if err := s.drain(ctx, s.w.vq); err != nil {
			return err
		}
		after, err := s.nslookup(ctx, "after the link")
		if err != nil {
			return err
		}
		if !slices.Contains(after.IPs, "10.0.1.4") {
			s.problem("after its link spoke-new-vnet resolves %v, want the private 10.0.1.4", after.IPs)
		}
		ws, err := s.nslookupFrom(ctx, newVNet, "spoke-new-vnet", wsFQDN, "after the link")
		if err != nil {
			return err
		}
		if len(ws.Chain) < 2 || ws.Chain[1] != "contoso-health-patients."+fhirZone || !slices.Contains(ws.IPs, appIP) {
			s.problem("after its link spoke-new-vnet resolves %s -> %v, want the alias in %s and %s", strings.Join(ws.Chain, " -> "), ws.IPs, fhirZone, appIP)
		}
		s.showEvidence(ctx)
		return nil
	})
	if err != nil {
		return err
	}

	// 5-8. the public door, and the last private one
	steps := []struct {
		title, event string
		fn           func(context.Context) error
	}{
		{"Closing the public door: disable-public-access, only after that passing verification", "", s.closePublicDoor},
		{"Proving it: the public probe refused with 403 after the propagation delay", "", s.prove403},
		{"The guard: a rule would revoke the last private path of a target with public access Disabled", opEndpointWrite, s.guard},
		{"The last endpoint deleted anyway: target.unreachable at once", opEndpointDelete, s.lastEndpointDeleted},
	}
	for i, st := range steps {
		if err := s.step(5+i, st.title, st.event, func() error { return st.fn(ctx) }); err != nil {
			return err
		}
	}
	if dl := w.deadLetters(ctx); len(dl) > 0 {
		for _, d := range dl {
			s.problem("job %s %s %s dead-lettered: %s %s", d.Job.Kind, d.Job.Subject, core.NameOf(d.Job.TargetID), d.Reason, d.Description)
		}
	}
	return nil
}

// drain runs every job of the queues, moving simulated time to each
// scheduled one and printing what each run published.
func (s *story) drain(ctx context.Context, queues ...jobs.Queue) error {
	h := func(ctx context.Context, d jobs.Delivery) jobs.Settlement {
		var o jobs.Settlement
		if d.Job.Kind == jobs.KindVerify {
			o = s.w.svc.Verify(ctx, d)
		} else {
			o = s.w.svc.Reconcile(ctx, d)
		}
		s.showOutcomes()
		return o
	}
	_, err := jobs.Drain(ctx, h, jobs.DrainOptions{Clock: s.w.clock}, queues...)
	return err
}

// drainAll runs every queued job, printing what each run published.
func (s *story) drainAll(ctx context.Context) error { return s.drain(ctx, s.w.rq, s.w.vq) }

// nslookup asks spoke-new-vnet's resolver for the legacy FHIR host, as the
// guide's nslookup from a VM there.
func (s *story) nslookup(ctx context.Context, when string) (verify.Answer, error) {
	return s.nslookupFrom(ctx, newVNet, "spoke-new-vnet", legacyFQDN, when)
}

// nslookupFrom asks the resolver of a VNet for fqdn, as nslookup from a VM
// there.
func (s *story) nslookupFrom(ctx context.Context, vnetID, vnetName, fqdn, when string) (verify.Answer, error) {
	addr, err := s.w.net.DNS.Listen(vnetID)
	if err != nil {
		return verify.Answer{}, err
	}
	a, err := verify.Lookup(ctx, addr, fqdn)
	if err != nil {
		return a, fmt.Errorf("nslookup from %s: %w", vnetName, err)
	}
	chain := strings.Join(a.Chain, " -> ")
	s.p.say("nslookup %s from %s (%s):", fqdn, vnetName, when)
	s.p.detail("answer", chain+" -> A "+strings.Join(a.IPs, ", "))
	return a, nil
}

// showOutcomes prints the outcome events published since the last call
// and records decisions, links and checks.
func (s *story) showOutcomes() []outcome.Event {
	evs := s.w.mem.Events()
	if s.mark > len(evs) {
		s.mark = 0
	}
	fresh := evs[s.mark:]
	s.mark = len(evs)
	p := s.p
	for _, e := range fresh {
		name := core.NameOf(e.Subject)
		switch e.Type {
		case outcome.ConnectionApproved, outcome.ConnectionRejected, outcome.ConnectionLeftPending:
			ep := strings.SplitN(name, ".", 2)[0]
			verb := map[outcome.Type]string{outcome.ConnectionApproved: "approved", outcome.ConnectionRejected: "rejected", outcome.ConnectionLeftPending: "left pending"}[e.Type]
			d := Decision{Endpoint: ep, Target: core.NameOf(e.Data.Target), Decision: verb, Rule: e.Data.Rule, Description: e.Data.Description}
			s.res.Decisions = append(s.res.Decisions, d)
			line := fmt.Sprintf("%s %s on %s by rule %s", verb, ep, d.Target, p.paint(cBold, e.Data.Rule))
			if e.Type == outcome.ConnectionApproved {
				p.ok("%s", line)
			} else {
				p.warn("%s", line)
			}
			if e.Data.Description != "" {
				p.detail("told the requester:", e.Data.Description)
			}
			if e.Data.Reason != "" && e.Data.Reason != fmt.Sprintf("rule %q matched", e.Data.Rule) {
				p.detail("reason:", e.Data.Reason)
			}
		case outcome.ZoneGroupCreated:
			s.res.ZoneGroups = append(s.res.ZoneGroups, name)
			if s.zoneGroupZones == nil {
				s.zoneGroupZones = map[string]string{}
			}
			s.zoneGroupZones[name] = strings.TrimPrefix(e.Data.After, "zones: ")
			p.ok("DNS zone group added to %s (%s)", name, e.Data.After)
		case outcome.LinkCreated, outcome.LinkUpdated, outcome.LinkRemoved:
			s.res.Links = append(s.res.Links, Link{VNet: name, Zone: core.NameOf(e.Data.Zone), Rule: e.Data.Rule})
			verb := map[outcome.Type]string{outcome.LinkCreated: "linked", outcome.LinkUpdated: "updated the link of", outcome.LinkRemoved: "removed the link of"}[e.Type]
			why := e.Data.Rule
			if e.Data.Reason != "" && e.Data.Reason != fmt.Sprintf("link rule %q matched", e.Data.Rule) {
				why += ": " + e.Data.Reason
			}
			p.ok("%s %s to %s (rule %s)", verb, name, core.NameOf(e.Data.Zone), why)
		case outcome.SubjectGone:
			if e.Data.Rule == "" { // the reconciler's: a deleted subject
				p.say("%s is gone (deleted): %s", name, e.Data.Reason)
				continue
			}
			s.showCheck(e, name)
		case outcome.VerifyPassed, outcome.VerifyFailed, verify.VerifyRetry:
			s.showCheck(e, name)
		case outcome.JobFailed:
			s.problem("job failed: %s %s: %s", name, e.Data.Reason, e.Data.Error)
		default:
			s.showPublic(e)
		}
	}
	return fresh
}

// showCheck prints and records a verification run's outcome event.
func (s *story) showCheck(e outcome.Event, name string) {
	p := s.p
	c := Check{Time: e.Time, Subject: name, Attempt: e.Data.Attempt, JobID: e.Data.JobID, Trigger: "scheduled",
		Status: e.Data.Result, Summary: e.Data.Reason, Diagnosis: e.Data.Error, run: e.Data.CorrelationID + "|" + e.Subject}
	if s.requested[e.Data.CorrelationID] {
		c.Trigger = "requested"
	}
	if e.Type == outcome.SubjectGone {
		c.Status = "gone"
	}
	if slices.ContainsFunc(s.res.Checks, func(o Check) bool { return o.run == c.run && o.Attempt == c.Attempt }) {
		return // an attempt delivered twice: listed once
	}
	s.res.Checks = append(s.res.Checks, c)
	line := fmt.Sprintf("verification of %s (attempt %d): %s, %s", name, c.Attempt, strings.ToUpper(c.Status), c.Summary)
	switch e.Type {
	case outcome.VerifyPassed:
		p.ok("%s", line)
	case verify.VerifyRetry:
		p.warn("%s", line)
		p.detail("next:", e.Data.Description)
	default:
		p.bad("%s", line)
	}
	if e.Type != outcome.VerifyPassed {
		// A retry shows the VNet link and DNS findings (the rest
		// follows from them); a failure shows every diagnosis.
		for _, d := range strings.Split(e.Data.Error, "; ") {
			if d != "" && (e.Type != verify.VerifyRetry || strings.HasPrefix(d, "arm vnet links") || strings.HasPrefix(d, "dns ")) {
				p.detail("diagnosis:", d)
			}
		}
	}
}

// decision returns the last decision about the endpoint named ep.
func (s *story) decision(ep string) *Decision {
	for i := len(s.res.Decisions) - 1; i >= 0; i-- {
		if s.res.Decisions[i].Endpoint == ep {
			return &s.res.Decisions[i]
		}
	}
	return nil
}

// showEvidence prints what the last passing verification from
// spoke-new-vnet observed (DNS, /metadata, public probe) and checks that
// every subject's latest report passed.
func (s *story) showEvidence(ctx context.Context) {
	reps, err := s.w.reports.Latest(ctx, nil, 0)
	if err != nil {
		s.problem("read verification reports: %v", err)
		return
	}
	latest := map[string]bool{}
	var shown bool
	for _, r := range reps { // newest first
		k := verify.SubjectKey(r.Subject)
		if !latest[k] {
			latest[k] = true
			if r.Status != verify.StatusPass {
				s.problem("the latest verification of %s is %s: %s", reportTitle(r), r.Status, r.Summary)
			}
		}
		if shown || r.Status != verify.StatusPass || !strings.Contains(r.Text(), "from spoke-new-vnet") {
			continue
		}
		shown = true
		s.p.say("what the production checks saw from spoke-new-vnet once linked:")
		var metadata, public bool
		for _, c := range r.Checks {
			switch {
			case strings.HasPrefix(c.Name, "dns ") && strings.Contains(c.Name, "spoke-new-vnet"),
				strings.HasPrefix(c.Name, "http GET") && strings.Contains(c.Name, "spoke-new-vnet"):
				s.p.ok("%s", c.Name)
				for _, e := range c.Evidence {
					s.p.detail("observed", e)
					if strings.Contains(e, "CapabilityStatement") && strings.Contains(e, "4.0.1") {
						metadata = true
					}
				}
			case strings.HasPrefix(c.Name, "public GET"):
				s.p.ok("%s", c.Name)
				for _, e := range c.Evidence {
					s.p.detail("observed", e)
					if strings.Contains(e, "403") {
						public = true
					}
				}
			}
		}
		if !metadata {
			s.problem("GET /metadata from spoke-new-vnet did not show a CapabilityStatement with fhirVersion 4.0.1")
		}
		if !public {
			s.problem("the public probe did not observe a 403")
		}
	}
	if !shown {
		s.problem("no passing verification from spoke-new-vnet")
	}
}

func reportTitle(r verify.Report) string {
	switch {
	case r.Subject.EndpointID != "":
		return core.NameOf(r.Subject.EndpointID)
	case r.Subject.TargetID != "":
		return core.NameOf(r.Subject.TargetID)
	case len(r.Subject.ExpectVNetIDs) > 0:
		return core.NameOf(r.Subject.ExpectVNetIDs[0])
	}
	return strings.Join(r.Subject.FQDNs, ", ")
}

// summary prints step 9.
func (s *story) summary() {
	p, res := s.p, s.res
	p.heading(9, "Summary")
	p.say("decisions")
	var rows [][]string
	for _, d := range res.Decisions {
		rows = append(rows, []string{d.Endpoint, d.Target, d.Decision, d.Rule})
	}
	p.table([]string{"endpoint", "target", "decision", "rule"}, rows)
	p.say("DNS: links and zone groups")
	rows = nil
	for _, l := range res.Links {
		rows = append(rows, []string{"link", l.VNet, l.Zone, l.Rule})
	}
	for _, z := range res.ZoneGroups {
		rows = append(rows, []string{"zone group", z, shortZones(s.zoneGroupZones[z]), "zoneGroup"}) // the rule name the reconciler records (docs/vocabulary.md)
	}
	p.table([]string{"change", "resource", "zone", "rule"}, rows)
	p.say("public access and the last private path")
	rows = nil
	for _, ps := range res.PublicAccess {
		ev := ps.Event
		if ps.Severity != "" {
			ev += " (" + ps.Severity + ")"
		}
		rows = append(rows, []string{ps.Time.UTC().Format("15:04:05"), ps.Target, ev, ps.Rule})
	}
	p.table([]string{"time", "target", "event", "rule"}, rows)
	p.say("verification runs")
	rows = nil
	sortChecks(res.Checks)
	for _, c := range res.Checks {
		rows = append(rows, []string{c.Time.UTC().Format("15:04:05"), c.Subject, c.Trigger, fmt.Sprint(c.Attempt), strings.ToUpper(c.Status), c.Summary})
	}
	p.table([]string{"time", "subject", "job", "try", "status", "summary"}, rows)
	p.say("events and cost (sandbox HTTP requests: what ARM's request limits see, LRO polls included)")
	rows = nil
	for _, st := range res.Steps {
		ev := st.Event
		if ev == "" {
			ev = "(scheduled jobs)"
		}
		rows = append(rows, []string{fmt.Sprint(st.N), ev, st.SimStart.UTC().Format("15:04:05") + "-" + st.SimEnd.UTC().Format("15:04:05"),
			roundWall(st.Wall).String(), fmt.Sprint(st.ARMReads), fmt.Sprint(st.ARMWrites)})
	}
	p.table([]string{"step", "event", "simulated", "wall", "HTTP reads", "HTTP writes"}, rows)
	p.say("total: sandbox HTTP requests: %d reads, %d writes; %s wall time, %s simulated", res.ARMReads, res.ARMWrites, roundWall(res.Wall), res.Simulated)
	if len(res.Problems) == 0 {
		fmt.Fprintf(p.out, "\n%s\n", p.paint(cBold+cGreen, "The story went as expected."))
		return
	}
	fmt.Fprintf(p.out, "\n%s\n", p.paint(cBold+cRed, fmt.Sprintf("The story did not go as expected (%d problems):", len(res.Problems))))
	for _, pr := range res.Problems {
		fmt.Fprintf(p.out, "  - %s\n", pr)
	}
}

// sortChecks orders verification runs as a reader follows them:
// verifications by their first attempt, then each one's attempts in order (a
// later verification's attempt 1 after an earlier one's attempt 2 is a new
// verification, not a step back).
func sortChecks(cs []Check) {
	first, order := map[string]time.Time{}, map[string]int{}
	for i, c := range cs {
		if t, ok := first[c.run]; !ok || c.Time.Before(t) {
			first[c.run] = c.Time
		}
		if _, ok := order[c.run]; !ok {
			order[c.run] = i
		}
	}
	slices.SortStableFunc(cs, func(a, b Check) int {
		if c := first[a.run].Compare(first[b.run]); c != 0 {
			return c
		}
		if c := order[a.run] - order[b.run]; c != 0 {
			return c
		}
		if c := a.Attempt - b.Attempt; c != 0 {
			return c
		}
		return a.Time.Compare(b.Time)
	})
}

// shortZones shortens a zone group's zone list for the summary table by
// naming the service each zone of the private DNS table serves
// ("privatelink zones of workspace, fhir, dicom"); a list with a zone the
// table lacks is shown as it is.
func shortZones(list string) string {
	var svcs []string
	for _, name := range strings.Split(list, ",") {
		z, ok := core.ZoneByName(strings.TrimSpace(name))
		if !ok {
			return list
		}
		svcs = append(svcs, string(z.Service))
	}
	if len(svcs) < 2 {
		return list
	}
	return "privatelink zones of " + strings.Join(svcs, ", ")
}
