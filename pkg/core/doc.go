// Package core holds the autopilot's domain vocabulary: the Azure resources it
// reasons about (protected FHIR targets and their private endpoint
// connections, private endpoints, virtual networks, private DNS zones, VNet
// links and A records), the narrow ports through which the rest of the code
// reads and writes them, and the classification of failures into retryable,
// fatal and not-found.
//
// core imports no Azure SDK package. Adapters (pkg/azure) translate SDK types
// into these types at their edge; the policy engine, the reconciler and the
// verifier work only with these types. Resource IDs are plain strings compared
// case-insensitively (ARM itself mixes "resourceGroups" and "resourcegroups").
package core
