package azure

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/healthcareapis/armhealthcareapis"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v7"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/privatedns/armprivatedns"

	"github.com/plautopilot/autopilot/pkg/core"
)

// Codes of the fatal *core.Error values the adapter's own safety rules
// produce.
const (
	// CodeInvalidTransition: the wanted connection status cannot follow the
	// current one (only Pending -> Approved|Rejected and Approved -> Rejected).
	CodeInvalidTransition = "InvalidTransition"
	// CodeNotOwned: the resource lacks the ownership tag; the autopilot
	// neither rewrites nor deletes it.
	CodeNotOwned = "NotOwned"
	// CodeLinkNameTaken: a link with the deterministic name exists in the
	// zone for another VNet.
	CodeLinkNameTaken = "LinkNameTaken"
	// CodeInvalidSpec: the write's input is incomplete or malformed.
	CodeInvalidSpec = "InvalidSpec"
)

func refuse(op, id, code string, format string, args ...any) error {
	return &core.Error{Class: core.Fatal, Op: op, ResourceID: id, Code: code, Err: fmt.Errorf(format, args...)}
}

// SetConnectionStatus approves or rejects a private endpoint connection on
// its workspace or legacy service. Nothing is sent when the connection
// already has the wanted status (whatever its description: a decided
// connection is never rewritten for a description). Allowed changes:
// Pending -> Approved, Pending -> Rejected, Approved -> Rejected (revoke);
// anything else is refused with a fatal CodeInvalidTransition error.
//
// Reads: an approval of a connection whose Status the caller read (the
// reconciler's gather) is sent without reading it again; when ARM refuses
// the PUT (400, 409, 412) the connection is read once and the answer
// re-evaluated (already Approved: unchanged; decided otherwise: refused).
// A rejection, or a connection passed without a Status, reads the
// connection first: the autopilot never risks turning a connection someone
// approved meanwhile into a rejection.
//
// Transient failures are retried inside the call (see RetryOptions), each
// try reading afresh what the write depends on.
func (c *Client) SetConnectionStatus(ctx context.Context, conn core.Connection, want core.ConnectionStatus, description string) (core.WriteResult, error) {
	return again(ctx, c, func() (core.WriteResult, error) { return c.setConnectionStatus(ctx, conn, want, description) })
}

// setConnectionStatus is SetConnectionStatus without the retry.
func (c *Client) setConnectionStatus(ctx context.Context, conn core.Connection, want core.ConnectionStatus, description string) (core.WriteResult, error) {
	op := "set connection status " + strings.ToLower(string(want))
	id := conn.ID
	if id == "" && conn.TargetID != "" && conn.Name != "" {
		id = strings.TrimRight(conn.TargetID, "/") + "/privateEndpointConnections/" + conn.Name
	}
	if want != core.StatusApproved && want != core.StatusRejected {
		return core.WriteResult{}, refuse(op, id, CodeInvalidSpec, "wanted status %q is neither Approved nor Rejected", want)
	}
	r, err := c.resolve(op, id, typeConnWorkspace, typeConnService)
	if err != nil {
		return core.WriteResult{}, err
	}
	trusted := conn.Status != "" && want == core.StatusApproved
	have := conn.Status
	props := &armhealthcareapis.PrivateEndpointConnectionProperties{
		PrivateLinkServiceConnectionState: &armhealthcareapis.PrivateLinkServiceConnectionState{
			Status:      to.Ptr(armhealthcareapis.PrivateEndpointServiceConnectionStatus(want)),
			Description: to.Ptr(description),
		},
	}
	if conn.PrivateEndpointID != "" {
		props.PrivateEndpoint = &armhealthcareapis.PrivateEndpoint{ID: to.Ptr(conn.PrivateEndpointID)}
	}
	if conn.ActionsRequired != "" {
		props.PrivateLinkServiceConnectionState.ActionsRequired = to.Ptr(conn.ActionsRequired)
	}
	if !trusted {
		current, err := c.readConnection(ctx, r)
		if err != nil {
			return core.WriteResult{}, classify(op, id, err)
		}
		have = targetConnection("", nil, nil, current).Status
		if current != nil {
			props.PrivateEndpoint = current.PrivateEndpoint
			props.PrivateLinkServiceConnectionState.ActionsRequired = nil
			if s := current.PrivateLinkServiceConnectionState; s != nil {
				props.PrivateLinkServiceConnectionState.ActionsRequired = s.ActionsRequired
			}
		}
	}
	if have == want {
		return core.WriteResult{}, nil
	}
	if !(have == core.StatusPending || have == core.StatusApproved && want == core.StatusRejected) {
		return core.WriteResult{}, refuse(op, id, CodeInvalidTransition, "connection is %s, not Pending: will not set it to %s", orUnknown(have), want)
	}
	res, err := c.putConnection(ctx, r, props)
	if err != nil && trusted && refusedAsStale(err) {
		// ARM refused what the caller's reading promised: read it now
		current, rerr := c.readConnection(ctx, r)
		if rerr != nil {
			return core.WriteResult{}, classify(op, id, err)
		}
		now := targetConnection("", nil, nil, current).Status
		switch {
		case now == want:
			return core.WriteResult{}, nil
		case now != core.StatusPending:
			return core.WriteResult{}, refuse(op, id, CodeInvalidTransition, "connection is %s, not Pending: will not set it to %s", orUnknown(now), want)
		}
	}
	if err != nil {
		return res, classify(op, id, err)
	}
	c.log.Info().Str("op", op).Str("id", id).Str("from", string(have)).Str("to", string(want)).
		Bool("inProgress", res.InProgress).Bool("reread", !trusted).Msg("connection status written")
	return res, nil
}

// refusedAsStale reports whether ARM's refusal of a write may mean that the
// state the caller read has changed (bad transition, conflict, failed
// precondition), as opposed to throttling, faults or permissions.
func refusedAsStale(err error) bool {
	switch statusOf(err) {
	case http.StatusBadRequest, http.StatusConflict, http.StatusPreconditionFailed:
		return true
	}
	return false
}

// readConnection reads a connection on its workspace or legacy service.
func (c *Client) readConnection(ctx context.Context, r resource) (*armhealthcareapis.PrivateEndpointConnectionProperties, error) {
	rg, parent, name := r.id.ResourceGroupName, r.id.Parent.Name, r.id.Name
	if strings.EqualFold(r.id.ResourceType.String(), typeConnWorkspace) {
		resp, err := r.f.health.NewWorkspacePrivateEndpointConnectionsClient().Get(ctx, rg, parent, name, nil)
		if err != nil {
			return nil, err
		}
		return resp.Properties, nil
	}
	resp, err := r.f.health.NewPrivateEndpointConnectionsClient().Get(ctx, rg, parent, name, nil)
	if err != nil {
		return nil, err
	}
	return resp.Properties, nil
}

// putConnection writes a connection's state and waits (bounded) for the
// operation. ARM usually answers the PUT with the final state (200), so no
// poll is made; when it does not, polls are reads and the wait is bounded.
// The error is the SDK's, unclassified.
func (c *Client) putConnection(ctx context.Context, r resource, props *armhealthcareapis.PrivateEndpointConnectionProperties) (core.WriteResult, error) {
	rg, parent, name := r.id.ResourceGroupName, r.id.Parent.Name, r.id.Name
	var done bool
	var token string
	if strings.EqualFold(r.id.ResourceType.String(), typeConnWorkspace) {
		p, err := r.f.health.NewWorkspacePrivateEndpointConnectionsClient().BeginCreateOrUpdate(ctx, rg, parent, name,
			armhealthcareapis.PrivateEndpointConnectionDescription{Properties: props}, nil)
		if err != nil {
			return core.WriteResult{}, err
		}
		if _, done, token, err = wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval); err != nil {
			return core.WriteResult{}, err
		}
	} else {
		p, err := r.f.health.NewPrivateEndpointConnectionsClient().BeginCreateOrUpdate(ctx, rg, parent, name,
			armhealthcareapis.PrivateEndpointConnection{Properties: props}, nil)
		if err != nil {
			return core.WriteResult{}, err
		}
		if _, done, token, err = wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval); err != nil {
			return core.WriteResult{}, err
		}
	}
	if !done {
		return core.WriteResult{Changed: true, InProgress: true, ResumeToken: token}, nil
	}
	return core.WriteResult{Changed: true}, nil
}

func orUnknown(s core.ConnectionStatus) string {
	if s == "" {
		return "in an unknown state"
	}
	return string(s)
}

// finish turns the outcome of a bounded LRO wait into a WriteResult: a
// write was sent in every case.
func (c *Client) finish(op, id string, done bool, token string, err error) (core.WriteResult, error) {
	if err != nil {
		return core.WriteResult{}, classify(op, id, err)
	}
	if !done {
		return core.WriteResult{Changed: true, InProgress: true, ResumeToken: token}, nil
	}
	return core.WriteResult{Changed: true}, nil
}

// LinkName is the deterministic name of the link the autopilot creates
// between a zone and a VNet: "<vnet name, lower case>-<8 hex of sha256(vnet id)>",
// valid for ARM (1-80 characters of letters, digits, '_', '.', '-', starting
// with a letter or digit, ending with a letter, digit or '_').
func LinkName(vnetID string) string {
	sum := sha256.Sum256([]byte(core.IDKey(vnetID)))
	suffix := hex.EncodeToString(sum[:])[:8]
	base := invalidNameChars.ReplaceAllString(strings.ToLower(core.NameOf(vnetID)), "-")
	base = strings.Trim(base, "-._")
	if max := 80 - 1 - len(suffix); len(base) > max {
		base = strings.TrimRight(base[:max], "-._")
	}
	if base == "" {
		return "vnet-" + suffix
	}
	return base + "-" + suffix
}

var (
	invalidNameChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)
	validLinkName    = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$`)
)

func normPolicy(p string) string {
	if p == "" {
		return string(armprivatedns.ResolutionPolicyDefault)
	}
	return p
}

// EnsureVNetLink makes sure the VNet is linked to the zone.
//
// A create (spec.Update false: the caller listed the zone's links and found
// none for the VNet) is sent without reading: a PUT of spec.Name with
// If-None-Match: *, location global and the ownership tag. ARM's refusals
// are resolved by one read: 412 (a link of that name exists) reads it and
// counts as done when it links the same VNet (CodeLinkNameTaken otherwise);
// 409 (the VNet is linked under another name, or the zone is busy) lists the
// zone's links and counts as done when one links the VNet.
//
// An update (spec.Update true) lists the zone's links: an existing link for
// the same VNet (under any name) counts; the autopilot updates it (with
// If-Match) only when it owns it and its registration or resolution policy
// differ; an unowned one is left alone. When none is found it creates one
// as above.
//
// Transient failures are retried inside the call (see RetryOptions), each
// try reading afresh what the write depends on.
func (c *Client) EnsureVNetLink(ctx context.Context, spec core.LinkSpec) (core.WriteResult, error) {
	return again(ctx, c, func() (core.WriteResult, error) { return c.ensureVNetLink(ctx, spec) })
}

// ensureVNetLink is EnsureVNetLink without the retry.
func (c *Client) ensureVNetLink(ctx context.Context, spec core.LinkSpec) (core.WriteResult, error) {
	const op = "ensure vnet link"
	zone, err := c.resolve(op, spec.ZoneID, core.TypePrivateDNSZone)
	if err != nil {
		return core.WriteResult{}, err
	}
	if _, err := c.resolve(op, spec.VNetID, core.TypeVirtualNetwork); err != nil {
		return core.WriteResult{}, err
	}
	name := spec.Name
	if name == "" {
		name = LinkName(spec.VNetID)
	}
	linkID := strings.TrimRight(spec.ZoneID, "/") + "/virtualNetworkLinks/" + name
	if !validLinkName.MatchString(name) {
		return core.WriteResult{}, refuse(op, linkID, CodeInvalidSpec, "link name %q is not a valid ARM name (1-80 letters, digits, _ . -)", name)
	}
	rg, zoneName := zone.id.ResourceGroupName, zone.id.Name
	lc := zone.f.dns.NewVirtualNetworkLinksClient()
	if spec.Update {
		links, err := c.listLinks(ctx, zone, op)
		if err != nil {
			return core.WriteResult{}, err
		}
		for _, l := range links {
			if !core.SameID(l.VNetID, spec.VNetID) {
				continue
			}
			if !l.Managed() || (l.RegistrationEnabled == spec.RegistrationEnabled && strings.EqualFold(normPolicy(l.ResolutionPolicy), normPolicy(spec.ResolutionPolicy))) {
				return core.WriteResult{}, nil
			}
			body := linkBody(spec, l.Tags)
			p, err := lc.BeginCreateOrUpdate(ctx, rg, zoneName, l.Name, body,
				&armprivatedns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions{IfMatch: nonEmpty(l.ETag)})
			if err != nil {
				return core.WriteResult{}, classify("update vnet link", l.ID, err)
			}
			_, done, token, err := wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval)
			res, err := c.finish("update vnet link", l.ID, done, token, err)
			if err == nil {
				c.log.Info().Str("op", "update vnet link").Str("id", l.ID).Bool("inProgress", res.InProgress).Msg("vnet link updated")
			}
			return res, err
		}
	}

	p, err := lc.BeginCreateOrUpdate(ctx, rg, zoneName, name, linkBody(spec, nil),
		&armprivatedns.VirtualNetworkLinksClientBeginCreateOrUpdateOptions{IfNoneMatch: to.Ptr("*")})
	if err == nil {
		var done bool
		var token string
		_, done, token, err = wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval)
		if err == nil {
			res, _ := c.finish(op, linkID, done, token, nil)
			c.log.Info().Str("op", op).Str("id", linkID).Str("vnet", spec.VNetID).Bool("inProgress", res.InProgress).Msg("vnet link created")
			return res, nil
		}
	}
	cerr := classify(op, linkID, err)
	switch {
	case statusOf(err) == http.StatusPreconditionFailed:
		return c.afterCreateRace(ctx, op, zone, name, linkID, spec.VNetID)
	case statusOf(err) == http.StatusConflict, isBusy(cerr):
		// the VNet may be linked under another name, or another writer's
		// operation on the zone was busy creating this very link (ARM
		// reports that inside a failed long-running operation, on a 200
		// poll): look before failing
		links, lerr := c.listLinks(ctx, zone, op)
		if lerr == nil {
			if _, ok := linkOf(links, spec.VNetID); ok {
				return core.WriteResult{}, nil
			}
		}
	}
	return core.WriteResult{}, cerr
}

func linkOf(links []core.VNetLink, vnetID string) (core.VNetLink, bool) {
	for _, l := range links {
		if core.SameID(l.VNetID, vnetID) {
			return l, true
		}
	}
	return core.VNetLink{}, false
}

// afterCreateRace handles a 412 on create: a link of that name appeared
// since the listing. It is fine when it links the same VNet.
func (c *Client) afterCreateRace(ctx context.Context, op string, zone resource, name, linkID, vnetID string) (core.WriteResult, error) {
	resp, err := zone.f.dns.NewVirtualNetworkLinksClient().Get(ctx, zone.id.ResourceGroupName, zone.id.Name, name, nil)
	if err != nil {
		return core.WriteResult{}, classify(op, linkID, err)
	}
	l, _ := vnetLink(zone.raw, &resp.VirtualNetworkLink)
	if !core.SameID(l.VNetID, vnetID) {
		return core.WriteResult{}, refuse(op, linkID, CodeLinkNameTaken, "link %s exists for vnet %s, not %s", name, l.VNetID, vnetID)
	}
	return core.WriteResult{}, nil
}

func linkBody(spec core.LinkSpec, existing map[string]string) armprivatedns.VirtualNetworkLink {
	t := map[string]*string{}
	for k, v := range existing {
		t[k] = to.Ptr(v)
	}
	t[core.OwnerTagKey] = to.Ptr(core.OwnerTagValue)
	props := &armprivatedns.VirtualNetworkLinkProperties{
		VirtualNetwork:      &armprivatedns.SubResource{ID: to.Ptr(spec.VNetID)},
		RegistrationEnabled: to.Ptr(spec.RegistrationEnabled),
	}
	if spec.ResolutionPolicy != "" {
		props.ResolutionPolicy = to.Ptr(armprivatedns.ResolutionPolicy(spec.ResolutionPolicy))
	}
	return armprivatedns.VirtualNetworkLink{Location: to.Ptr("global"), Tags: t, Properties: props}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// DeleteVNetLink deletes a link the autopilot owns, with If-Match on its
// ETag (a 412 means it changed since it was read: retryable, re-read; or
// that it is gone already: done). It
// refuses (fatal, CodeNotOwned) a link without the ownership tag. A link
// already gone reports Changed false.
//
// Transient failures are retried inside the call (see RetryOptions), each
// try reading afresh what the write depends on.
//
// A 412 on a link that still exists means it changed since it was read:
// the next try holds the delete to the ETag just read, and checks again
// that the link is still the autopilot's (resending the old ETag could only
// fail again).
func (c *Client) DeleteVNetLink(ctx context.Context, link core.VNetLink) (core.WriteResult, error) {
	return again(ctx, c, func() (core.WriteResult, error) { return c.deleteVNetLink(ctx, &link) })
}

// deleteVNetLink is DeleteVNetLink without the retry. After a 412 it leaves
// the link as read now in *lp, for the next try.
func (c *Client) deleteVNetLink(ctx context.Context, lp *core.VNetLink) (core.WriteResult, error) {
	link := *lp
	const op = "delete vnet link"
	id := link.ID
	if id == "" && link.ZoneID != "" && link.Name != "" {
		id = strings.TrimRight(link.ZoneID, "/") + "/virtualNetworkLinks/" + link.Name
	}
	r, err := c.resolve(op, id, core.TypeVirtualNetworkLink)
	if err != nil {
		return core.WriteResult{}, err
	}
	rg, zoneName, name := r.id.ResourceGroupName, r.id.Parent.Name, r.id.Name
	lc := r.f.dns.NewVirtualNetworkLinksClient()
	if link.ETag == "" {
		// no ETag to hold the delete to: read the link as it is now
		resp, err := lc.Get(ctx, rg, zoneName, name, nil)
		if err != nil {
			if core.IsNotFound(classify(op, id, err)) {
				return core.WriteResult{}, nil
			}
			return core.WriteResult{}, classify(op, id, err)
		}
		link, _ = vnetLink(core.ParentOf(id), &resp.VirtualNetworkLink)
	}
	if !link.Managed() {
		return core.WriteResult{}, refuse(op, id, CodeNotOwned, "link has no %s=%s tag: not deleting a link the autopilot did not create", core.OwnerTagKey, core.OwnerTagValue)
	}
	p, err := lc.BeginDelete(ctx, rg, zoneName, name, &armprivatedns.VirtualNetworkLinksClientBeginDeleteOptions{IfMatch: nonEmpty(link.ETag)})
	if err != nil {
		cerr := classify(op, id, err)
		if core.IsNotFound(cerr) {
			return core.WriteResult{}, nil
		}
		if statusOf(err) == http.StatusPreconditionFailed {
			// the ETag no longer matches: gone (done) or changed (re-read and retry)
			resp, gerr := lc.Get(ctx, rg, zoneName, name, nil)
			if gerr != nil && core.IsNotFound(classify(op, id, gerr)) {
				return core.WriteResult{}, nil
			}
			if gerr == nil {
				if fresh, ok := vnetLink(core.ParentOf(id), &resp.VirtualNetworkLink); ok {
					*lp = fresh // the next try deletes what is there now, if still ours
				}
			}
		}
		return core.WriteResult{}, cerr
	}
	_, done, token, err := wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval)
	if err != nil && core.IsNotFound(classify(op, id, err)) {
		return core.WriteResult{Changed: true}, nil
	}
	res, err := c.finish(op, id, done, token, err)
	if err == nil {
		c.log.Info().Str("op", op).Str("id", id).Bool("inProgress", res.InProgress).Msg("vnet link deleted")
	}
	return res, err
}

// EnsureZoneGroup gives a private endpoint a DNS zone group covering the
// zones. Nothing is written when the endpoint's zone groups already cover
// every zone. Otherwise the missing zones are added to the group named
// spec.Name (default "default") if it exists, else to the endpoint's only
// group if it has exactly one, else to a new group of that name; existing
// zone configs are kept. Zone groups carry no tags, so ownership cannot be
// recorded: the autopilot only creates or extends zone groups, never deletes
// them.
//
// Transient failures are retried inside the call (see RetryOptions), each
// try reading afresh what the write depends on.
func (c *Client) EnsureZoneGroup(ctx context.Context, spec core.ZoneGroupSpec) (core.WriteResult, error) {
	return again(ctx, c, func() (core.WriteResult, error) { return c.ensureZoneGroup(ctx, spec) })
}

// ensureZoneGroup is EnsureZoneGroup without the retry.
func (c *Client) ensureZoneGroup(ctx context.Context, spec core.ZoneGroupSpec) (core.WriteResult, error) {
	const op = "ensure zone group"
	r, err := c.resolve(op, spec.EndpointID, core.TypePrivateEndpoint)
	if err != nil {
		return core.WriteResult{}, err
	}
	if len(spec.ZoneIDs) == 0 {
		return core.WriteResult{}, refuse(op, spec.EndpointID, CodeInvalidSpec, "zone group spec names no zones")
	}
	for _, z := range spec.ZoneIDs {
		if _, err := c.resolve(op, z, core.TypePrivateDNSZone); err != nil {
			return core.WriteResult{}, err
		}
	}
	groupName := spec.Name
	if groupName == "" {
		groupName = DefaultZoneGroupName
	}
	rg, peName := r.id.ResourceGroupName, r.id.Name
	zc := r.f.network.NewPrivateDNSZoneGroupsClient()

	var groups []*armnetwork.PrivateDNSZoneGroup
	pager := zc.NewListPager(peName, rg, nil) // arguments swapped in the SDK
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return core.WriteResult{}, classify("list zone groups", spec.EndpointID, err)
		}
		for _, g := range page.Value {
			if g != nil {
				groups = append(groups, g)
			}
		}
	}
	var covered []string
	for _, g := range groups {
		zg, _ := zoneGroup(g)
		covered = append(covered, zg.ZoneIDs...)
	}
	var missing []string
	for _, z := range spec.ZoneIDs {
		if !containsID(covered, z) && !containsID(missing, z) {
			missing = append(missing, z)
		}
	}
	if len(missing) == 0 {
		return core.WriteResult{}, nil
	}

	var target *armnetwork.PrivateDNSZoneGroup
	for _, g := range groups {
		if strings.EqualFold(nameOr(g.Name, str(g.ID)), groupName) {
			target = g
		}
	}
	if target == nil && len(groups) == 1 {
		target = groups[0]
	}
	var configs []*armnetwork.PrivateDNSZoneConfig
	used := map[string]bool{}
	if target != nil {
		groupName = nameOr(target.Name, str(target.ID))
		if target.Properties != nil {
			for _, cfg := range target.Properties.PrivateDNSZoneConfigs {
				if cfg == nil || cfg.Properties == nil || str(cfg.Properties.PrivateDNSZoneID) == "" {
					continue
				}
				// send back only what is writable (record sets are read-only)
				configs = append(configs, &armnetwork.PrivateDNSZoneConfig{
					Name:       cfg.Name,
					Properties: &armnetwork.PrivateDNSZonePropertiesFormat{PrivateDNSZoneID: cfg.Properties.PrivateDNSZoneID},
				})
				used[strings.ToLower(str(cfg.Name))] = true
			}
		}
	}
	for _, z := range missing {
		n := configName(core.NameOf(z))
		for i := 2; used[strings.ToLower(n)]; i++ {
			n = fmt.Sprintf("%s-%d", configName(core.NameOf(z)), i)
		}
		used[strings.ToLower(n)] = true
		configs = append(configs, &armnetwork.PrivateDNSZoneConfig{
			Name:       to.Ptr(n),
			Properties: &armnetwork.PrivateDNSZonePropertiesFormat{PrivateDNSZoneID: to.Ptr(z)},
		})
	}
	groupID := strings.TrimRight(spec.EndpointID, "/") + "/privateDnsZoneGroups/" + groupName
	p, err := zc.BeginCreateOrUpdate(ctx, rg, peName, groupName, armnetwork.PrivateDNSZoneGroup{
		Name:       to.Ptr(groupName),
		Properties: &armnetwork.PrivateDNSZoneGroupPropertiesFormat{PrivateDNSZoneConfigs: configs},
	}, nil)
	if err != nil {
		return core.WriteResult{}, classify(op, groupID, err)
	}
	_, done, token, err := wait(ctx, p, c.cfg.LROWait, c.cfg.PollInterval)
	res, err := c.finish(op, groupID, done, token, err)
	if err == nil {
		c.log.Info().Str("op", op).Str("id", groupID).Strs("added", missing).Bool("inProgress", res.InProgress).Msg("zone group written")
	}
	return res, err
}

// configName derives a zone config name from a zone name:
// privatelink.azurehealthcareapis.com -> privatelink-azurehealthcareapis-com.
func configName(zone string) string {
	n := invalidNameChars.ReplaceAllString(strings.ReplaceAll(zone, ".", "-"), "-")
	if len(n) > 80 {
		n = n[:80]
	}
	if n == "" {
		return "zone"
	}
	return n
}

func containsID(list []string, id string) bool {
	for _, x := range list {
		if core.SameID(x, id) {
			return true
		}
	}
	return false
}
