package jobs

import (
	"crypto/sha256"
	"encoding/hex"
	"github.com/plautopilot/autopilot/pkg/core"
	"strings"
	"time"
)

// Version is the version of the job message format.
const Version = 1

// ContentType is the MIME type of a job message body.
const ContentType = "application/vnd.plautopilot.job+json;v=1"

// Kind is what a job asks for.
type Kind string

const (
	// KindReconcile converges one subject to the policy.
	KindReconcile Kind = "reconcile"
	// KindVerify runs the verification checks for one subject.
	KindVerify Kind = "verify"
)

// Subject says what kind of resource a job's TargetID names.
type Subject string

const (
	SubjectTarget   Subject = "target"   // a workspace or legacy FHIR service
	SubjectEndpoint Subject = "endpoint" // a private endpoint
	SubjectVNet     Subject = "vnet"     // a virtual network
	SubjectZone     Subject = "zone"     // a private DNS zone (link drift)
)

// Trigger says what kind of change made a job: the classifier sets it from
// the event's operation, the sweep, the planner and the verification runner
// from what they do. Behaviour that depends on why a job exists follows the
// trigger, never Job.Reason (a human note).
type Trigger string

const (
	TriggerConnection Trigger = "connection" // a target's connection or connection proxy was written or deleted
	TriggerEndpoint   Trigger = "endpoint"   // a private endpoint was written or deleted
	TriggerZoneGroup  Trigger = "zone-group" // an endpoint's DNS zone group was written or deleted
	TriggerVNet       Trigger = "vnet"       // a VNet was written or deleted
	TriggerPeering    Trigger = "peering"    // one side of a VNet peering was written or deleted
	TriggerLink       Trigger = "link"       // a private DNS zone VNet link was written or deleted
	TriggerTarget     Trigger = "target"     // a workspace or legacy service itself was written (drift: public access)
	TriggerSweep      Trigger = "sweep"      // the periodic sweep
	TriggerFollowUp   Trigger = "follow-up"  // a follow-up of a peering or zone job (links to restore)
	TriggerFanOut     Trigger = "fan-out"    // a peer fanned out by a hub's VNet job
	TriggerVerify     Trigger = "verify"     // a verification scheduled after changes
	TriggerVerified   Trigger = "verified"   // a verification found the target's private access working
	TriggerRequest    Trigger = "request"    // asked for through the API or the CLI
)

// Triggers lists every known trigger.
var Triggers = []Trigger{TriggerConnection, TriggerEndpoint, TriggerZoneGroup, TriggerVNet, TriggerPeering, TriggerLink,
	TriggerTarget, TriggerSweep, TriggerFollowUp, TriggerFanOut, TriggerVerify, TriggerVerified, TriggerRequest}

// Known reports whether t is one of Triggers.
func (t Trigger) Known() bool {
	for _, k := range Triggers {
		if t == k {
			return true
		}
	}
	return false
}

// Job is one unit of work travelling on a queue. Its JSON form is the
// message body (see ContentType).
type Job struct {
	Version  int     `json:"version"`
	ID       string  `json:"id"` // deterministic message id, see NewID
	Kind     Kind    `json:"kind"`
	Subject  Subject `json:"subject"`
	TargetID string  `json:"targetId"`
	// Attempt counts runs of this job: 1 for the first, +1 on each retry.
	Attempt int `json:"attempt"`
	// CorrelationID ties the job to the event (or sweep) that caused it.
	CorrelationID string `json:"correlationId,omitempty"`
	// Trigger is what kind of change made the job (see Trigger). A message
	// written before it existed decodes without one: EffectiveTrigger
	// derives it.
	Trigger Trigger `json:"trigger,omitempty"`
	// Reason is a short human note of why the job exists
	// ("Microsoft.Network/privateEndpoints/write", "sweep"). Nothing
	// depends on its wording: use Trigger.
	Reason string `json:"reason,omitempty"`
	// Actor is who made the ARM call that raised the triggering event, set
	// only when that event creates or changes a connection request (its
	// Source says which): the requester the policy sees.
	Actor *core.Principal `json:"actor,omitempty"`
	// Deleted is set when the triggering event said the subject was deleted.
	Deleted bool `json:"deleted,omitempty"`
	// PrivateVerified is set on the reconcile job of a target that the
	// verification runner sends when the target's verification found its
	// private access working (every VNet that must reach it resolves it
	// privately and /metadata answers through its endpoints). Only then may
	// the plan disable the target's public network access.
	PrivateVerified bool `json:"privateVerified,omitempty"`
	// NotBefore schedules the job; zero means now.
	NotBefore time.Time `json:"notBefore,omitzero"`
	// ResumeToken carries an unfinished long-running operation.
	ResumeToken string `json:"resumeToken,omitempty"`
	// Created is when the first attempt of this job was made.
	Created time.Time `json:"created,omitzero"`
	// Streak counts the failed runs in a row that made no progress before
	// this attempt (0 on a first attempt; a run that made progress resets
	// it, see Settlement.WithProgress). Retry back-off and giving up follow it
	// rather than Attempt, so a long job that keeps converging under faults
	// is neither slowed down nor dead-lettered.
	Streak int `json:"streak,omitempty"`
	// Deferrals counts how many times this job was put back because its
	// subject was busy (another run of the same subject in progress); the
	// wait grows with it.
	Deferrals int `json:"deferrals,omitempty"`
}

// NewID returns the deterministic message id of a job: a hash of its kind,
// subject, target (case-insensitive) and a discriminator (the triggering
// event's id, the sweep window, the attempt). The same event redelivered gives
// the same id, so queue duplicate detection collapses it; a different event for
// the same target gives a different id and a fresh (idempotent) reconcile.
func NewID(kind Kind, subject Subject, targetID, discriminator string) string {
	h := sha256.New()
	h.Write([]byte(string(kind)))
	h.Write([]byte{0})
	h.Write([]byte(string(subject)))
	h.Write([]byte{0})
	h.Write([]byte(strings.ToLower(strings.TrimRight(targetID, "/"))))
	h.Write([]byte{0})
	h.Write([]byte(discriminator))
	return hex.EncodeToString(h.Sum(nil))[:32]
}
