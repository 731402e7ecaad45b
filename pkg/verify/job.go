package verify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
	"github.com/plautopilot/autopilot/pkg/outcome"
	"github.com/plautopilot/autopilot/pkg/policy"
)

// VerifyRetry is the outcome event type of a verification that did not pass
// yet and was rescheduled (pkg/outcome has verify.passed and verify.failed).
const VerifyRetry outcome.Type = "io.plautopilot.verify.retry"

// Defaults of the verification settings when the policy leaves them zero.
const (
	DefaultAttempts = 6
	DefaultBackoff  = time.Minute
)

// JobPolicy is what the job runner asks of the policy (*policy.Policy
// implements it).
type JobPolicy interface {
	Verification() policy.VerifySettings
	Zones() []core.Zone
	LinkPeeredVNets() bool
	GovernsTarget(t core.Target) bool
	Subscriptions() []string
}

var _ JobPolicy = (*policy.Policy)(nil)

// JobRunner runs verification jobs (jobs.KindVerify) from a queue: it turns
// the job's subject into verification subjects, runs the Verifier, keeps the
// report, publishes an outcome event and says how to settle the job.
type JobRunner struct {
	// Verifier runs the checks (required). Give it a Reader for the ARM
	// checks.
	Verifier *Verifier
	// Reader reads the job's subject (targets, endpoints, VNets). Nil: the
	// Verifier's Reader.
	Reader core.Reader
	// Policy gives the managed zones, whether peers must reach the target,
	// and the attempts and back-off (required).
	Policy JobPolicy
	// Sink receives one outcome event per run (nil: none).
	Sink outcome.Sink
	// Reports keeps every report (nil: not kept; the outcome event still
	// carries the summary and diagnosis).
	Reports ReportStore
	// PublicURL returns the URL of the public probe for a FHIR host when
	// the policy's probePublic is on. Nil: https://FQDN/metadata (resolved
	// with the Verifier's PublicResolver). Returning "" skips the probe.
	PublicURL func(fqdn string) string
	// Reconcile, when set, receives a reconcile job of the target
	// (jobs.Job.PrivateVerified) after a run of a target's verification
	// job found its private access working, so that the plan may disable
	// its public network access (policy targets.publicNetworkAccess). Not
	// sent when the policy leaves public access alone.
	Reconcile jobs.Sender
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log zerolog.Logger
}

// JobResult is what one run of a verification job did (ProcessJob).
type JobResult struct {
	Report Report `json:"report"`
	// ReportName is the report's name in the store ("" when not kept).
	ReportName string `json:"reportName,omitempty"`
	// Event is the outcome event published (or attempted).
	Event outcome.Event `json:"event"`
	// Retry and Delay: the job is rescheduled after Delay.
	Retry bool          `json:"retry"`
	Delay time.Duration `json:"delay"`
}

func (r *JobRunner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *JobRunner) reader() core.Reader {
	if r.Reader != nil {
		return r.Reader
	}
	if r.Verifier != nil {
		return r.Verifier.Reader
	}
	return nil
}

// settings returns the policy's verification settings with defaults.
func (r *JobRunner) settings() policy.VerifySettings {
	s := r.Policy.Verification()
	if s.Attempts <= 0 {
		s.Attempts = DefaultAttempts
	}
	if s.Backoff <= 0 {
		s.Backoff = DefaultBackoff
	}
	return s
}

// Process runs one delivered verification job and returns its settlement
// (a jobs.Handler):
//
//   - the report passes: Done;
//   - the report may still pass by waiting (status retry) and attempts
//     remain: RetryAfter(backoff * 2^(attempt-1), capped at one hour);
//   - otherwise (a final failure, or the last attempt): Done. A failed
//     verification is a finished job whose report is kept and published
//     (verify.failed): it is not a lost job, so it is not dead-lettered.
//
// A job that is not a verification job, or lacks a Verifier or Policy, is
// dead-lettered with the reason (kept, never dropped).
func (r *JobRunner) Process(ctx context.Context, d jobs.Delivery) jobs.Settlement {
	if d.Job.Kind != jobs.KindVerify {
		return jobs.DeadLetterWith("WrongQueue", fmt.Sprintf("a %s job reached the verification runner", d.Job.Kind))
	}
	if r.Verifier == nil || r.Policy == nil {
		return jobs.DeadLetterWith("VerifierMisconfigured", "the verification runner has no Verifier or Policy")
	}
	res := r.ProcessJob(ctx, d.Job)
	if res.Retry {
		return jobs.RetryAfter(res.Delay)
	}
	return jobs.Done()
}

// ProcessJob runs the job once and returns what it found and decided.
func (r *JobRunner) ProcessJob(ctx context.Context, job jobs.Job) JobResult {
	attempt := max(job.Attempt, 1)
	set := r.settings()
	subjects, pre, gone := r.subjects(ctx, job, set)
	for i := range subjects {
		subjects[i].SkipMetadata = !set.ProbeMetadata
	}
	var rep Report
	switch {
	case len(pre) > 0 && len(subjects) == 0:
		rep = Report{Subject: jobSubject(job, nil), Attempt: attempt, StartedAt: r.Verifier.now(), Checks: pre}
		rep.conclude()
		if rep.Status == StatusPass {
			rep.Summary = "nothing to verify: " + strings.Join(pre[0].Evidence, "; ")
		}
	case len(subjects) == 1 && len(pre) == 0:
		rep = r.Verifier.RunAttempt(ctx, subjects[0], attempt)
	default:
		reps := make([]Report, 0, len(subjects))
		for _, s := range subjects {
			reps = append(reps, r.Verifier.RunAttempt(ctx, s, attempt))
		}
		rep = merge(jobSubject(job, hostsOf(subjects, reps)), attempt, pre, reps)
	}
	retry, delay := rep.NextAction(attempt, set.Attempts, set.Backoff)
	res := JobResult{Report: rep, Retry: retry, Delay: delay}

	var saveErr error
	if r.Reports != nil {
		res.ReportName, saveErr = r.Reports.Save(ctx, rep)
		if saveErr != nil {
			r.Log.Error().Err(saveErr).Str("jobId", job.ID).Msg("verification report not saved; the outcome event carries its summary")
		}
	}
	res.Event = r.event(job, rep, retry, delay, res.ReportName, saveErr)
	if gone {
		res.Event.Type = outcome.SubjectGone
	}
	if r.Sink != nil {
		if err := r.Sink.Publish(ctx, []outcome.Event{res.Event}); err != nil {
			r.Log.Error().Err(err).Str("jobId", job.ID).Str("outcome", string(res.Event.Type)).Msg("verification outcome not published")
		}
	}
	if job.Subject == jobs.SubjectTarget && len(subjects) > 0 && rep.PrivateAccessVerified() {
		r.privateVerified(ctx, job, attempt)
	}
	lg := r.Log.Info()
	if rep.Status != StatusPass {
		lg = r.Log.Warn()
	}
	lg.Str("jobId", job.ID).Str("subject", string(job.Subject)).Str("id", job.TargetID).Int("attempt", attempt).
		Str("status", string(rep.Status)).Bool("retry", retry).Dur("delay", delay).Str("summary", rep.Summary).Msg("verification run")
	return res
}

// publicCheckPrefix starts the name of the public probe's check.
const publicCheckPrefix = "public GET "

// PrivateAccessVerified reports whether every check of the report other
// than the public probe passed (or was skipped) and at least one such check
// ran: every VNet that must reach the subject resolves it privately and
// /metadata answers through the endpoint, whatever the public path does.
func (r Report) PrivateAccessVerified() bool {
	n := 0
	for _, c := range r.Checks {
		if strings.Contains(c.Name, publicCheckPrefix) {
			continue
		}
		if !c.ok() {
			return false
		}
		if c.Status == StatusPass {
			n++
		}
	}
	return n > 0
}

// privateVerified sends the reconcile job of a target whose private access
// the run verified (see JobRunner.Reconcile).
func (r *JobRunner) privateVerified(ctx context.Context, job jobs.Job, attempt int) {
	if r.Reconcile == nil {
		return
	}
	// Any target may be closed or audited when the default or a selection
	// of the policy is not leave; the reconcile job decides for this one.
	if p, ok := r.Policy.(interface{ PublicNetworkAccessActs() bool }); !ok || !p.PublicNetworkAccessActs() {
		return
	}
	j := jobs.Job{Version: jobs.Version, ID: jobs.NewID(jobs.KindReconcile, jobs.SubjectTarget, job.TargetID, fmt.Sprintf("verified:%s:%d", job.ID, attempt)),
		Kind: jobs.KindReconcile, Subject: jobs.SubjectTarget, TargetID: job.TargetID, Attempt: 1, CorrelationID: job.CorrelationID,
		Reason: "private access verified by verification job " + job.ID, PrivateVerified: true, Created: r.now()}
	if err := r.Reconcile.Send(ctx, j); err != nil {
		r.Log.Error().Err(err).Str("jobId", job.ID).Str("target", job.TargetID).
			Msg("private access verified but the reconcile job that may close public access was not sent; the next verification sends it again")
	}
}

// event builds the outcome event of a run.
func (r *JobRunner) event(job jobs.Job, rep Report, retry bool, delay time.Duration, name string, saveErr error) outcome.Event {
	typ := outcome.VerifyFailed
	switch {
	case rep.Status == StatusPass:
		typ = outcome.VerifyPassed
	case retry:
		typ = VerifyRetry
	}
	data := outcome.Data{
		Rule:          "verification",
		Reason:        rep.Summary,
		Result:        string(rep.Status),
		Target:        rep.Subject.TargetID,
		CorrelationID: job.CorrelationID,
		JobID:         job.ID,
		Attempt:       rep.Attempt,
		After:         name,
	}
	if data.Target == "" && job.Subject == jobs.SubjectTarget {
		data.Target = job.TargetID
	}
	if diag := rep.Diagnoses(); len(diag) > 0 {
		data.Error = strings.Join(diag, "; ")
	}
	if retry {
		data.Description = fmt.Sprintf("attempt %d of %d did not pass yet; next run in %s", rep.Attempt, r.settings().Attempts, delay)
	} else if rep.Status != StatusPass {
		data.Description = fmt.Sprintf("verification finished as %s after attempt %d", rep.Status, rep.Attempt)
	}
	if saveErr != nil {
		data.Error = strings.TrimPrefix(data.Error+"; report not kept: "+saveErr.Error(), "; ")
	}
	return outcome.New(typ, job.TargetID, data, r.now())
}

// Diagnoses lists "CHECK: DIAGNOSIS" for every check that did not pass, in
// report order.
func (r Report) Diagnoses() []string {
	var out []string
	for _, c := range r.Checks {
		if c.ok() || c.Diagnosis == "" {
			continue
		}
		out = append(out, c.Name+": "+c.Diagnosis)
	}
	return out
}

// subjects turns a job into verification subjects. pre holds checks that
// stand for what could not be turned into a subject (a subject gone, a read
// failure, an unreadable endpoint, nothing to verify).
func (r *JobRunner) subjects(ctx context.Context, job jobs.Job, set policy.VerifySettings) (subjects []Subject, pre []CheckResult, gone bool) {
	subjects, pre, err := r.subjectsOf(ctx, job, set)
	return subjects, pre, err != nil && core.IsNotFound(err)
}

// subjectsOf does the work of subjects; err is the failure to read the
// job's own subject (already turned into a check in pre).
func (r *JobRunner) subjectsOf(ctx context.Context, job jobs.Job, set policy.VerifySettings) (subjects []Subject, pre []CheckResult, err error) {
	rd := r.reader()
	if rd == nil {
		return nil, []CheckResult{{Name: "read " + string(job.Subject), Status: StatusError,
			Diagnosis: "the verification runner has no ARM reader: it cannot find what to verify"}}, nil
	}
	zones := zoneIDs(r.Policy.Zones())
	switch job.Subject {
	case jobs.SubjectTarget:
		t, err := rd.GetTarget(ctx, job.TargetID)
		if err != nil {
			return nil, []CheckResult{subjectReadFailure("target", job.TargetID, err)}, err
		}
		approved := 0
		for _, c := range t.Connections {
			if c.Status != core.StatusApproved || c.PrivateEndpointID == "" {
				continue
			}
			approved++
			s, _, skip, _ := r.endpointSubject(ctx, rd, c.PrivateEndpointID, zones, set)
			if skip != nil {
				pre = append(pre, *skip)
				continue
			}
			s.TargetID, s.ConnectionID = t.ID, c.ID
			subjects = append(subjects, s)
		}
		if approved == 0 {
			pre = append(pre, CheckResult{Name: "approved connections", Status: StatusSkipped,
				Evidence: []string{fmt.Sprintf("%s has no approved private endpoint connection", t.Name)}})
		}
	case jobs.SubjectEndpoint:
		s, ep, skip, err := r.endpointSubject(ctx, rd, job.TargetID, zones, set)
		if skip != nil {
			return nil, []CheckResult{*skip}, err
		}
		targets := 0
		for _, c := range ep.Connections {
			if c.Status == core.StatusApproved && c.TargetID != "" {
				targets++
				one := s
				one.TargetID = c.TargetID
				subjects = append(subjects, one)
			}
		}
		if targets == 0 {
			subjects = append(subjects, s) // the endpoint's own connection states are checked
		}
	case jobs.SubjectVNet:
		return r.vnetSubjects(ctx, rd, job.TargetID, zones, set)
	default:
		return nil, []CheckResult{{Name: "subject", Status: StatusFail,
			Diagnosis: fmt.Sprintf("a verification job for a %s subject is not supported (target, endpoint or vnet)", job.Subject)}}, nil
	}
	return subjects, pre, nil
}

// endpointSubject builds the subject of one endpoint: its zones, the VNets
// that must reach it (its own and, when the policy links peers, the peers of
// its VNet), and the public probe. skip is set when the endpoint cannot be
// read.
func (r *JobRunner) endpointSubject(ctx context.Context, rd core.Reader, endpointID string, zones []string, set policy.VerifySettings) (Subject, core.Endpoint, *CheckResult, error) {
	ep, err := rd.GetEndpoint(ctx, endpointID)
	if err != nil {
		c := subjectReadFailure("endpoint", endpointID, err)
		if core.ClassOf(err) == core.Fatal {
			// Cross-tenant or otherwise unreadable: the autopilot cannot
			// see that side; say so rather than fail for ever.
			c.Status, c.Retryable = StatusSkipped, false
			c.Evidence = append(c.Evidence, "the endpoint cannot be read with the autopilot's identity: DNS from its VNet is not verified")
			c.Diagnosis = ""
		}
		return Subject{}, ep, &c, err
	}
	s := Subject{EndpointID: ep.ID, ZoneIDs: zones}
	if r.Policy.LinkPeeredVNets() && ep.VNetID != "" {
		if vn, err := rd.GetVNet(ctx, ep.VNetID); err == nil {
			s.ExpectVNetIDs = peersOf(vn)
		} else {
			r.Log.Warn().Err(err).Str("vnet", ep.VNetID).Msg("verification: peers of the endpoint's VNet not read; verifying from the endpoint's VNet only")
		}
	}
	s.PublicURL = r.publicURL(ep, set)
	return s, ep, nil, nil
}

// vnetSubjects verifies from one VNet: every approved endpoint of a
// governed target that sits in the VNet or (when the policy links peers) in
// a VNet peered with it. When none does, DNS and /metadata are checked from
// the VNet for the governed targets' FQDNs.
func (r *JobRunner) vnetSubjects(ctx context.Context, rd core.Reader, vnetID string, zones []string, set policy.VerifySettings) ([]Subject, []CheckResult, error) {
	vn, err := rd.GetVNet(ctx, vnetID)
	if err != nil {
		return nil, []CheckResult{subjectReadFailure("VNet", vnetID, err)}, err
	}
	near := map[string]bool{core.IDKey(vn.ID): true}
	if r.Policy.LinkPeeredVNets() {
		for _, p := range peersOf(vn) {
			near[core.IDKey(p)] = true
		}
	}
	var (
		subjects []Subject
		pre      []CheckResult
		fqdns    []string
	)
	seenFQDN := map[string]bool{}
	for _, sub := range r.Policy.Subscriptions() {
		ts, err := rd.ListTargets(ctx, sub)
		if err != nil {
			pre = append(pre, subjectReadFailure("targets of subscription", sub, err))
			continue
		}
		for _, t := range ts {
			if !r.Policy.GovernsTarget(t) {
				continue
			}
			hasApproved := false
			for _, c := range t.Connections {
				if c.Status != core.StatusApproved || c.PrivateEndpointID == "" {
					continue
				}
				hasApproved = true
				ep, err := rd.GetEndpoint(ctx, c.PrivateEndpointID)
				if err != nil || !near[core.IDKey(ep.VNetID)] {
					continue // unreadable endpoints are verified by their target's job
				}
				s := Subject{TargetID: t.ID, ConnectionID: c.ID, EndpointID: ep.ID, ZoneIDs: zones, PublicURL: r.publicURL(ep, set)}
				if !core.SameID(ep.VNetID, vn.ID) {
					s.ExpectVNetIDs = []string{vn.ID}
				}
				subjects = append(subjects, s)
			}
			if hasApproved {
				for _, f := range t.FQDNs {
					if !seenFQDN[strings.ToLower(f)] {
						seenFQDN[strings.ToLower(f)] = true
						fqdns = append(fqdns, f)
					}
				}
			}
		}
	}
	if len(subjects) == 0 && len(fqdns) > 0 {
		subjects = append(subjects, Subject{FQDNs: fqdns, ExpectVNetIDs: []string{vn.ID}})
	}
	if len(subjects) == 0 && len(pre) == 0 {
		pre = append(pre, CheckResult{Name: "governed endpoints", Status: StatusSkipped,
			Evidence: []string{fmt.Sprintf("no governed target has an approved private endpoint reachable from %s", vn.Name)}})
	}
	return subjects, pre, nil
}

// publicURL returns the public probe URL of the endpoint's first FHIR host
// that is a host name of a governed target it is approved to (derivedFrom:
// never a name only the endpoint's owner vouches for), or "" when the policy
// does not probe.
func (r *JobRunner) publicURL(ep core.Endpoint, set policy.VerifySettings) string {
	if !set.ProbePublic {
		return ""
	}
	for _, d := range ep.DNS {
		f := strings.ToLower(strings.TrimSuffix(d.FQDN, "."))
		if !isFHIRHost(f) || !r.governedHost(ep, f) {
			continue
		}
		if r.PublicURL != nil {
			return r.PublicURL(f)
		}
		return "https://" + f + "/metadata"
	}
	return ""
}

// subjectReadFailure is the check standing for a subject that could not be
// read: gone (nothing to verify, final), or a read error (retried when the
// error may go away).
func subjectReadFailure(what, id string, err error) CheckResult {
	name := "read " + what + " " + nameOf(id)
	if core.IsNotFound(err) {
		return CheckResult{Name: name, Status: StatusSkipped,
			Evidence: []string{fmt.Sprintf("the %s %s does not exist (deleted)", what, nameOf(id))}}
	}
	c := readFailure(what, id, err)
	c.Name = name
	return c
}

// jobSubject is the subject a merged report is filed under: the job's
// target or endpoint, or for a VNet job the VNet and the host names checked
// from it.
func jobSubject(job jobs.Job, fqdns []string) Subject {
	switch job.Subject {
	case jobs.SubjectTarget:
		return Subject{TargetID: job.TargetID}
	case jobs.SubjectEndpoint:
		return Subject{EndpointID: job.TargetID}
	}
	return Subject{ExpectVNetIDs: []string{job.TargetID}, FQDNs: fqdns}
}

// merge folds the reports of several subjects into one, each check named
// after its endpoint ("pe-app-fhir: dns ...").
func merge(s Subject, attempt int, pre []CheckResult, reps []Report) Report {
	out := Report{Subject: s, Attempt: attempt, Checks: append([]CheckResult(nil), pre...)}
	for i, r := range reps {
		if i == 0 || r.StartedAt.Before(out.StartedAt) {
			out.StartedAt = r.StartedAt
		}
		label := subjectTitle(r.Subject)
		if r.Subject.EndpointID != "" {
			label = nameOf(r.Subject.EndpointID)
			if r.Subject.TargetID != "" && len(reps) > 1 {
				label += " to " + nameOf(r.Subject.TargetID)
			}
		}
		for _, c := range r.Checks {
			c.Name = label + ": " + c.Name
			out.Checks = append(out.Checks, c)
		}
	}
	out.conclude()
	return out
}

func zoneIDs(zs []core.Zone) []string {
	out := make([]string, 0, len(zs))
	for _, z := range zs {
		out = append(out, z.ID)
	}
	return out
}

// peersOf lists the remote VNets of a VNet's peerings that are not
// Disconnected.
func peersOf(vn core.VNet) []string {
	var out []string
	for _, p := range vn.Peerings {
		if p.RemoteVNetID == "" || strings.EqualFold(p.State, "Disconnected") {
			continue
		}
		out = append(out, p.RemoteVNetID)
	}
	return out
}

// hostsOf lists the host names the reports checked (the subjects' FQDNs,
// else those read from the endpoints), for the title of a merged report.
func hostsOf(subjects []Subject, reps []Report) []string {
	var out []string
	seen := map[string]bool{}
	add := func(f string) {
		f = strings.ToLower(f)
		if f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	for _, s := range subjects {
		for _, f := range s.FQDNs {
			add(f)
		}
	}
	for _, r := range reps {
		for _, c := range r.Checks {
			if rest, ok := strings.CutPrefix(c.Name, "dns "); ok {
				if f := strings.Fields(rest); len(f) > 0 {
					add(f[0])
				}
			}
		}
	}
	return out
}

// governedHost reports whether f is, by the private DNS table, a host name of
// a governed target the endpoint has an approved connection to.
func (r *JobRunner) governedHost(ep core.Endpoint, f string) bool {
	for _, c := range ep.Connections {
		if c.Status == core.StatusApproved && c.TargetID != "" && r.Policy.GovernsTarget(core.Target{ID: c.TargetID, Kind: kindOfTargetID(c.TargetID)}) && derivedFrom(f, c.TargetID) {
			return true
		}
	}
	return false
}
