package events

import (
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/eventgrid/azsystemevents"

	"github.com/plautopilot/autopilot/pkg/core"
	"github.com/plautopilot/autopilot/pkg/jobs"
)

// Kind is the domain meaning of an event.
type Kind string

const (
	KindEndpointWritten   Kind = "EndpointWritten"   // a private endpoint was created or updated
	KindEndpointDeleted   Kind = "EndpointDeleted"   // a private endpoint was deleted
	KindConnectionChanged Kind = "ConnectionChanged" // a connection on a protected target was written or deleted
	KindZoneGroupWritten  Kind = "ZoneGroupWritten"  // an endpoint's DNS zone group was written
	KindZoneGroupDeleted  Kind = "ZoneGroupDeleted"  // an endpoint's DNS zone group was deleted (drift)
	KindVNetWritten       Kind = "VNetWritten"       // a VNet was created or updated
	KindVNetDeleted       Kind = "VNetDeleted"       // a VNet was deleted
	KindPeeringWritten    Kind = "PeeringWritten"    // one side of a VNet peering was written
	KindPeeringDeleted    Kind = "PeeringDeleted"    // one side of a VNet peering was deleted
	KindLinkWritten       Kind = "LinkWritten"       // a private DNS zone VNet link was written
	KindLinkDeleted       Kind = "LinkDeleted"       // a private DNS zone VNet link was deleted (drift)
	KindTargetWritten     Kind = "TargetWritten"     // a workspace or legacy service was written (public access drift)
	KindIgnored           Kind = "Ignored"           // nothing to do, see Classified.Reason
)

// Classified is the outcome of classifying one event.
type Classified struct {
	Kind Kind `json:"kind"`
	// Ignored is set when there is nothing to do; Reason says why.
	Ignored bool   `json:"ignored"`
	Reason  string `json:"reason,omitempty"`
	// Subject and TargetID name the resource to reconcile: the endpoint for
	// endpoint and zone group events, the workspace or service for
	// connection events, the VNet for VNet and peering events, the zone for
	// VNet link events.
	Subject  jobs.Subject `json:"subject,omitempty"`
	TargetID string       `json:"targetId,omitempty"`
	// Trigger is the kind of change, carried by the job (jobs.Job.Trigger).
	Trigger jobs.Trigger `json:"trigger,omitempty"`
	// Deleted is set when the subject itself was deleted.
	Deleted bool `json:"deleted,omitempty"`
	// RequesterFrom is set (core.RequesterFrom*) when the event creates or
	// changes a connection request, so that its caller is the requester:
	// a private endpoint's write, a connection proxy's write on the target.
	// Empty for every other event: their callers are not the requester.
	RequesterFrom string `json:"requesterFrom,omitempty"`
	Event         Event  `json:"-"`
}

func ignored(e Event, format string, args ...any) Classified {
	return Classified{Kind: KindIgnored, Ignored: true, Reason: fmt.Sprintf(format, args...), Event: e}
}

// Classify maps an event to a domain event from its type, data.operationName
// and data.status. Everything but the successful operations listed in
// HandledOperations is ignored with a reason: other event types, failed and
// cancelled operations, statuses other than Succeeded, other operations,
// the temporary deployment-scoped resource ids a template deployment reports
// first, and resource ids whose type does not match the operation.
func Classify(e Event) Classified {
	switch {
	case e.IsValidation():
		return ignored(e, "subscription validation event: answered by the webhook handshake, no job")
	case strings.EqualFold(e.Type, azsystemevents.TypeSubscriptionDeleted):
		return ignored(e, "event subscription deleted notice: no job")
	case !e.IsARM():
		return ignored(e, "event type %q is not an ARM resource event", e.Type)
	case !hasSuffixFold(e.Type, "Success"):
		return ignored(e, "event type %q reports a failed or cancelled operation: nothing changed", e.Type)
	}
	// A *Success event without a status still reports a success. ARM may
	// report a long-running write (a private endpoint, a VNet link) as
	// Accepted: the reconcile it causes is idempotent and re-reads the state,
	// so acting on it costs little while ignoring it would leave the change to
	// the next sweep.
	if e.Status != "" && !strings.EqualFold(e.Status, "Succeeded") && !strings.EqualFold(e.Status, "Accepted") {
		return ignored(e, "operation %q has status %q, not Succeeded or Accepted", e.OperationName, e.Status)
	}
	r, ok := ruleFor(e.OperationName)
	if !ok {
		return ignored(e, "operation %q is not one the autopilot acts on", e.OperationName)
	}
	id := e.ResourceID()
	if isDeploymentID(id) {
		return ignored(e, "resource id %q is a template deployment's temporary id: the resource's own event follows (correlation id %q)", id, e.CorrelationID)
	}
	rid := e.rid
	if rid == nil || !strings.EqualFold(rid.String(), strings.TrimRight(id, "/")) {
		var err error
		if rid, err = arm.ParseResourceID(id); err != nil {
			return ignored(e, "resource id %q does not parse: %v", id, err)
		}
	}
	if !strings.EqualFold(rid.ResourceType.String(), r.resourceType) {
		return ignored(e, "resource id %q is a %s, operation %q needs a %s", id, rid.ResourceType.String(), e.OperationName, r.resourceType)
	}
	if rid.SubscriptionID == "" || rid.ResourceGroupName == "" || rid.Name == "" {
		return ignored(e, "resource id %q lacks a subscription, resource group or name", id)
	}
	tgt := rid
	if r.target == targetParent {
		tgt = rid.Parent
		if tgt == nil || tgt.Name == "" {
			return ignored(e, "resource id %q has no parent resource", id)
		}
	}
	return Classified{
		Kind:          r.kind,
		Trigger:       r.trigger,
		Subject:       r.subject,
		TargetID:      tgt.String(),
		Deleted:       r.deleted,
		RequesterFrom: requesterFrom(e.OperationName),
		Event:         e,
	}
}

// requesterFrom says whether an operation's caller is the requester of a
// connection: the endpoint's write (creating it, or re-submitting its
// request) or the network provider's connection proxy write on the target,
// made on behalf of the endpoint's creator.
func requesterFrom(op string) string {
	switch key(op) {
	case key(OpEndpointWrite):
		return core.RequesterFromEndpointWrite
	case key(OpWorkspaceProxyWrite), key(OpServiceProxyWrite):
		return core.RequesterFromConnectionProxyWrite
	}
	return ""
}

// isDeploymentID reports whether id is a deployment-scoped id
// (".../providers/Microsoft.Resources/deployments/..." or the short form
// ".../resourceGroups/rg/deployments/...") that ARM reports in the first
// write event of a template deployment.
func isDeploymentID(id string) bool {
	l := strings.ToLower(id)
	if strings.Contains(l, "/providers/microsoft.resources/deployments/") {
		return true
	}
	parts := strings.Split(strings.Trim(l, "/"), "/")
	for i := 0; i+2 < len(parts); i++ {
		if parts[i] == "resourcegroups" && parts[i+2] == "deployments" {
			return true
		}
	}
	return len(parts) >= 3 && parts[0] == "subscriptions" && parts[2] == "deployments"
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}
