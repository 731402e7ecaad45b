package outcome

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Source is the CloudEvents source of every outcome event.
const Source = "/autopilot"

// SpecVersion is the CloudEvents version of outcome events.
const SpecVersion = "1.0"

// Type is the CloudEvents type of an outcome event.
type Type string

// Outcome event types.
const (
	ConnectionApproved    Type = "io.plautopilot.connection.approved"
	ConnectionRejected    Type = "io.plautopilot.connection.rejected"
	ConnectionLeftPending Type = "io.plautopilot.connection.left-pending"
	LinkCreated           Type = "io.plautopilot.link.created"
	LinkUpdated           Type = "io.plautopilot.link.updated"
	LinkRemoved           Type = "io.plautopilot.link.removed"
	ZoneGroupCreated      Type = "io.plautopilot.zonegroup.created"
	// DNSFinding records a private DNS problem the autopilot reports but does
	// not fix: a zone an endpoint needs (private DNS table) that the policy
	// does not manage, or records in a zone no client resolves through.
	DNSFinding   Type = "io.plautopilot.dns.finding"
	VerifyPassed Type = "io.plautopilot.verify.passed"
	VerifyFailed Type = "io.plautopilot.verify.failed"
	// SubjectGone records a job whose subject no longer exists (nothing to do).
	SubjectGone Type = "io.plautopilot.subject.gone"
	// JobFailed records a job dead-lettered with its reason.
	JobFailed Type = "io.plautopilot.job.failed"
	// PrivatePathGuarded records a revocation withheld: the connection is
	// the last approved one of a target whose public access is Disabled.
	PrivatePathGuarded Type = "io.plautopilot.connection.guarded"
	// TargetUnreachable (critical) records a governed target with public
	// access Disabled and no approved private endpoint connection left:
	// nothing reaches it. The reason says what to do.
	TargetUnreachable Type = "io.plautopilot.target.unreachable"
	// PublicAccessDisabled records the disable-public-access action: a
	// target's publicNetworkAccess set to Disabled after its private access
	// was verified (policy targets.publicNetworkAccess).
	PublicAccessDisabled Type = "io.plautopilot.target.public-access-disabled"
	// PublicAccessOpen records a governed target whose public network
	// access is Enabled where the policy audits or closes it (audit, or
	// drift: turned back on).
	PublicAccessOpen Type = "io.plautopilot.target.public-access-open"
)

// Results of an action, as recorded in Data.Result.
const (
	ResultApplied    = "applied"     // the write was sent and changed the resource
	ResultUnchanged  = "unchanged"   // the resource was already as wanted, nothing sent
	ResultInProgress = "in-progress" // a long-running write was started and not finished
	ResultPlanned    = "planned"     // audit mode: decided, not written
	ResultObserved   = "observed"    // nothing to write (a connection left pending)
	ResultFailed     = "failed"      // the write failed, see Data.Error
	ResultSkipped    = "skipped"     // the resource vanished before the write
)

// Data is the payload of an outcome event.
type Data struct {
	// Rule is the policy rule that decided, "" when a default or a built-in
	// behaviour applied.
	Rule   string `json:"rule,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Description is the text shown to the requester on approve or reject.
	Description string `json:"description,omitempty"`
	// Before and After are the state of the subject around the action
	// ("Pending" -> "Approved", "unlinked" -> "linked").
	Before string `json:"before,omitempty"`
	After  string `json:"after,omitempty"`
	// Mode is the policy mode (enforce or audit).
	Mode   string `json:"mode,omitempty"`
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
	// Target is the protected target concerned, when known.
	Target string `json:"target,omitempty"`
	// Zone is the private DNS zone concerned by a link action.
	Zone string `json:"zone,omitempty"`
	// CorrelationID ties the event to the ARM event (or sweep) that caused
	// the job; JobID and Attempt name the job run.
	CorrelationID string `json:"correlationId,omitempty"`
	JobID         string `json:"jobId,omitempty"`
	Attempt       int    `json:"attempt,omitempty"`
	// Severity is "critical" for events that need a person at once
	// (target.unreachable); empty otherwise.
	Severity string `json:"severity,omitempty"`
}

// SeverityCritical marks an event that needs a person at once.
const SeverityCritical = "critical"

// Event is a CloudEvents 1.0 outcome event in its JSON (structured) form.
type Event struct {
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	SpecVersion     string    `json:"specversion"`
	Type            Type      `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Data      `json:"data"`
}

// New builds an outcome event about subject (a resource id). Its id is a
// hash of the type, subject, job, attempt and zone, so the same job run
// publishing the same fact twice gives the same id (consumers may dedupe on
// source + id as CloudEvents allows).
func New(typ Type, subject string, data Data, at time.Time) Event {
	h := sha256.New()
	for _, s := range []string{string(typ), subject, data.JobID, strconv.Itoa(data.Attempt), data.Zone, data.Result} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return Event{
		ID:              hex.EncodeToString(h.Sum(nil))[:32],
		Source:          Source,
		SpecVersion:     SpecVersion,
		Type:            typ,
		Subject:         subject,
		Time:            at.UTC(),
		DataContentType: "application/json",
		Data:            data,
	}
}

// Sink publishes outcome events.
type Sink interface {
	Publish(ctx context.Context, events []Event) error
}
