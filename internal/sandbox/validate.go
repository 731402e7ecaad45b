package sandbox

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// validate checks a resource body's identity and the fields the sandbox
// relies on. It returns the offending field and what is wrong, or "".
// resourceKeys are the top-level keys an ARM resource (as GET or
// `az resource show` prints it) may carry. Anything else is almost always a
// typo ("propertes") that would silently empty the resource.
var resourceKeys = map[string]bool{
	"id": true, "name": true, "type": true, "location": true, "tags": true, "etag": true,
	"properties": true, "kind": true, "sku": true, "identity": true, "systemData": true,
	"zones": true, "extendedLocation": true, "managedBy": true, "plan": true,
	"resourceGroup": true, "createdTime": true, "changedTime": true, "provisioningState": true,
}

func validate(m map[string]any) (field, msg string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !resourceKeys[k] {
			return k, "unknown key for an ARM resource (expected id, name, type, location, tags, etag, properties, ...)"
		}
	}
	id, ok := m["id"].(string)
	if !ok || id == "" {
		return "id", "missing or not a string"
	}
	if !strings.HasPrefix(strings.ToLower(id), "/subscriptions/") || core.SubscriptionOf(id) == "" {
		return "id", fmt.Sprintf("%q is not an ARM resource id (want /subscriptions/{id}/resourceGroups/{rg}/providers/...)", id)
	}
	typ, coll := typeOf(id)
	if typ == "" || coll {
		return "id", fmt.Sprintf("%q does not name a provider resource", id)
	}
	if t, ok := m["type"]; ok {
		ts, isStr := t.(string)
		if !isStr {
			return "type", "not a string"
		}
		if !strings.EqualFold(ts, typ) {
			return "type", fmt.Sprintf("%q does not match the id, which names a %s", ts, typ)
		}
	}
	if n, ok := m["name"]; ok {
		ns, isStr := n.(string)
		if !isStr {
			return "name", "not a string"
		}
		if !strings.EqualFold(ns, core.NameOf(id)) && !strings.EqualFold(ns, nestedName(id)) {
			return "name", fmt.Sprintf("%q does not match the id's last segment %q", ns, core.NameOf(id))
		}
	}
	if p, ok := m["properties"]; ok {
		if _, isObj := p.(map[string]any); !isObj {
			return "properties", "not an object"
		}
	}
	if t, ok := m["tags"]; ok && t != nil {
		tm, isObj := t.(map[string]any)
		if !isObj {
			return "tags", "not an object"
		}
		for k, v := range tm {
			if _, isStr := v.(string); !isStr {
				return "tags." + k, "not a string"
			}
		}
	}
	return validateProps(strings.ToLower(typ), m)
}

func checkIP(field, v string) (string, string) {
	if _, err := netip.ParseAddr(v); err != nil {
		return field, fmt.Sprintf("%q is not an IP address", v)
	}
	return "", ""
}

func checkPrefix(field, v string) (string, string) {
	if _, err := netip.ParsePrefix(v); err != nil {
		return field, fmt.Sprintf("%q is not an address prefix (CIDR)", v)
	}
	return "", ""
}

// validateProps checks the properties each modelled type needs.
func validateProps(lt string, m map[string]any) (field, msg string) {
	switch {
	case lt == tWsConn || lt == tSvcConn:
		if str(m, "properties", "privateEndpoint", "id") == "" {
			return "properties.privateEndpoint.id", "missing"
		}
		st := str(m, "properties", "privateLinkServiceConnectionState", "status")
		if _, ok := validStatus[strings.ToLower(st)]; !ok && !strings.EqualFold(st, "Disconnected") {
			return "properties.privateLinkServiceConnectionState.status", fmt.Sprintf("%q is not one of Pending, Approved, Rejected, Disconnected", st)
		}
	case lt == tPE:
		if str(m, "properties", "subnet", "id") == "" {
			return "properties.subnet.id", "missing"
		}
		for _, key := range []string{"manualPrivateLinkServiceConnections", "privateLinkServiceConnections"} {
			for i, c := range objs(arr(m, "properties", key)) {
				if str(c, "properties", "privateLinkServiceId") == "" {
					return fmt.Sprintf("properties.%s[%d].properties.privateLinkServiceId", key, i), "missing"
				}
			}
		}
		for i, c := range objs(arr(m, "properties", "customDnsConfigs")) {
			for j, ip := range arr(c, "ipAddresses") {
				ips, _ := ip.(string)
				if f, msg := checkIP(fmt.Sprintf("properties.customDnsConfigs[%d].ipAddresses[%d]", i, j), ips); f != "" {
					return f, msg
				}
			}
		}
	case lt == tZoneGroup:
		for i, c := range objs(arr(m, "properties", "privateDnsZoneConfigs")) {
			if str(c, "properties", "privateDnsZoneId") == "" {
				return fmt.Sprintf("properties.privateDnsZoneConfigs[%d].properties.privateDnsZoneId", i), "missing"
			}
		}
	case lt == tNIC:
		for i, c := range objs(arr(m, "properties", "ipConfigurations")) {
			if ip := str(c, "properties", "privateIPAddress"); ip != "" {
				if f, msg := checkIP(fmt.Sprintf("properties.ipConfigurations[%d].properties.privateIPAddress", i), ip); f != "" {
					return f, msg
				}
			}
		}
	case lt == tVNet:
		ps := arr(m, "properties", "addressSpace", "addressPrefixes")
		if len(ps) == 0 {
			return "properties.addressSpace.addressPrefixes", "missing or empty"
		}
		for i, p := range ps {
			pv, _ := p.(string)
			if f, msg := checkPrefix(fmt.Sprintf("properties.addressSpace.addressPrefixes[%d]", i), pv); f != "" {
				return f, msg
			}
		}
		for i, sn := range objs(arr(m, "properties", "subnets")) {
			if p := str(sn, "properties", "addressPrefix"); p != "" {
				if f, msg := checkPrefix(fmt.Sprintf("properties.subnets[%d].properties.addressPrefix", i), p); f != "" {
					return f, msg
				}
			}
		}
	case lt == tPeering:
		if str(m, "properties", "remoteVirtualNetwork", "id") == "" {
			return "properties.remoteVirtualNetwork.id", "missing"
		}
	case lt == tLink:
		if str(m, "properties", "virtualNetwork", "id") == "" {
			return "properties.virtualNetwork.id", "missing"
		}
	case lt == tRecordPfx+"a":
		for i, r := range objs(arr(m, "properties", "aRecords")) {
			if f, msg := checkIP(fmt.Sprintf("properties.aRecords[%d].ipv4Address", i), str(r, "ipv4Address")); f != "" {
				return f, msg
			}
		}
	}
	return "", ""
}
