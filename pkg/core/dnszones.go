package core

import (
	"sort"
	"strings"
)

// The private DNS table for the two target types the autopilot governs, from
// Microsoft's "Azure Private Endpoint private DNS zone values" (Health and life
// sciences / Azure Health Data Services rows):
//
//	| resource type (group id)                               | private DNS zone                               | public suffix                        |
//	| Microsoft.HealthcareApis/services (fhir)               | privatelink.azurehealthcareapis.com           | azurehealthcareapis.com              |
//	| Microsoft.HealthcareApis/workspaces (healthcareworkspace) | privatelink.workspace.azurehealthcareapis.com | workspace.azurehealthcareapis.com |
//	|                                                        | privatelink.fhir.azurehealthcareapis.com      | fhir.azurehealthcareapis.com         |
//	|                                                        | privatelink.dicom.azurehealthcareapis.com     | dicom.azurehealthcareapis.com        |
//
// Azure resolves a public name through a CNAME that inserts "privatelink"
// before the service's suffix, answered by the A record in the matching zone:
// contoso-patients.fhir.azurehealthcareapis.com → CNAME
// contoso-patients.privatelink.fhir.azurehealthcareapis.com → A 10.x (record
// "contoso-patients" in privatelink.fhir.azurehealthcareapis.com).
//
// Everything that picks zones (zone groups, link decisions, verification, the
// sandbox, the demo) uses this table; nothing else spells a zone name.

// HealthcareDomain is the public DNS domain of Azure Health Data Services and
// Azure API for FHIR in the public cloud.
const HealthcareDomain = "azurehealthcareapis.com"

// Group ids of the private link sub-resources (privateLinkResources.groupId).
const (
	GroupIDWorkspace = "healthcareworkspace"
	GroupIDFHIR      = "fhir"
)

// DNSService names the service a private DNS zone serves.
type DNSService string

const (
	DNSServiceLegacyFHIR DNSService = "legacy-fhir" // Azure API for FHIR
	DNSServiceWorkspace  DNSService = "workspace"   // the workspace itself
	DNSServiceFHIR       DNSService = "fhir"        // workspace FHIR services
	DNSServiceDICOM      DNSService = "dicom"       // workspace DICOM services
)

// PrivateDNSZone is one row of the table: the private zone, the public suffix
// whose names it serves, and the service behind them.
type PrivateDNSZone struct {
	// Zone is the private DNS zone name, e.g. privatelink.fhir.azurehealthcareapis.com.
	Zone string `json:"zone"`
	// PublicSuffix is the public DNS suffix the zone serves, e.g. fhir.azurehealthcareapis.com.
	PublicSuffix string     `json:"publicSuffix"`
	Service      DNSService `json:"service"`
}

// PrivateLinkDNS is the table entry of one target type.
type PrivateLinkDNS struct {
	Kind         TargetKind       `json:"kind"`
	ResourceType string           `json:"resourceType"`
	GroupID      string           `json:"groupId"`
	Zones        []PrivateDNSZone `json:"zones"`
}

var (
	zoneLegacy    = PrivateDNSZone{Zone: "privatelink." + HealthcareDomain, PublicSuffix: HealthcareDomain, Service: DNSServiceLegacyFHIR}
	zoneWorkspace = PrivateDNSZone{Zone: "privatelink.workspace." + HealthcareDomain, PublicSuffix: "workspace." + HealthcareDomain, Service: DNSServiceWorkspace}
	zoneFHIR      = PrivateDNSZone{Zone: "privatelink.fhir." + HealthcareDomain, PublicSuffix: "fhir." + HealthcareDomain, Service: DNSServiceFHIR}
	zoneDICOM     = PrivateDNSZone{Zone: "privatelink.dicom." + HealthcareDomain, PublicSuffix: "dicom." + HealthcareDomain, Service: DNSServiceDICOM}
)

// DNSTable returns the private DNS table (a fresh copy; callers may modify it).
func DNSTable() []PrivateLinkDNS {
	return []PrivateLinkDNS{
		{Kind: TargetWorkspace, ResourceType: TypeWorkspace, GroupID: GroupIDWorkspace, Zones: []PrivateDNSZone{zoneWorkspace, zoneFHIR, zoneDICOM}},
		{Kind: TargetService, ResourceType: TypeService, GroupID: GroupIDFHIR, Zones: []PrivateDNSZone{zoneLegacy}},
	}
}

// AllPrivateDNSZones lists every zone of the table, each once.
func AllPrivateDNSZones() []PrivateDNSZone {
	return []PrivateDNSZone{zoneWorkspace, zoneFHIR, zoneDICOM, zoneLegacy}
}

// ZonesForKind returns the zones a target of the given kind needs (nil for an
// unknown kind).
func ZonesForKind(kind TargetKind) []PrivateDNSZone {
	for _, row := range DNSTable() {
		if row.Kind == kind {
			return row.Zones
		}
	}
	return nil
}

// ZonesForGroupID returns the zones a connection with the given group id
// needs (case-insensitive; nil for an unknown group id).
func ZonesForGroupID(groupID string) []PrivateDNSZone {
	for _, row := range DNSTable() {
		if strings.EqualFold(row.GroupID, groupID) {
			return row.Zones
		}
	}
	return nil
}

// KindOfResourceType maps an ARM resource type to its target kind ("" when it
// is not a governed type).
func KindOfResourceType(resourceType string) TargetKind {
	for _, row := range DNSTable() {
		if strings.EqualFold(row.ResourceType, resourceType) {
			return row.Kind
		}
	}
	return ""
}

// ZoneByName returns the table row of a private zone name (case-insensitive,
// trailing dot allowed).
func ZoneByName(zoneName string) (PrivateDNSZone, bool) {
	n := normalizeFQDN(zoneName)
	for _, z := range AllPrivateDNSZones() {
		if z.Zone == n {
			return z, true
		}
	}
	return PrivateDNSZone{}, false
}

// ZoneForFQDN maps a public or privatelink host name to the zone that serves
// it and the relative record name in that zone. The longest matching suffix
// wins, so "ws-patients.fhir.azurehealthcareapis.com" is record "ws-patients"
// in privatelink.fhir.azurehealthcareapis.com, never "ws-patients.fhir" in the
// legacy zone. A privatelink name ("ws-patients.privatelink.fhir....") maps
// the same way. ok is false for names outside the table, and for a bare
// suffix with no record label.
func ZoneForFQDN(fqdn string) (zone PrivateDNSZone, record string, ok bool) {
	n := normalizeFQDN(fqdn)
	for _, z := range AllPrivateDNSZones() {
		if n == z.PublicSuffix || n == z.Zone {
			return PrivateDNSZone{}, "", false // a suffix itself names no host
		}
	}
	best := -1
	for _, z := range AllPrivateDNSZones() {
		for _, suffix := range []string{z.Zone, z.PublicSuffix} {
			if strings.HasSuffix(n, "."+suffix) && len(suffix) > best {
				rec := strings.TrimSuffix(n, "."+suffix)
				// a public name under the legacy suffix that is really a
				// privatelink name of a longer suffix is handled by length.
				if rec == "" || strings.HasSuffix(rec, ".privatelink") || rec == "privatelink" {
					continue
				}
				zone, record, best, ok = z, rec, len(suffix), true
			}
		}
	}
	return zone, record, ok
}

// PrivateLinkAlias returns the CNAME Azure's public DNS gives a public name:
// "privatelink" inserted before the service's suffix
// ("ws-p.fhir.azurehealthcareapis.com" → "ws-p.privatelink.fhir.azurehealthcareapis.com").
// ok is false for names outside the table.
func PrivateLinkAlias(fqdn string) (string, bool) {
	z, rec, ok := ZoneForFQDN(fqdn)
	if !ok {
		return "", false
	}
	return rec + "." + z.Zone, true
}

// ZoneNamesFor returns the sorted zone names of a set of table rows.
func ZoneNamesFor(zones []PrivateDNSZone) []string {
	out := make([]string, 0, len(zones))
	for _, z := range zones {
		out = append(out, z.Zone)
	}
	sort.Strings(out)
	return out
}

// ZoneNameOfID returns the zone name of a private DNS zone resource ID (its
// last segment, lower case).
func ZoneNameOfID(zoneID string) string { return normalizeFQDN(NameOf(zoneID)) }

func normalizeFQDN(s string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
}
