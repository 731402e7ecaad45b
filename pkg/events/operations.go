package events

import (
	"strings"

	"github.com/plautopilot/autopilot/pkg/jobs"
)

// ARM operation names the autopilot acts on (data.operationName of
// Microsoft.Resources.Resource*Success events).
const (
	OpEndpointWrite             = "Microsoft.Network/privateEndpoints/write"
	OpEndpointDelete            = "Microsoft.Network/privateEndpoints/delete"
	OpZoneGroupWrite            = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/write"
	OpZoneGroupDelete           = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/delete"
	OpVNetWrite                 = "Microsoft.Network/virtualNetworks/write"
	OpVNetDelete                = "Microsoft.Network/virtualNetworks/delete"
	OpPeeringWrite              = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/write"
	OpPeeringDelete             = "Microsoft.Network/virtualNetworks/virtualNetworkPeerings/delete"
	OpLinkWrite                 = "Microsoft.Network/privateDnsZones/virtualNetworkLinks/write"
	OpLinkDelete                = "Microsoft.Network/privateDnsZones/virtualNetworkLinks/delete"
	OpWorkspaceConnectionWrite  = "Microsoft.HealthcareApis/workspaces/privateEndpointConnections/write"
	OpWorkspaceConnectionDelete = "Microsoft.HealthcareApis/workspaces/privateEndpointConnections/delete"
	OpServiceConnectionWrite    = "Microsoft.HealthcareApis/services/privateEndpointConnections/write"
	OpServiceConnectionDelete   = "Microsoft.HealthcareApis/services/privateEndpointConnections/delete"
	OpWorkspaceProxyWrite       = "Microsoft.HealthcareApis/workspaces/privateEndpointConnectionProxies/write"
	OpWorkspaceProxyDelete      = "Microsoft.HealthcareApis/workspaces/privateEndpointConnectionProxies/delete"
	OpServiceProxyWrite         = "Microsoft.HealthcareApis/services/privateEndpointConnectionProxies/write"
	OpServiceProxyDelete        = "Microsoft.HealthcareApis/services/privateEndpointConnectionProxies/delete"
	// A target's own write: its publicNetworkAccess may have been turned
	// back on (drift the policy's publicNetworkAccess reports).
	OpWorkspaceWrite = "Microsoft.HealthcareApis/workspaces/write"
	OpServiceWrite   = "Microsoft.HealthcareApis/services/write"
)

// HandledOperations is exactly the set of operation names Classify acts on.
// The Event Grid subscription's advanced filter (StringIn on
// data.operationName) must list the same names; a test in infra checks it.
// Event Grid allows 25 advanced filters and 25 filter values across all the
// filters of one subscription (learn.microsoft.com, "Understand event
// filtering for Event Grid subscriptions", Limitations), so this list has
// room for 25 operations at most. Classify consults this list: an operation removed from
// it is ignored even if a rule for it remains.
var HandledOperations = []string{
	OpEndpointWrite,
	OpEndpointDelete,
	OpZoneGroupWrite,
	OpZoneGroupDelete,
	OpVNetWrite,
	OpVNetDelete,
	OpPeeringWrite,
	OpPeeringDelete,
	OpLinkWrite,
	OpLinkDelete,
	OpWorkspaceConnectionWrite,
	OpWorkspaceConnectionDelete,
	OpServiceConnectionWrite,
	OpServiceConnectionDelete,
	OpWorkspaceProxyWrite,
	OpWorkspaceProxyDelete,
	OpServiceProxyWrite,
	OpServiceProxyDelete,
	OpWorkspaceWrite,
	OpServiceWrite,
}

// target says which resource a rule's job is about.
type target int

const (
	targetSelf   target = iota // the resource the event names
	targetParent               // its parent (peering -> VNet, link -> zone, ...)
)

// rule maps one operation to a domain event.
type rule struct {
	kind    Kind
	trigger jobs.Trigger
	subject jobs.Subject
	// resourceType is the type the event's resource id must have (compared
	// case-insensitively).
	resourceType string
	target       target
	// deleted is set when the job's subject itself was deleted.
	deleted bool
}

// rules holds the classification of every operation in HandledOperations,
// keyed by lower-case operation name.
var rules = map[string]rule{
	key(OpEndpointWrite):             {KindEndpointWritten, jobs.TriggerEndpoint, jobs.SubjectEndpoint, "Microsoft.Network/privateEndpoints", targetSelf, false},
	key(OpEndpointDelete):            {KindEndpointDeleted, jobs.TriggerEndpoint, jobs.SubjectEndpoint, "Microsoft.Network/privateEndpoints", targetSelf, true},
	key(OpZoneGroupWrite):            {KindZoneGroupWritten, jobs.TriggerZoneGroup, jobs.SubjectEndpoint, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", targetParent, false},
	key(OpZoneGroupDelete):           {KindZoneGroupDeleted, jobs.TriggerZoneGroup, jobs.SubjectEndpoint, "Microsoft.Network/privateEndpoints/privateDnsZoneGroups", targetParent, false},
	key(OpVNetWrite):                 {KindVNetWritten, jobs.TriggerVNet, jobs.SubjectVNet, "Microsoft.Network/virtualNetworks", targetSelf, false},
	key(OpVNetDelete):                {KindVNetDeleted, jobs.TriggerVNet, jobs.SubjectVNet, "Microsoft.Network/virtualNetworks", targetSelf, true},
	key(OpPeeringWrite):              {KindPeeringWritten, jobs.TriggerPeering, jobs.SubjectVNet, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", targetParent, false},
	key(OpPeeringDelete):             {KindPeeringDeleted, jobs.TriggerPeering, jobs.SubjectVNet, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", targetParent, false},
	key(OpLinkWrite):                 {KindLinkWritten, jobs.TriggerLink, jobs.SubjectZone, "Microsoft.Network/privateDnsZones/virtualNetworkLinks", targetParent, false},
	key(OpLinkDelete):                {KindLinkDeleted, jobs.TriggerLink, jobs.SubjectZone, "Microsoft.Network/privateDnsZones/virtualNetworkLinks", targetParent, false},
	key(OpWorkspaceConnectionWrite):  {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/workspaces/privateEndpointConnections", targetParent, false},
	key(OpWorkspaceConnectionDelete): {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/workspaces/privateEndpointConnections", targetParent, false},
	key(OpServiceConnectionWrite):    {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/services/privateEndpointConnections", targetParent, false},
	key(OpServiceConnectionDelete):   {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/services/privateEndpointConnections", targetParent, false},
	key(OpWorkspaceProxyWrite):       {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/workspaces/privateEndpointConnectionProxies", targetParent, false},
	key(OpWorkspaceProxyDelete):      {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/workspaces/privateEndpointConnectionProxies", targetParent, false},
	key(OpServiceProxyWrite):         {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/services/privateEndpointConnectionProxies", targetParent, false},
	key(OpServiceProxyDelete):        {KindConnectionChanged, jobs.TriggerConnection, jobs.SubjectTarget, "Microsoft.HealthcareApis/services/privateEndpointConnectionProxies", targetParent, false},
	key(OpWorkspaceWrite):            {KindTargetWritten, jobs.TriggerTarget, jobs.SubjectTarget, "Microsoft.HealthcareApis/workspaces", targetSelf, false},
	key(OpServiceWrite):              {KindTargetWritten, jobs.TriggerTarget, jobs.SubjectTarget, "Microsoft.HealthcareApis/services", targetSelf, false},
}

// handled is HandledOperations as a lower-case set.
var handled = func() map[string]bool {
	m := make(map[string]bool, len(HandledOperations))
	for _, op := range HandledOperations {
		m[key(op)] = true
	}
	return m
}()

// ruleFor returns the rule of an operation (case-insensitive) when the
// operation is in HandledOperations.
func ruleFor(op string) (rule, bool) {
	k := key(op)
	if !handled[k] {
		return rule{}, false
	}
	r, ok := rules[k]
	return r, ok
}

func key(op string) string { return strings.ToLower(strings.TrimSpace(op)) }
