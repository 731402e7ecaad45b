package verify

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one check or of a whole report.
type Status string

const (
	// StatusPass: the check observed what a working private link shows.
	StatusPass Status = "pass"
	// StatusFail: the check observed something wrong (see Diagnosis).
	StatusFail Status = "fail"
	// StatusRetry: the check could not conclude yet (timeout, a link or
	// write still in progress); running it later may pass.
	StatusRetry Status = "retry"
	// StatusSkipped: the check did not apply (no input for it).
	StatusSkipped Status = "skipped"
	// StatusError: the check could not run (an ARM read failed, the
	// resolver configuration is unreadable).
	StatusError Status = "error"
)

// CheckResult is what one check observed and concluded.
type CheckResult struct {
	// Name identifies the check, e.g. "dns ws1-fhir1.fhir.azurehealthcareapis.com from spoke-vnet".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Evidence lists what was observed: the DNS answer chain, the HTTP
	// status and resourceType, the ARM state read.
	Evidence []string `json:"evidence,omitempty"`
	// Diagnosis says what is wrong and how to fix it (empty on pass).
	Diagnosis string `json:"diagnosis,omitempty"`
	// Retryable is true when the result can still change without anyone
	// acting on the finding (propagation, an operation in progress).
	Retryable bool          `json:"retryable"`
	Duration  time.Duration `json:"-"`
}

type checkResultJSON struct {
	Name       string   `json:"name"`
	Status     Status   `json:"status"`
	Evidence   []string `json:"evidence,omitempty"`
	Diagnosis  string   `json:"diagnosis,omitempty"`
	Retryable  bool     `json:"retryable"`
	DurationMS float64  `json:"durationMs"`
}

// MarshalJSON writes the duration as fractional milliseconds (durationMs).
func (c CheckResult) MarshalJSON() ([]byte, error) {
	return json.Marshal(checkResultJSON{
		Name: c.Name, Status: c.Status, Evidence: c.Evidence, Diagnosis: c.Diagnosis,
		Retryable: c.Retryable, DurationMS: float64(c.Duration) / float64(time.Millisecond),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *CheckResult) UnmarshalJSON(b []byte) error {
	var j checkResultJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = CheckResult{
		Name: j.Name, Status: j.Status, Evidence: j.Evidence, Diagnosis: j.Diagnosis,
		Retryable: j.Retryable, Duration: time.Duration(j.DurationMS * float64(time.Millisecond)),
	}
	return nil
}

// ok reports whether the check does not stand in the way of a pass.
func (c CheckResult) ok() bool { return c.Status == StatusPass || c.Status == StatusSkipped }

// Subject is what to verify. Every field is optional; the checks that have
// no input are left out or skipped. With a Reader, missing FQDNs, expected
// IPs and zones are read from the endpoint.
type Subject struct {
	// TargetID is the workspace or legacy FHIR service.
	TargetID string `json:"targetId,omitempty"`
	// ConnectionID is the private endpoint connection on the target; when
	// empty the connection of EndpointID is used.
	ConnectionID string `json:"connectionId,omitempty"`
	// EndpointID is the private endpoint.
	EndpointID string `json:"endpointId,omitempty"`
	// ZoneIDs are the managed private DNS zones (privatelink.azurehealthcareapis.com ...).
	ZoneIDs []string `json:"zoneIds,omitempty"`
	// ExpectVNetIDs are VNets besides the endpoint's own that must reach the
	// target (peers per policy).
	ExpectVNetIDs []string `json:"expectVnetIds,omitempty"`
	// FQDNs are the public host names to resolve and call.
	FQDNs []string `json:"fqdns,omitempty"`
	// ExpectIPs are the private IPs the FQDNs must resolve to. Empty: the
	// endpoint's IPs for that FQDN when known, otherwise any private address.
	ExpectIPs []string `json:"expectIps,omitempty"`
	// MetadataURL replaces https://FQDN/metadata for the HTTP check.
	MetadataURL string `json:"metadataUrl,omitempty"`
	// PublicURL, when set, is probed from the public side and must answer
	// 403 (public access refused).
	PublicURL string `json:"publicUrl,omitempty"`
	// SkipMetadata leaves out the GET /metadata checks (the policy's
	// verification.probeMetadata: false).
	SkipMetadata bool `json:"skipMetadata,omitempty"`
}

// Report is the result of one verification run.
type Report struct {
	Subject   Subject       `json:"subject"`
	Attempt   int           `json:"attempt"`
	StartedAt time.Time     `json:"startedAt"`
	Checks    []CheckResult `json:"checks"`
	// Status is pass when every check passed or was skipped, retry when
	// every other check may still change (Retryable), fail otherwise.
	Status  Status `json:"status"`
	Summary string `json:"summary"`
}

// conclude sets Status and Summary from the checks.
func (r *Report) conclude() {
	var bad, final int
	for _, c := range r.Checks {
		if c.ok() {
			continue
		}
		bad++
		if !c.Retryable {
			final++
		}
	}
	switch {
	case len(r.Checks) == 0:
		r.Status = StatusFail
		r.Summary = "no checks ran: the subject names no FQDN, endpoint or URL to verify"
	case bad == 0:
		r.Status = StatusPass
		r.Summary = fmt.Sprintf("all %d checks passed", len(r.Checks))
	case final == 0:
		r.Status = StatusRetry
		r.Summary = fmt.Sprintf("%d of %d checks not passing yet, all of them may still change (propagation or work in progress)", bad, len(r.Checks))
	default:
		r.Status = StatusFail
		r.Summary = fmt.Sprintf("%d of %d checks failed, %d of them will not change by waiting", bad, len(r.Checks), final)
	}
}

// JSON renders the report for machines (indented, stable field order).
func (r Report) JSON() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil { // cannot happen: the report holds only plain data
		return []byte(fmt.Sprintf(`{"status":"error","summary":%q}`, err.Error()))
	}
	return append(b, '\n')
}

// Text renders the report for people: a heading, one aligned line per
// check, and under each check that did not pass its diagnosis and evidence.
func (r Report) Text() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "verification %s (attempt %d, %s): %s\n", subjectTitle(r.Subject), r.Attempt,
		r.StartedAt.UTC().Format(time.RFC3339), strings.ToUpper(string(r.Status)))
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0)
	for _, c := range r.Checks {
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", strings.ToUpper(string(c.Status)), c.Name, roundDuration(c.Duration))
	}
	tw.Flush()
	for _, c := range r.Checks {
		if c.ok() {
			continue
		}
		fmt.Fprintf(&sb, "\n  %s %s:\n", strings.ToUpper(string(c.Status)), c.Name)
		if c.Diagnosis != "" {
			fmt.Fprintf(&sb, "    diagnosis: %s\n", c.Diagnosis)
		}
		for _, e := range c.Evidence {
			fmt.Fprintf(&sb, "    observed:  %s\n", e)
		}
		if c.Retryable {
			sb.WriteString("    may still change: a later run can pass without further action\n")
		}
	}
	fmt.Fprintf(&sb, "\n%s\n", r.Summary)
	return sb.String()
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

func subjectTitle(s Subject) string {
	switch {
	case len(s.FQDNs) > 0:
		return strings.Join(s.FQDNs, ", ")
	case s.EndpointID != "":
		return "of endpoint " + nameOf(s.EndpointID)
	case s.TargetID != "":
		return "of " + nameOf(s.TargetID)
	case s.MetadataURL != "":
		return s.MetadataURL
	}
	return "(empty subject)"
}

// maxBackoff caps the delay NextAction asks for.
const maxBackoff = time.Hour

// NextAction decides what to do after attempt (1-based) of at most
// maxAttempts: retry after delay while the report's status is retry (every
// failing check may still change) and attempts remain; the delay doubles
// from backoff with each attempt, capped at one hour. A pass, a final fail,
// or the last attempt returns retry false: the report is the outcome.
//
// A report with one Retryable and one final failure is not retried: it
// cannot pass without someone acting on the final one.
func (r Report) NextAction(attempt, maxAttempts int, backoff time.Duration) (retry bool, delay time.Duration) {
	if r.Status != StatusRetry || attempt >= maxAttempts {
		return false, 0
	}
	if attempt < 1 {
		attempt = 1
	}
	delay = backoff
	for i := 1; i < attempt && delay < maxBackoff; i++ {
		delay *= 2
	}
	if delay > maxBackoff {
		delay = maxBackoff
	}
	return true, delay
}
