package policy

// This file fixes the policy engine's API that the reconciler, the CLI and
// the demo are written against. Add to it freely; change a signature only
// together with its callers.

import (
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Mode says whether the autopilot acts on its decisions.
type Mode string

const (
	// ModeEnforce decides and writes.
	ModeEnforce Mode = "enforce"
	// ModeAudit decides and reports but writes nothing.
	ModeAudit Mode = "audit"
)

// Action is a connection decision.
type Action string

const (
	ActionApprove Action = "approve"
	ActionReject  Action = "reject"
	// ActionPending leaves the connection for a human.
	ActionPending Action = "pending"
)

// Decision is the outcome of evaluating the connection rules.
type Decision struct {
	Action Action `json:"action"`
	// Rule is the name of the matched rule, "" when the default applied.
	Rule string `json:"rule"`
	// Reason explains the decision for logs and the audit trail.
	Reason string `json:"reason"`
	// Description is sent to the requester on approve/reject (<= 140 chars).
	Description string `json:"description,omitempty"`
	// Revoke is true when an explicit rule rejects an already Approved
	// connection.
	Revoke bool `json:"revoke,omitempty"`
}

// ConnectionInput is everything a connection rule may look at.
type ConnectionInput struct {
	Target     core.Target
	Connection core.Connection
	// Endpoint is nil when the endpoint could not be read (cross-tenant,
	// 403); EndpointReadable is then false and only a rule that explicitly
	// allows unreadable endpoints may approve.
	Endpoint         *core.Endpoint
	EndpointReadable bool
	// EndpointVNet is the endpoint's VNet, nil when unknown.
	EndpointVNet *core.VNet
	// Requester is who asked for the connection, from the claims of the
	// event that created or changed the request (Requester.Source says
	// which); nil otherwise: a sweep, a follow-up, any other write.
	Requester *core.Principal
}

// LinkInput is everything a VNet link rule may look at.
type LinkInput struct {
	VNet core.VNet
	// PeeredVNets are the VNets this one is peered with (remote sides), as
	// far as they could be read.
	PeeredVNets []core.VNet
	// HasGovernedEndpoint is true when an approved endpoint to a governed
	// target sits in this VNet.
	HasGovernedEndpoint bool
	// PeeredWithGovernedEndpointVNet is true when this VNet is peered with a
	// VNet holding such an endpoint (linked when linkPeeredVNets is on).
	PeeredWithGovernedEndpointVNet bool
	// NeedZones names the private DNS zones (core.DNSTable) the governed
	// targets reached through this VNet need: linkEndpointVNets and
	// linkPeeredVNets link only these. Nil: every managed zone. Link rules
	// are not limited by it: a rule links every managed zone it lists.
	NeedZones []string
}

// LinkDecision says whether a VNet should be linked to one managed zone.
type LinkDecision struct {
	ZoneID              string `json:"zoneId"`
	Link                bool   `json:"link"`
	Rule                string `json:"rule"`
	Reason              string `json:"reason"`
	RegistrationEnabled bool   `json:"registrationEnabled"`
	ResolutionPolicy    string `json:"resolutionPolicy,omitempty"`
}

// ZoneGroupRule says whether approved endpoints lacking a zone group get one.
type ZoneGroupRule struct {
	Enabled bool   `json:"enabled"`
	Name    string `json:"name"` // zone group name, default "default"
}

// VerifySettings configure verification jobs.
type VerifySettings struct {
	Delay         time.Duration `json:"delay"`    // before the first run, default 5m
	Attempts      int           `json:"attempts"` // runs before giving up, default 6
	Backoff       time.Duration `json:"backoff"`  // first retry delay, doubled each time
	Resolver      string        `json:"resolver,omitempty"`
	ProbeMetadata bool          `json:"probeMetadata"`
	ProbePublic   bool          `json:"probePublic"`
}

// PublicAccessMode says what the autopilot does about the public network
// access of the targets it governs (targets.publicNetworkAccess).
type PublicAccessMode string

const (
	// PublicAccessLeave never looks at public access (the default).
	PublicAccessLeave PublicAccessMode = "leave"
	// PublicAccessAudit reports a target whose public access is Enabled
	// while its private access is verified, and writes nothing.
	PublicAccessAudit PublicAccessMode = "audit"
	// PublicAccessDisableAfterVerification sets publicNetworkAccess to
	// Disabled once the target's verification passes (every VNet that must
	// reach it resolves it privately and /metadata answers through the
	// endpoint), never before; and again when someone turns it back on.
	PublicAccessDisableAfterVerification PublicAccessMode = "disableAfterVerification"
)
