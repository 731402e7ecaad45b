package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/reconcile"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// The guide's last steps: close the public door once private access is
// proven, prove 403 after the propagation delay, and never lock the last
// private door (the guard, and target.unreachable when someone does).

// revokeRule is the demo policy's revoking rule (examples/demo-policy.yaml).
const revokeRule = "revoke-decommissioned-vnets"

// PublicStep is an event of the public access part of the story: the
// public door closed, a revocation withheld by the guard, a target left
// unreachable.
type PublicStep struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Target string    `json:"target"`
	// Resource is the connection (guard) or target the event is about.
	Resource string `json:"resource"`
	Rule     string `json:"rule"`
	Severity string `json:"severity,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

// worldClock is the simulated clock the sandbox runs on (loadSandbox: the
// propagation delay of publicNetworkAccess then passes with the story's
// simulated time), or a new one at start.
func worldClock(sb *sandbox.Sandbox, start time.Time) *clock.Fake {
	if c, ok := sb.Clock().(*clock.Fake); ok {
		return c
	}
	return clock.NewFake(start)
}

// loadSandbox loads a scenario on a simulated clock starting at
// storyStart. delay, when positive, replaces the scenario's
// publicAccessDelay.
func loadSandbox(path string, delay time.Duration) (*sandbox.Sandbox, error) {
	opts := []sandbox.Option{sandbox.WithClock(clock.NewFake(storyStart))}
	if delay > 0 {
		opts = append(opts, sandbox.WithPublicAccessDelay(delay))
	}
	return sandbox.Load(path, opts...)
}

// publicGet is the guide's check from a computer outside every VNet: GET
// https://fqdn/metadata through the sandbox's public path. It returns the
// status and a one-line summary of the answer.
func (w *world) publicGet(ctx context.Context, fqdn string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+fqdn+"/metadata", nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := w.net.FHIR.Client().Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("public GET %s: %w", fqdn, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var body struct {
		ResourceType string `json:"resourceType"`
		FHIRVersion  string `json:"fhirVersion"`
		Issue        []struct {
			Diagnostics string `json:"diagnostics"`
		} `json:"issue"`
	}
	_ = json.Unmarshal(b, &body)
	sum := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	switch {
	case body.ResourceType == "CapabilityStatement":
		sum += ", CapabilityStatement " + body.FHIRVersion
	case len(body.Issue) > 0:
		sum += fmt.Sprintf(", %q", body.Issue[0].Diagnostics)
	}
	return resp.StatusCode, sum, nil
}

// curl runs publicGet, prints it and checks the status.
func (s *story) curl(ctx context.Context, fqdn, when string, want int) error {
	status, sum, err := s.w.publicGet(ctx, fqdn)
	if err != nil {
		return err
	}
	s.p.say("GET https://%s/metadata from the internet (%s): %s", fqdn, when, sum)
	if status != want {
		s.problem("public GET %s (%s) answered %d, want %d", fqdn, when, status, want)
	}
	return nil
}

// publicAccess reads what the sandbox's public network sees of a target.
func (w *world) access(id string) sandbox.PublicAccess {
	pa, _ := w.sb.PublicAccess(id)
	return pa
}

// eventIndex returns the index in the outcome events of the first event
// matching, or -1.
func (w *world) eventIndex(match func(outcome.Event) bool) int {
	for i, e := range w.mem.Events() {
		if match(e) {
			return i
		}
	}
	return -1
}

// closePublicDoor is step 5: the reconcile job the passing verification
// sent (privateVerified) disables public access, with its rule; public
// clients still get in until the propagation delay has passed.
func (s *story) closePublicDoor(ctx context.Context) error {
	w := s.w
	if err := s.curl(ctx, wsFQDN, "public network access Enabled", http.StatusOK); err != nil {
		return err
	}
	p := w.access(workspaceID)
	if p.Setting != core.PublicAccessEnabled {
		s.problem("contoso-health's publicNetworkAccess is %q before the autopilot closes it, want Enabled", p.Setting)
	}
	if _, err := w.reconcile(ctx); err != nil {
		return err
	}
	s.showOutcomes()
	passed := w.eventIndex(func(e outcome.Event) bool {
		return e.Type == outcome.VerifyPassed && core.SameID(e.Subject, workspaceID)
	})
	disabled := w.eventIndex(func(e outcome.Event) bool {
		return e.Type == outcome.PublicAccessDisabled && core.SameID(e.Subject, workspaceID) && e.Data.Result == outcome.ResultApplied
	})
	switch {
	case disabled < 0:
		s.problem("contoso-health's public access was not disabled after its verification passed")
		return nil
	case passed < 0 || passed > disabled:
		s.problem("contoso-health's public access was disabled (event %d) before any passing verification of it (event %d)", disabled, passed)
	}
	if e := w.mem.Events()[disabled]; e.Data.Rule != reconcile.RulePublicNetworkAccess {
		s.problem("disable-public-access names rule %q, want %s", e.Data.Rule, reconcile.RulePublicNetworkAccess)
	}
	p = w.access(workspaceID)
	if p.Setting != core.PublicAccessDisabled {
		s.problem("ARM reads contoso-health's publicNetworkAccess %q after disable-public-access, want Disabled", p.Setting)
	}
	s.p.say("ARM reads publicNetworkAccess %s; public traffic is blocked from %s (sandbox propagation delay %s, the guide's \"up to 5 minutes\")",
		p.Setting, p.EnforcedAt.UTC().Format("15:04:05"), p.EnforcedAt.Sub(p.ChangedAt))
	return s.curl(ctx, wsFQDN, "right after, still propagating", http.StatusOK)
}

// prove403 is step 6: the verification the change scheduled runs after the
// policy's delay and its public probe is refused.
func (s *story) prove403(ctx context.Context) error {
	w := s.w
	enforced := w.access(workspaceID).EnforcedAt
	if st, err := w.vq.Stats(ctx); err == nil && !st.NextDue.IsZero() {
		s.p.say("verification of contoso-health due at %s (policy delay %s); public access blocked from %s",
			st.NextDue.UTC().Format("15:04:05"), w.pol.Verification().Delay, enforced.UTC().Format("15:04:05"))
	}
	if err := s.drainAll(ctx); err != nil {
		return err
	}
	if err := s.curl(ctx, wsFQDN, "after the delay", http.StatusForbidden); err != nil {
		return err
	}
	reps, err := w.reports.Latest(ctx, nil, 0)
	if err != nil {
		return fmt.Errorf("read verification reports: %w", err)
	}
	for _, r := range reps { // newest first
		if !core.SameID(r.Subject.TargetID, workspaceID) || r.Subject.PublicURL == "" {
			continue
		}
		var probe *verify.CheckResult
		for i, c := range r.Checks {
			if strings.HasPrefix(c.Name, "public GET ") {
				probe = &r.Checks[i]
			}
		}
		switch {
		case r.Status != verify.StatusPass:
			s.problem("the last verification of contoso-health is %s: %s", r.Status, r.Summary)
		case probe == nil || probe.Status != verify.StatusPass || !strings.Contains(strings.Join(probe.Evidence, " "), "403"):
			s.problem("the last verification of contoso-health did not see its public probe refused with 403 (%+v)", probe)
		case r.StartedAt.Before(enforced):
			s.problem("contoso-health's public probe passed at %s, before public access was blocked (%s)", r.StartedAt.UTC().Format("15:04:05"), enforced.UTC().Format("15:04:05"))
		default:
			s.p.ok("%s", probe.Name)
			for _, e := range probe.Evidence {
				s.p.detail("observed", e)
			}
		}
		return nil
	}
	s.problem("no verification of contoso-health with a public probe after its public access was disabled")
	return nil
}

// guard is step 7: a rule asks to revoke the last approved connection of
// contoso-health, whose public access is now Disabled; the plan withholds
// it and names the rule.
func (s *story) guard(ctx context.Context) error {
	w := s.w
	if err := w.tagVNet(appVNet, "decommissioned", "true"); err != nil {
		return err
	}
	s.p.say("the network team tags spoke-app-vnet decommissioned; rule %s (revoke: true) now matches pe-app-fhir", revokeRule)
	s.p.say("event  %s  pe-app-fhir (the app team's pipeline redeploys it)", opEndpointWrite)
	if err := w.post(ctx, opEndpointWrite, appEndpoint, "pipeline@contoso.example"); err != nil {
		return err
	}
	if _, err := w.reconcile(ctx); err != nil {
		return err
	}
	s.showOutcomes()
	if st, _, _, _ := w.connection(workspaceID, "pe-app-fhir"); st != "Approved" {
		s.problem("pe-app-fhir, the last private path of contoso-health (public access Disabled), is %q, want it kept Approved", st)
	}
	found := false
	for _, g := range s.res.PublicAccess {
		found = found || (g.Event == "guarded" && g.Rule == revokeRule && strings.HasPrefix(core.NameOf(g.Resource), "pe-app-fhir."))
	}
	if !found {
		s.problem("no guard-last-private-path naming rule %s for pe-app-fhir", revokeRule)
	}
	return nil
}

// lastEndpointDeleted is step 8: the app team deletes pe-app-fhir anyway;
// the autopilot says at once that contoso-health is unreachable, and
// leaves its public access Disabled.
func (s *story) lastEndpointDeleted(ctx context.Context) error {
	w := s.w
	if err := w.sb.Delete(appEndpoint); err != nil {
		return fmt.Errorf("demo: delete pe-app-fhir: %w", err)
	}
	s.p.say("event  %s  pe-app-fhir (deleted by the app team)", opEndpointDelete)
	if err := w.post(ctx, opEndpointDelete, appEndpoint, "dana@contoso.example"); err != nil {
		return err
	}
	if _, err := w.reconcile(ctx); err != nil {
		return err
	}
	s.showOutcomes()
	found := false
	for _, u := range s.res.PublicAccess {
		found = found || (u.Event == "unreachable" && u.Target == "contoso-health" && u.Severity == outcome.SeverityCritical)
	}
	if !found {
		s.problem("deleting contoso-health's last endpoint raised no critical target.unreachable")
	}
	if p := w.access(workspaceID); p.Setting != core.PublicAccessDisabled {
		s.problem("contoso-health's public access is %q after its last endpoint went, want Disabled (never re-enabled by the autopilot)", p.Setting)
	}
	return nil
}

// showPublic prints and records a public access event; ok reports whether
// e was one.
func (s *story) showPublic(e outcome.Event) bool {
	ps := PublicStep{Time: e.Time, Target: core.NameOf(e.Data.Target), Resource: e.Subject, Rule: e.Data.Rule,
		Severity: e.Data.Severity, Reason: e.Data.Reason}
	if ps.Target == "" {
		ps.Target = core.NameOf(e.Subject)
	}
	p := s.p
	switch e.Type {
	case outcome.PublicAccessDisabled:
		ps.Event = "public access disabled"
		p.ok("public network access of %s set to Disabled by rule %s (%s)", ps.Target, p.paint(cBold, ps.Rule), e.Data.Result)
	case outcome.PublicAccessOpen:
		ps.Event = "public access open"
		p.warn("public network access of %s is Enabled (rule %s)", ps.Target, ps.Rule)
	case outcome.PrivatePathGuarded:
		ps.Event = "guarded"
		p.warn("guard-last-private-path: %s stays approved on %s; rule %s withheld", strings.SplitN(core.NameOf(e.Subject), ".", 2)[0], ps.Target, p.paint(cBold, ps.Rule))
	case outcome.TargetUnreachable:
		ps.Event = "unreachable"
		p.bad("%s target.unreachable: %s", p.paint(cBold+cRed, strings.ToUpper(ps.Severity)), ps.Target)
	default:
		return false
	}
	if ps.Reason != "" {
		p.detail("reason:", ps.Reason)
	}
	s.res.PublicAccess = append(s.res.PublicAccess, ps)
	return true
}

// tagVNet sets a tag on a VNet as its owner would (a PUT of the whole
// VNet, children embedded as ARM returns them).
func (w *world) tagVNet(id, key, value string) error {
	raw, ok := w.sb.Get(id)
	if !ok {
		return errors.New("demo: no VNet " + core.NameOf(id))
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	tags, _ := m["tags"].(map[string]any)
	if tags == nil {
		tags = map[string]any{}
	}
	tags[key] = value
	m["tags"] = tags
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := w.sb.Put(b); err != nil {
		return fmt.Errorf("demo: tag %s: %w", core.NameOf(id), err)
	}
	return nil
}
