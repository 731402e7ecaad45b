package verify_test

import (
	"context"
	"sync"
	"testing"

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
