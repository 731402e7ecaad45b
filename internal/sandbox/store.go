package sandbox

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Resource types the sandbox understands, lower case.
const (
	tWorkspace = "microsoft.healthcareapis/workspaces"
	tWsConn    = "microsoft.healthcareapis/workspaces/privateendpointconnections"
	tFhir      = "microsoft.healthcareapis/workspaces/fhirservices"
	tService   = "microsoft.healthcareapis/services"
	tSvcConn   = "microsoft.healthcareapis/services/privateendpointconnections"
	tPE        = "microsoft.network/privateendpoints"
	tZoneGroup = "microsoft.network/privateendpoints/privatednszonegroups"
	tNIC       = "microsoft.network/networkinterfaces"
	tVNet      = "microsoft.network/virtualnetworks"
	tPeering   = "microsoft.network/virtualnetworks/virtualnetworkpeerings"
	tZone      = "microsoft.network/privatednszones"
	tLink      = "microsoft.network/privatednszones/virtualnetworklinks"
	tRecordPfx = "microsoft.network/privatednszones/"
)

// canonicalType spells the known types as ARM does.
var canonicalType = map[string]string{
	tWorkspace: "Microsoft.HealthcareApis/workspaces",
	tWsConn:    "Microsoft.HealthcareApis/workspaces/privateEndpointConnections",
	tFhir:      "Microsoft.HealthcareApis/workspaces/fhirservices",
	tService:   "Microsoft.HealthcareApis/services",
	tSvcConn:   "Microsoft.HealthcareApis/services/privateEndpointConnections",
	tPE:        "Microsoft.Network/privateEndpoints",
	tZoneGroup: "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
	tNIC:       "Microsoft.Network/networkInterfaces",
	tVNet:      "Microsoft.Network/virtualNetworks",
	tPeering:   "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
	tZone:      "Microsoft.Network/privateDnsZones",
	tLink:      "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
}

// recordTypes are the private DNS record set types.
var recordTypes = map[string]string{"a": "A", "aaaa": "AAAA", "cname": "CNAME", "mx": "MX", "ptr": "PTR", "soa": "SOA", "srv": "SRV", "txt": "TXT"}

func isRecordType(t string) bool {
	if !strings.HasPrefix(t, tRecordPfx) {
		return false
	}
	_, ok := recordTypes[strings.TrimPrefix(t, tRecordPfx)]
	return ok
}

func known(t string) bool { _, ok := canonicalType[t]; return ok || isRecordType(t) }

// entry is one stored resource: its body as ARM returns it.
type entry struct {
	id   string
	typ  string // lower-case resource type
	body map[string]any
	// inProgressReads counts the GETs still to answer "InProgress" (links).
	inProgressReads int
}

// armError is an ARM error answer: status, code and message go into ARM's
// error body; RetryAfter into the Retry-After header.
type armError struct {
	Status     int
	Code       string
	Message    string
	RetryAfter time.Duration
}

func (e *armError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

func notFound(id string) *armError {
	return &armError{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The Resource '%s' under resource group '%s' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix", typeAndName(id), core.ResourceGroupOf(id))}
}

func badRequest(code, format string, a ...any) *armError {
	return &armError{Status: http.StatusBadRequest, Code: code, Message: fmt.Sprintf(format, a...)}
}

// idParts splits a resource or collection path: the scope before the last
// "providers" and the segments after it (namespace, type, name, type, ...).
func idParts(id string) (scope string, segs []string) {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if strings.EqualFold(parts[i], "providers") {
			return "/" + strings.Join(parts[:i], "/"), parts[i+1:]
		}
	}
	return "/" + strings.Join(parts, "/"), nil
}

// typeOf returns the resource type of an ID or collection path, in the
// casing the path uses ("Microsoft.Network/privateDnsZones/A"), and whether
// the path names a collection rather than one resource.
func typeOf(id string) (typ string, collection bool) {
	_, segs := idParts(id)
	if len(segs) < 2 {
		return "", false
	}
	t := []string{segs[0]}
	for i := 1; i < len(segs); i += 2 {
		t = append(t, segs[i])
	}
	return strings.Join(t, "/"), len(segs)%2 == 0
}

func typeAndName(id string) string {
	typ, _ := typeOf(id)
	return typ + "/" + nestedName(id)
}

// nestedName joins the names of a resource and its parents ("ws1/fhir1"),
// as ARM names child resources in some providers.
func nestedName(id string) string {
	_, segs := idParts(id)
	var names []string
	for i := 2; i < len(segs); i += 2 {
		names = append(names, segs[i])
	}
	return strings.Join(names, "/")
}

// parentID returns the parent resource of a child resource ID or of a child
// collection path, or "".
func parentID(id string) string {
	scope, segs := idParts(id)
	if len(segs) < 4 {
		return ""
	}
	n := len(segs) - 2
	if len(segs)%2 == 0 { // collection: drop only the child type
		n = len(segs) - 1
	}
	return scope + "/providers/" + strings.Join(segs[:n], "/")
}

func hash8(s string) string {
	h := fnv.New32a()
	h.Write([]byte(strings.ToLower(s)))
	return fmt.Sprintf("%08x", h.Sum32())
}

// ---- helpers over decoded JSON ----

func obj(m map[string]any, keys ...string) map[string]any {
	cur := m
	for _, k := range keys {
		next, _ := cur[k].(map[string]any)
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// ensure returns m[key] as an object, creating it when absent.
func ensure(m map[string]any, key string) map[string]any {
	if o, ok := m[key].(map[string]any); ok {
		return o
	}
	o := map[string]any{}
	m[key] = o
	return o
}

func str(m map[string]any, keys ...string) string {
	if len(keys) == 0 || m == nil {
		return ""
	}
	o := obj(m, keys[:len(keys)-1]...)
	if o == nil {
		return ""
	}
	s, _ := o[keys[len(keys)-1]].(string)
	return s
}

func arr(m map[string]any, keys ...string) []any {
	if len(keys) == 0 || m == nil {
		return nil
	}
	o := obj(m, keys[:len(keys)-1]...)
	if o == nil {
		return nil
	}
	a, _ := o[keys[len(keys)-1]].([]any)
	return a
}

func objs(a []any) []map[string]any {
	out := make([]map[string]any, 0, len(a))
	for _, v := range a {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// deepCopy clones a decoded JSON value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(t))
		for k, vv := range t {
			c[k] = deepCopy(vv)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, vv := range t {
			c[i] = deepCopy(vv)
		}
		return c
	default:
		return v
	}
}

func cloneMap(m map[string]any) map[string]any { return deepCopy(m).(map[string]any) }

// toMap turns any JSON-marshalable value (an SDK model, raw JSON) into a
// decoded JSON object.
func toMap(v any) (map[string]any, error) {
	var b []byte
	switch t := v.(type) {
	case json.RawMessage:
		b = t
	case []byte:
		b = t
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("resource is not a json object")
	}
	return m, nil
}

// remarshal converts a decoded JSON value into an SDK type.
func remarshal(v any, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// ---- store access (callers hold s.mu) ----

func (s *Sandbox) lookup(id string) *entry { return s.res[core.IDKey(id)] }

// children returns the stored children of parent with the given lower-case
// type, sorted by ID.
func (s *Sandbox) children(parent, typ string) []*entry {
	pk := core.IDKey(parent) + "/"
	var out []*entry
	for k, e := range s.res {
		if e.typ == typ && strings.HasPrefix(k, pk) && core.IDKey(parentID(e.id)) == core.IDKey(parent) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return core.IDKey(out[i].id) < core.IDKey(out[j].id) })
	return out
}

// ofType returns the stored resources of a type under scope (a subscription
// or resource group ID), sorted by ID.
func (s *Sandbox) ofType(scope, typ string) []*entry {
	pk := core.IDKey(scope) + "/"
	var out []*entry
	for k, e := range s.res {
		if e.typ == typ && strings.HasPrefix(k, pk) {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return core.IDKey(out[i].id) < core.IDKey(out[j].id) })
	return out
}

func (s *Sandbox) nextETag(id string) string {
	s.etagSeq++
	return fmt.Sprintf("%s-0000-4000-8000-%012x", hash8(id), s.etagSeq)
}

// view is what a GET of e returns: the stored body plus the children ARM
// embeds (connections of targets, peerings of VNets) and expansions.
func (s *Sandbox) view(e *entry, expand string) map[string]any {
	m := cloneMap(e.body)
	switch e.typ {
	case tWorkspace, tService:
		conns := []any{}
		for _, c := range s.children(e.id, e.typ+"/privateendpointconnections") {
			conns = append(conns, cloneMap(c.body))
		}
		ensure(m, "properties")["privateEndpointConnections"] = conns
	case tVNet:
		peers := []any{}
		for _, c := range s.children(e.id, tPeering) {
			peers = append(peers, cloneMap(c.body))
		}
		ensure(m, "properties")["virtualNetworkPeerings"] = peers
	case tPE:
		if strings.Contains(strings.ToLower(expand), "networkinterfaces") {
			nics := arr(m, "properties", "networkInterfaces")
			for i, n := range objs(nics) {
				if nic := s.lookup(str(n, "id")); nic != nil {
					nics[i] = cloneMap(nic.body)
				}
			}
		}
	case tLink:
		if e.inProgressReads > 0 {
			e.inProgressReads--
			ensure(m, "properties")["virtualNetworkLinkState"] = "InProgress"
		}
	case tZone:
		p := ensure(m, "properties")
		n := 0
		for _, c := range s.res {
			if isRecordType(c.typ) && core.IDKey(parentID(c.id)) == core.IDKey(e.id) {
				n++
			}
		}
		p["numberOfRecordSets"] = n
		p["numberOfVirtualNetworkLinks"] = len(s.children(e.id, tLink))
	}
	return m
}

// read answers a GET of a resource ID or collection path: the resource's
// view, or {"value": [...]} for a collection.
func (s *Sandbox) read(path, expand string) (map[string]any, *armError) {
	typ, coll := typeOf(path)
	if typ == "" {
		return nil, badRequest("InvalidResourceId", "unsupported path %s", path)
	}
	if !coll {
		e := s.lookup(path)
		if e == nil {
			return nil, notFound(path)
		}
		return s.view(e, expand), nil
	}
	lt := strings.ToLower(typ)
	var items []*entry
	scope, segs := idParts(path)
	switch {
	case len(segs) == 2: // subscription or resource group scope
		items = s.ofType(scope, lt)
	default:
		parent := parentID(path)
		pe := s.lookup(parent)
		if pe == nil {
			return nil, notFound(parent)
		}
		last := strings.ToLower(segs[len(segs)-1])
		switch {
		case pe.typ == tZone && last == "all":
			for _, rt := range sortedRecordTypes() {
				items = append(items, s.children(parent, tRecordPfx+rt)...)
			}
		case last == "privatelinkresources":
			return map[string]any{"value": privateLinkResources(pe)}, nil
		default:
			items = s.children(parent, lt)
		}
	}
	value := make([]any, 0, len(items))
	for _, e := range items {
		value = append(value, s.view(e, expand))
	}
	return map[string]any{"value": value}, nil
}

func sortedRecordTypes() []string {
	out := make([]string, 0, len(recordTypes))
	for k := range recordTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// privateLinkResources synthesises the group IDs a target offers, as the
// REST spec examples show them.
func privateLinkResources(target *entry) []any {
	switch target.typ {
	case tWorkspace:
		return []any{map[string]any{
			"id": target.id + "/privateLinkResources/healthcareworkspace", "name": "healthcareworkspace",
			"type": "Microsoft.HealthcareApis/workspaces/privateLinkResources",
			"properties": map[string]any{
				"groupId":           "healthcareworkspace",
				"requiredMembers":   []any{"fhirservices", "dicomservices"},
				"requiredZoneNames": zoneNamesAny(core.TargetWorkspace),
			},
		}}
	case tService:
		return []any{map[string]any{
			"id": target.id + "/privateLinkResources/fhir", "name": "fhir",
			"type": "Microsoft.HealthcareApis/services/privateLinkResources",
			"properties": map[string]any{
				"groupId":           "fhir",
				"requiredMembers":   []any{"fhir"},
				"requiredZoneNames": zoneNamesAny(core.TargetService),
			},
		}}
	}
	return []any{}
}

// zoneNamesAny lists the private DNS zones of a target kind, in the order
// of the private DNS table.
func zoneNamesAny(kind core.TargetKind) []any {
	var out []any
	for _, z := range core.ZonesForKind(kind) {
		out = append(out, z.Zone)
	}
	return out
}
