package sandbox

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/plautopilot/autopilot/pkg/core"
)

// cond carries the conditional headers of a write.
type cond struct{ ifMatch, ifNoneMatch string }

// origin tells a write's source: the scenario loader (stores as is), a user
// acting outside the autopilot (ARM side effects, no API checks) or an SDK
// request (full ARM behaviour).
type origin int

const (
	fromLoad origin = iota
	fromUser
	fromAPI
)

func preconditionFailed(id string, c cond) *armError {
	return &armError{Status: http.StatusPreconditionFailed, Code: "PreconditionFailed",
		Message: fmt.Sprintf("The condition (If-Match: %q, If-None-Match: %q) on resource '%s' is not met.", c.ifMatch, c.ifNoneMatch, typeAndName(id))}
}

// checkCond applies If-Match / If-None-Match against the stored resource.
func checkCond(id string, existing *entry, c cond) *armError {
	if c.ifNoneMatch == "*" && existing != nil {
		return preconditionFailed(id, c)
	}
	if c.ifMatch != "" {
		if existing == nil {
			return preconditionFailed(id, c)
		}
		if c.ifMatch != "*" && c.ifMatch != str(existing.body, "etag") {
			return preconditionFailed(id, c)
		}
	}
	return nil
}

// identify sets id, name and type of a body to those of id.
func identify(id string, m map[string]any) {
	m["id"] = id
	m["name"] = core.NameOf(id)
	typ, _ := typeOf(id)
	lt := strings.ToLower(typ)
	switch {
	case canonicalType[lt] != "":
		m["type"] = canonicalType[lt]
	case isRecordType(lt):
		m["type"] = "Microsoft.Network/privateDnsZones/" + recordTypes[strings.TrimPrefix(lt, tRecordPfx)]
	default:
		if _, ok := m["type"].(string); !ok {
			m["type"] = typ
		}
	}
}

// fillIdentity sets id, name and type only where the body lacks them.
func fillIdentity(id string, m map[string]any) {
	keep := map[string]any{}
	for _, k := range []string{"name", "type"} {
		if v, ok := m[k].(string); ok && v != "" {
			keep[k] = v
		}
	}
	identify(id, m)
	for k, v := range keep {
		m[k] = v
	}
}

// put creates or replaces a resource with ARM's side effects.
func (s *Sandbox) put(id string, m map[string]any, c cond, from origin) (*entry, *armError) {
	typ, coll := typeOf(id)
	if typ == "" || coll {
		return nil, badRequest("InvalidResourceId", "'%s' is not a resource id", id)
	}
	lt := strings.ToLower(typ)
	existing := s.lookup(id)
	if existing != nil {
		id = existing.id
	}
	if p := parentID(id); p != "" && s.lookup(p) == nil && from != fromLoad {
		return nil, notFound(p)
	}
	if from == fromLoad {
		fillIdentity(id, m)
	} else {
		identify(id, m)
	}
	props := ensure(m, "properties")
	if from != fromLoad {
		props["provisioningState"] = "Succeeded"
	}

	switch {
	case (lt == tWsConn || lt == tSvcConn) && from == fromAPI:
		if existing == nil {
			return nil, notFound(id)
		}
		return existing, s.setConnectionState(existing, obj(m, "properties", "privateLinkServiceConnectionState"))
	case lt == tLink && from != fromLoad:
		if err := checkCond(id, existing, c); err != nil {
			return nil, err
		}
		vnet := str(m, "properties", "virtualNetwork", "id")
		if vnet == "" {
			return nil, badRequest("BadRequest", "properties.virtualNetwork.id is required")
		}
		for _, l := range s.children(parentID(id), tLink) {
			if core.SameID(str(l.body, "properties", "virtualNetwork", "id"), vnet) && !core.SameID(l.id, id) {
				return nil, &armError{Status: http.StatusConflict, Code: "Conflict",
					Message: fmt.Sprintf("A virtual network link to virtual network '%s' already exists in zone '%s' (link '%s').", vnet, core.NameOf(parentID(id)), core.NameOf(l.id))}
			}
		}
		m["location"] = "global"
		if _, ok := props["registrationEnabled"]; !ok {
			props["registrationEnabled"] = false
		}
		if _, ok := props["resolutionPolicy"]; !ok {
			props["resolutionPolicy"] = "Default"
		}
		props["virtualNetworkLinkState"] = "Completed"
		m["etag"] = s.nextETag(id)
		e := s.store(id, lt, m)
		e.inProgressReads = s.linkReads
		return e, nil
	case isRecordType(lt) && from != fromLoad:
		if err := checkCond(id, existing, c); err != nil {
			return nil, err
		}
		zone := parentID(id)
		props["fqdn"] = core.NameOf(id) + "." + core.NameOf(zone) + "."
		if _, ok := props["isAutoRegistered"]; !ok {
			props["isAutoRegistered"] = false
		}
		m["etag"] = s.nextETag(id)
		return s.store(id, lt, m), nil
	case lt == tZone && from != fromLoad:
		if err := checkCond(id, existing, c); err != nil {
			return nil, err
		}
		m["location"] = "global"
		m["etag"] = s.nextETag(id)
		return s.store(id, lt, m), nil
	case lt == tZoneGroup:
		for i, cfg := range objs(arr(m, "properties", "privateDnsZoneConfigs")) {
			if str(cfg, "properties", "privateDnsZoneId") == "" {
				return nil, badRequest("InvalidRequestFormat", "properties.privateDnsZoneConfigs[%d].properties.privateDnsZoneId is required", i)
			}
		}
		e := s.store(id, lt, m)
		if from != fromLoad {
			s.syncRecords(s.lookup(parentID(id)))
		}
		return e, nil
	case lt == tPE:
		return s.putEndpoint(id, m, from)
	case lt == tWorkspace || lt == tService:
		s.extract(id, m, "privateEndpointConnections", lt+"/privateendpointconnections", from)
	case lt == tVNet:
		s.extract(id, m, "virtualNetworkPeerings", tPeering, from)
	}
	return s.store(id, lt, m), nil
}

func (s *Sandbox) store(id, lt string, m map[string]any) *entry {
	e := &entry{id: id, typ: lt, body: m}
	s.res[core.IDKey(id)] = e
	return e
}

// extract moves children embedded in a parent body (connections, peerings,
// zone groups) to their own entries; GETs of the parent embed them again.
// An SDK write ignores them, as ARM ignores read-only properties.
func (s *Sandbox) extract(parent string, m map[string]any, key, childType string, from origin) {
	props := obj(m, "properties")
	if props == nil {
		return
	}
	items := objs(arr(m, "properties", key))
	delete(props, key)
	if from == fromAPI {
		return
	}
	seg := strings.Split(canonicalType[childType], "/")
	for _, c := range items {
		id := str(c, "id")
		if id == "" {
			id = parent + "/" + seg[len(seg)-1] + "/" + str(c, "name")
		}
		if s.lookup(id) != nil && from == fromLoad {
			continue // a standalone copy in the scenario wins
		}
		identify(id, c)
		s.store(id, childType, c)
	}
}

// endpointConns returns the endpoint's connections: manual ones first.
func endpointConns(pe map[string]any) (manual, auto []map[string]any) {
	return objs(arr(pe, "properties", "manualPrivateLinkServiceConnections")),
		objs(arr(pe, "properties", "privateLinkServiceConnections"))
}

func (s *Sandbox) putEndpoint(id string, m map[string]any, from origin) (*entry, *armError) {
	s.extract(id, m, "privateDnsZoneGroups", tZoneGroup, from)
	if from == fromLoad {
		return s.store(id, tPE, m), nil
	}
	manual, auto := endpointConns(m)
	for _, list := range [][]map[string]any{manual, auto} {
		for _, c := range list {
			if str(c, "properties", "privateLinkServiceId") == "" {
				return nil, badRequest("InvalidRequestFormat", "private link service connection %q has no privateLinkServiceId", str(c, "name"))
			}
		}
	}
	fill := func(c map[string]any, status, desc string) {
		p := ensure(c, "properties")
		if obj(p, "privateLinkServiceConnectionState") == nil {
			p["privateLinkServiceConnectionState"] = map[string]any{"status": status, "description": desc, "actionsRequired": "None"}
		}
		if str(c, "type") == "" {
			c["type"] = "Microsoft.Network/privateEndpoints/privateLinkServiceConnections"
		}
		if str(c, "id") == "" && str(c, "name") != "" {
			c["id"] = id + "/" + map[bool]string{true: "manualPrivateLinkServiceConnections", false: "privateLinkServiceConnections"}[status == "Pending"] + "/" + str(c, "name")
		}
	}
	for _, c := range manual {
		fill(c, "Pending", "Awaiting approval")
	}
	for _, c := range auto {
		fill(c, "Approved", "Auto-Approved")
	}
	if len(arr(m, "properties", "customDnsConfigs")) == 0 && len(arr(m, "properties", "networkInterfaces")) == 0 {
		s.allocateNIC(id, m)
	}
	e := s.store(id, tPE, m)
	for _, list := range []struct {
		conns  []map[string]any
		manual bool
	}{{manual, true}, {auto, false}} {
		for _, c := range list.conns {
			s.ensureTargetConnection(e, c, list.manual)
		}
	}
	s.syncRecords(e)
	return e, nil
}

// ensureTargetConnection creates the connection on the target that ARM
// creates when an endpoint asks to connect, unless one already refers to
// the endpoint.
func (s *Sandbox) ensureTargetConnection(pe *entry, c map[string]any, manual bool) {
	target := s.lookup(str(c, "properties", "privateLinkServiceId"))
	if target == nil || (target.typ != tWorkspace && target.typ != tService) {
		return
	}
	ct := target.typ + "/privateendpointconnections"
	for _, tc := range s.children(target.id, ct) {
		if core.SameID(str(tc.body, "properties", "privateEndpoint", "id"), pe.id) {
			return
		}
	}
	state := obj(c, "properties", "privateLinkServiceConnectionState")
	status := str(state, "status")
	desc := str(c, "properties", "requestMessage")
	if !manual {
		desc = str(state, "description")
	}
	name := core.NameOf(pe.id) + "." + hash8(pe.id)
	cid := target.id + "/privateEndpointConnections/" + name
	body := map[string]any{
		"properties": map[string]any{
			"privateEndpoint":                   map[string]any{"id": pe.id},
			"privateLinkServiceConnectionState": map[string]any{"status": status, "description": desc, "actionsRequired": "None"},
			"provisioningState":                 "Succeeded",
		},
	}
	identify(cid, body)
	s.store(cid, ct, body)
}

// allocateNIC gives a new endpoint a NIC with the next free private IP of its
// subnet and the FQDNs of its target, as ARM does on creation.
func (s *Sandbox) allocateNIC(peID string, m map[string]any) {
	subnetID := str(m, "properties", "subnet", "id")
	prefix := s.subnetPrefix(subnetID)
	if !prefix.IsValid() {
		return
	}
	used := map[netip.Addr]bool{}
	for _, pe := range s.res {
		if pe.typ != tPE || !core.SameID(str(pe.body, "properties", "subnet", "id"), subnetID) {
			continue
		}
		for _, d := range s.endpointDNS(pe.body) {
			for _, ip := range d.ips {
				if a, err := netip.ParseAddr(ip); err == nil {
					used[a] = true
				}
			}
		}
	}
	ip := prefix.Masked().Addr()
	for range 4 { // Azure reserves .0 to .3
		ip = ip.Next()
	}
	for used[ip] && prefix.Contains(ip.Next()) {
		ip = ip.Next()
	}
	var fqdns []any
	manual, auto := endpointConns(m)
	for _, c := range append(manual, auto...) {
		for _, f := range s.targetFQDNs(str(c, "properties", "privateLinkServiceId")) {
			fqdns = append(fqdns, f)
		}
	}
	props := ensure(m, "properties")
	var cdc []any
	for _, f := range fqdns {
		cdc = append(cdc, map[string]any{"fqdn": f, "ipAddresses": []any{ip.String()}})
	}
	props["customDnsConfigs"] = cdc
	nicID := "/subscriptions/" + core.SubscriptionOf(peID) + "/resourceGroups/" + core.ResourceGroupOf(peID) +
		"/providers/Microsoft.Network/networkInterfaces/" + core.NameOf(peID) + ".nic." + hash8(peID)
	nic := map[string]any{
		"location": m["location"],
		"properties": map[string]any{
			"provisioningState": "Succeeded",
			"ipConfigurations": []any{map[string]any{
				"name": "privateEndpointIpConfig." + hash8(peID+"ip"),
				"properties": map[string]any{
					"privateIPAddress":          ip.String(),
					"privateIPAllocationMethod": "Dynamic",
					"subnet":                    map[string]any{"id": subnetID},
					"privateLinkConnectionProperties": map[string]any{
						"fqdns": fqdns,
					},
				},
			}},
			"privateEndpoint": map[string]any{"id": peID},
		},
	}
	identify(nicID, nic)
	s.store(nicID, tNIC, nic)
	props["networkInterfaces"] = []any{map[string]any{"id": nicID}}
}

func (s *Sandbox) subnetPrefix(subnetID string) netip.Prefix {
	vnet := s.lookup(parentID(subnetID))
	if vnet == nil {
		return netip.Prefix{}
	}
	for _, sn := range objs(arr(vnet.body, "properties", "subnets")) {
		if !strings.EqualFold(str(sn, "name"), core.NameOf(subnetID)) {
			continue
		}
		p := str(sn, "properties", "addressPrefix")
		if p == "" {
			if ps := arr(sn, "properties", "addressPrefixes"); len(ps) > 0 {
				p, _ = ps[0].(string)
			}
		}
		pr, _ := netip.ParsePrefix(p)
		return pr
	}
	return netip.Prefix{}
}

// targetFQDNs are the host names a target's endpoint serves.
func (s *Sandbox) targetFQDNs(targetID string) []string {
	t := s.lookup(targetID)
	if t == nil {
		return nil
	}
	switch t.typ {
	case tService:
		return []string{strings.ToLower(core.NameOf(t.id)) + "." + publicSuffix(core.TargetService, core.DNSServiceLegacyFHIR)}
	case tWorkspace:
		var out []string
		for _, f := range s.children(t.id, tFhir) {
			out = append(out, strings.ToLower(core.NameOf(t.id)+"-"+core.NameOf(f.id))+"."+publicSuffix(core.TargetWorkspace, core.DNSServiceFHIR))
		}
		return append(out, s.dicomFQDNs(t.id)...)
	}
	return nil
}

// publicSuffix is the public DNS suffix of a service of a target kind, from
// the private DNS table.
func publicSuffix(kind core.TargetKind, svc core.DNSService) string {
	for _, z := range core.ZonesForKind(kind) {
		if z.Service == svc {
			return z.PublicSuffix
		}
	}
	return core.HealthcareDomain
}

type dnsConfig struct {
	fqdn string
	ips  []string
}

// endpointDNS returns the endpoint's FQDNs with their private IPs: from
// customDnsConfigs, else from its NICs.
func (s *Sandbox) endpointDNS(pe map[string]any) []dnsConfig {
	var out []dnsConfig
	for _, c := range objs(arr(pe, "properties", "customDnsConfigs")) {
		d := dnsConfig{fqdn: str(c, "fqdn")}
		for _, ip := range arr(c, "ipAddresses") {
			if v, ok := ip.(string); ok {
				d.ips = append(d.ips, v)
			}
		}
		if d.fqdn != "" && len(d.ips) > 0 {
			out = append(out, d)
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, n := range objs(arr(pe, "properties", "networkInterfaces")) {
		nic := s.lookup(str(n, "id"))
		if nic == nil {
			continue
		}
		for _, ipc := range objs(arr(nic.body, "properties", "ipConfigurations")) {
			ip := str(ipc, "properties", "privateIPAddress")
			for _, f := range arr(ipc, "properties", "privateLinkConnectionProperties", "fqdns") {
				if fs, ok := f.(string); ok && ip != "" {
					out = append(out, dnsConfig{fqdn: fs, ips: []string{ip}})
				}
			}
		}
	}
	return out
}

func endpointApproved(pe map[string]any) bool {
	manual, auto := endpointConns(pe)
	for _, c := range append(manual, auto...) {
		if strings.EqualFold(str(c, "properties", "privateLinkServiceConnectionState", "status"), "Approved") {
			return true
		}
	}
	return false
}

// syncRecords writes the A records of the endpoint's zone groups when the
// endpoint is approved, and lists them in the zone configs' recordSets. As
// in Azure, each of the endpoint's FQDNs goes into the zone that serves it
// per the private DNS table (core.ZoneForFQDN): ws-fhir.fhir.azurehealthcareapis.com
// is record "ws-fhir" in privatelink.fhir.azurehealthcareapis.com,
// ws.workspace.azurehealthcareapis.com record "ws" in
// privatelink.workspace..., name.azurehealthcareapis.com record "name" in
// privatelink.azurehealthcareapis.com. A zone of the group that serves none
// of the FQDNs gets no record.
func (s *Sandbox) syncRecords(pe *entry) {
	if pe == nil || pe.typ != tPE || !endpointApproved(pe.body) {
		return
	}
	dns := s.endpointDNS(pe.body)
	for _, zg := range s.children(pe.id, tZoneGroup) {
		cfgs := objs(arr(zg.body, "properties", "privateDnsZoneConfigs"))
		for _, cfg := range cfgs {
			zoneID := str(cfg, "properties", "privateDnsZoneId")
			zoneName := core.ZoneNameOfID(zoneID)
			sets := []any{}
			for _, d := range dns {
				zone, rel, ok := core.ZoneForFQDN(d.fqdn)
				if !ok || zone.Zone != zoneName {
					continue
				}
				ips := []any{}
				recs := []any{}
				for _, ip := range d.ips {
					ips = append(ips, ip)
					recs = append(recs, map[string]any{"ipv4Address": ip})
				}
				if zone := s.lookup(zoneID); zone != nil {
					rid := zone.id + "/A/" + rel
					rec := map[string]any{"properties": map[string]any{"ttl": 10, "aRecords": recs}}
					s.put(rid, rec, cond{}, fromUser) //nolint:errcheck // the zone exists, so this cannot fail
				}
				sets = append(sets, map[string]any{
					"recordType": "A", "recordSetName": rel, "fqdn": rel + "." + zoneName,
					"ttl": 10, "ipAddresses": ips, "provisioningState": "Succeeded",
				})
			}
			ensure(cfg, "properties")["recordSets"] = sets
		}
	}
}

var validStatus = map[string]string{"pending": "Pending", "approved": "Approved", "rejected": "Rejected"}

// setConnectionState approves or rejects a connection on a target and
// mirrors the state on the endpoint's connection.
func (s *Sandbox) setConnectionState(conn *entry, state map[string]any) *armError {
	status, ok := validStatus[strings.ToLower(str(state, "status"))]
	if !ok {
		return badRequest("InvalidRequestContent", "properties.privateLinkServiceConnectionState.status %q is not one of Pending, Approved, Rejected", str(state, "status"))
	}
	cur := str(conn.body, "properties", "privateLinkServiceConnectionState", "status")
	if strings.EqualFold(cur, "Rejected") && status != "Rejected" {
		return badRequest("PrivateEndpointConnectionStateTransitionNotAllowed", "private endpoint connection '%s' is Rejected and cannot change to %s; the requester must create a new endpoint", core.NameOf(conn.id), status)
	}
	actions := str(state, "actionsRequired")
	if actions == "" {
		actions = "None"
	}
	newState := map[string]any{"status": status, "description": str(state, "description"), "actionsRequired": actions}
	p := ensure(conn.body, "properties")
	p["privateLinkServiceConnectionState"] = newState
	p["provisioningState"] = "Succeeded"
	pe := s.lookup(str(conn.body, "properties", "privateEndpoint", "id"))
	if pe == nil {
		return nil // the endpoint lives where the sandbox cannot see
	}
	s.mirrorState(pe, parentID(conn.id), cloneMap(newState))
	s.syncRecords(pe)
	return nil
}

// mirrorState sets the state of the endpoint's connections to target.
func (s *Sandbox) mirrorState(pe *entry, target string, state map[string]any) {
	manual, auto := endpointConns(pe.body)
	for _, c := range append(manual, auto...) {
		if core.SameID(str(c, "properties", "privateLinkServiceId"), target) {
			ensure(c, "properties")["privateLinkServiceConnectionState"] = cloneMap(state)
		}
	}
}

// remove deletes a resource, its children and what ARM deletes with it.
// Deleting what does not exist succeeds, as in ARM.
func (s *Sandbox) remove(id string, c cond) *armError {
	e := s.lookup(id)
	typ, _ := typeOf(id)
	lt := strings.ToLower(typ)
	if lt == tLink || isRecordType(lt) || lt == tZone {
		if err := checkCond(id, e, cond{ifMatch: c.ifMatch}); err != nil {
			return err
		}
	}
	if e == nil {
		return nil
	}
	switch e.typ {
	case tPE:
		for _, zg := range s.children(e.id, tZoneGroup) {
			s.removeRecords(zg)
		}
		for _, n := range objs(arr(e.body, "properties", "networkInterfaces")) {
			delete(s.res, core.IDKey(str(n, "id")))
		}
		manual, auto := endpointConns(e.body)
		for _, c := range append(manual, auto...) {
			t := s.lookup(str(c, "properties", "privateLinkServiceId"))
			if t == nil {
				continue
			}
			for _, tc := range s.children(t.id, t.typ+"/privateendpointconnections") {
				if core.SameID(str(tc.body, "properties", "privateEndpoint", "id"), e.id) {
					delete(s.res, core.IDKey(tc.id))
				}
			}
		}
	case tZoneGroup:
		s.removeRecords(e)
	case tWsConn, tSvcConn:
		if pe := s.lookup(str(e.body, "properties", "privateEndpoint", "id")); pe != nil {
			s.mirrorState(pe, parentID(e.id), map[string]any{"status": "Disconnected", "description": "Connection removed by the resource owner", "actionsRequired": "None"})
		}
	}
	prefix := core.IDKey(e.id) + "/"
	for k := range s.res {
		if strings.HasPrefix(k, prefix) {
			delete(s.res, k)
		}
	}
	delete(s.res, core.IDKey(e.id))
	return nil
}

func (s *Sandbox) removeRecords(zg *entry) {
	for _, cfg := range objs(arr(zg.body, "properties", "privateDnsZoneConfigs")) {
		zoneID := str(cfg, "properties", "privateDnsZoneId")
		for _, rs := range objs(arr(cfg, "properties", "recordSets")) {
			delete(s.res, core.IDKey(zoneID+"/"+str(rs, "recordType")+"/"+str(rs, "recordSetName")))
		}
	}
}
