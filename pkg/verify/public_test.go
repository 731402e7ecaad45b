package verify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plautopilot/autopilot/internal/sandbox"
	"github.com/plautopilot/autopilot/internal/sandboxnet"
	"github.com/plautopilot/autopilot/pkg/azure"
	"github.com/plautopilot/autopilot/pkg/clock"
	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/policy"
	"github.com/plautopilot/autopilot/pkg/verify"
)

// closingPolicy is the guide's policy with publicNetworkAccess set.
type closingPolicy struct {
	*policy.Policy
	mode policy.PublicAccessMode
}

func (p closingPolicy) PublicNetworkAccess() policy.PublicAccessMode { return p.mode }
func (p closingPolicy) PublicNetworkAccessActs() bool                { return p.mode != policy.PublicAccessLeave }

type sentJobs struct {
	mu   sync.Mutex
	jobs []jobs.Job
}

func (s *sentJobs) Send(_ context.Context, j jobs.Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs = append(s.jobs, j)
	return nil
}

// A target's verification that finds its private access working sends the
// reconcile job that may close its public access (PrivateVerified); one
// that does not (a peered VNet not linked) sends nothing, and nor does a
// policy that leaves public access alone.
func TestVerifiedTargetGetsTheClosingReconcile(t *testing.T) {
	for _, tc := range []struct {
		name     string
		link     bool
		mode     policy.PublicAccessMode
		wantSent bool
	}{
		{"private access verified", true, policy.PublicAccessDisableAfterVerification, true},
		{"audit also gets it (to report)", true, policy.PublicAccessAudit, true},
		{"spoke not linked: not verified", false, policy.PublicAccessDisableAfterVerification, false},
		{"leave: nothing sent", true, policy.PublicAccessLeave, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t)
			if tc.link {
				r.link(t, spokeVNet, "spoke-link")
			}
			sent := &sentJobs{}
			r.runner.Policy = closingPolicy{Policy: r.runner.Policy.(*policy.Policy), mode: tc.mode}
			r.runner.Reconcile = sent
			d := delivery(jobs.SubjectTarget, legacySvc, 1)
			r.runner.ProcessJob(context.Background(), d.Job)
			if !tc.wantSent {
				if len(sent.jobs) != 0 {
					t.Fatalf("sent %+v, want nothing", sent.jobs)
				}
				return
			}
			if len(sent.jobs) != 1 {
				t.Fatalf("sent %d jobs, want the target's reconcile", len(sent.jobs))
			}
			j := sent.jobs[0]
			if j.Kind != jobs.KindReconcile || j.Subject != jobs.SubjectTarget || j.TargetID != legacySvc || !j.PrivateVerified || j.CorrelationID != "corr-1" {
				t.Errorf("sent %+v: want a PrivateVerified reconcile job of the target with the correlation id", j)
			}
		})
	}
}

// The public probe does not count for private access: a report whose only
// failing check is the public one (public access still on) has its private
// access verified; one with a failing private check does not.
func TestPrivateAccessVerifiedIgnoresThePublicProbe(t *testing.T) {
	rep := verify.Report{Checks: []verify.CheckResult{
		{Name: "dns a.fhir.azurehealthcareapis.com from hub-vnet", Status: verify.StatusPass},
		{Name: "pe-hub: http GET https://a/metadata from hub-vnet", Status: verify.StatusPass},
		{Name: "pe-hub: public GET https://a/metadata refused", Status: verify.StatusFail, Retryable: true},
	}}
	if !rep.PrivateAccessVerified() {
		t.Errorf("public answering must not stop private access from counting as verified")
	}
	rep.Checks[1].Status = verify.StatusFail
	if rep.PrivateAccessVerified() {
		t.Errorf("a failing /metadata through the endpoint counted as verified")
	}
	if (verify.Report{Checks: []verify.CheckResult{{Name: "public GET https://a/metadata refused", Status: verify.StatusPass}}}).PrivateAccessVerified() {
		t.Errorf("a report without any private check counted as verified")
	}
}

// The public probe expects what the target's publicNetworkAccess says, as
// the guide's check "after disabling public network access": while ARM
// reads Enabled, a public client reaching the FHIR server is the owner's
// choice (the check is skipped, keeping the 200 it saw, and the
// verification can pass); once Disabled, 200 fails (retryable: blocking
// takes up to 5 minutes) and the 403 after the sandbox's propagation delay
// passes.
func TestPublicProbeFollowsPublicNetworkAccess(t *testing.T) {
	clk := clock.NewFake(t0)
	sb, err := sandbox.Load("../../testdata/scenarios/guide.yaml", sandbox.WithoutThrottling(),
		sandbox.WithClock(clk), sandbox.WithPublicAccessDelay(5*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	n, err := sandboxnet.NewNetwork(sb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	client, err := azure.New(sb.Credential(), sb.ClientOptions(), azure.Config{PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	v := n.Verifier(client)
	v.Timeout = 5 * time.Second
	url := "https://contoso-health-patients.fhir.azurehealthcareapis.com/metadata"
	probe := func() verify.CheckResult {
		t.Helper()
		rep := v.Run(context.Background(), verify.Subject{TargetID: workspace, PublicURL: url})
		for _, c := range rep.Checks {
			if strings.HasPrefix(c.Name, "public GET ") {
				return c
			}
		}
		t.Fatalf("no public probe:\n%s", rep.Text())
		return verify.CheckResult{}
	}

	c := probe()
	if c.Status != verify.StatusSkipped || !strings.Contains(strings.Join(c.Evidence, "\n"), "200 OK") ||
		!strings.Contains(strings.Join(c.Evidence, "\n"), "public network access of contoso-health is Enabled") {
		t.Errorf("while Enabled: %s %v, want skipped with the 200 it saw and why", c.Status, c.Evidence)
	}

	ctx := context.Background()
	ws, err := client.GetTarget(ctx, workspace)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SetPublicNetworkAccess(ctx, ws, core.PublicAccessDisabled); err != nil {
		t.Fatal(err)
	}
	c = probe()
	if c.Status != verify.StatusFail || !c.Retryable || !strings.Contains(c.Diagnosis, "public access is still allowed") {
		t.Errorf("Disabled, still propagating: %s retryable=%v %q, want a retryable fail: still allowed", c.Status, c.Retryable, c.Diagnosis)
	}
	clk.Advance(5 * time.Minute)
	c = probe()
	if c.Status != verify.StatusPass || !strings.Contains(strings.Join(c.Evidence, "\n"), "403") {
		t.Errorf("Disabled, after the delay: %s %v, want pass on 403", c.Status, c.Evidence)
	}
}
